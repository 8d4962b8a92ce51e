"""What the platform tells its alarms: failed runs, failed sensor and schedule ticks, and SLOs
burning their budget, counted as metrics (resources/metrics.py) that terraform/alarms.tf
watches and sends to the alert topic; and what the operator answering them reads.

- model.py: the metrics' names, and failed ticks counted between two looks.
- sensors.py: the two sensors that count failed runs and failed ticks.
- failures.py: failed runs and ticks as the operator reads them (plain records, lines out).
- cli.py: `lake runs failed`, `lake runs reexecute` (from failure) and `lake ticks`, read from
  the Dagster instance (docs/runbooks/alarm-response.md).
"""
