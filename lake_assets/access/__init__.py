"""Attribute-based access control (issue 14): YAML policies, one pure engine that answers every
access question with an explained decision, an audit trail that replays, masked views per
subject profile, and restrictions that follow column lineage into derived tables.

`model` holds the shapes every part speaks (Subject, Resource, Context, Decision).
`policies` the YAML model of config/access/*.yaml (profiles, policies, exceptions, safe
transformations), `rules` a policy compiled for evaluation and the index that finds the rules a
question can match, `engine` the PolicySet: load_policy_set, decide.
`attributes` builds a dataset's Resource from what the lake records (zone, owner, the catalog's
classifications, column lineage as origins), `safe` declares the transformations that relax a
restriction, `tokens` the keyed HMAC `lake_token(col)` gold SQL may call.
Masked views: `views` renders a Decision as Trino SQL, `local_views` runs views in DuckDB,
`view_plan` decides every profile's views and finds leaks by running them, `service` wires them
to the lake (Glue on aws: resources/aws/glue_views.py); `assets`, `sensors`, `query` (`lake query`).
"""
