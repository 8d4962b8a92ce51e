"""The derived layers (silver, gold): tables built from other tables, one step each.

`model` declares a derived table, `gate` decides from its inputs' last attempts whether a
partition may build, `step` runs plan -> Spark job -> output contract -> publish or hold
(Dagster-free), `job` is the Spark side every derived job ends with, and `assets` wraps a
declared table as a partitioned Dagster asset.
"""
