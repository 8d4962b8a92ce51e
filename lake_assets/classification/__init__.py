"""Column classification (issue 12): each curated column's semantic type and sensitivity, with
a confidence and the evidence behind it, written back to the catalog and kept current.

- model.py: a classification (ranked candidates, confidence, evidence, who decided).
- formats.py: one pure detector per value format (email, IBAN, phone, MyKad, card, ...).
- signals.py: a column's profile on a deterministic sample (cardinality, entropy, formats).
- names.py: what a column's name suggests, English and Malay abbreviations.
- fusion.py: values, name, neighbours and dataset fused into ranked candidates.
- policy.py: config/classification.yaml (sensitivities, review threshold, drift thresholds).
- drift.py: a new partition's profile against the column's baseline.
- classifier.py: sample, profile and classify a table (the entry point).
- evaluation.py: a seeded, labelled dataset with misleading names, and its scores.
- adapter.py: the classifier functions the service takes (the core's, or a test's).
- service.py: a published partition's new and drifted columns classified, merged under
  operator decisions, written back (resources/classification_store.py) and alerted on.
- assets.py, sensors.py, cli.py, definitions.py: the Dagster and `lake` wiring.
"""
