"""SLOs with error budgets (issue 17): declarations bounded by each dataset's importance tier
(config.py), SLIs from the records the lake already keeps (records.py, sli.py, sli_*.py,
slices.py), the budget engine (engine.py), the alerting tiers (alerting.py), the tables and the
dashboard it publishes (tables.py, dashboard.py, charts.py, site.py), one evaluation
(service.py) run by the `slo` job (assets.py) and `lake slo` (cli.py). model.py holds the
shapes every part shares."""
