"""Bi-temporal history (SCD Type 2) of snapshot sources: what was true on a date, and what the
platform believed about it at a given time."""
