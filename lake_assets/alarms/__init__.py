"""What the platform tells its alarms: failed runs, failed sensor and schedule ticks, and SLOs
burning their budget, counted as metrics (resources/metrics.py) that terraform/alarms.tf
watches and sends to the alert topic."""
