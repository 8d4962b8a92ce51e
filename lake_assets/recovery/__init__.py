"""Disaster recovery: the catalog's pointers written into the lake's bucket, so a replica of the
bucket (terraform/dr.tf) is a lake that can be opened in another region (ADR-0149)."""
