"""File-level lineage: which lake files every run read and wrote, as OpenLineage run events.

`model` holds the records, `graph` walks them (trace backwards, impact forwards), `emitter`
sends them as OpenLineage events and `cli` puts `lake lineage` on the command line. The store
is resources/lineage_store.py.
"""

from lake_assets.lineage.graph import LineageTree, impact, render, supersedes_for, to_json, trace
from lake_assets.lineage.model import LineageRun, partition_address, partition_outputs

__all__ = [
    "LineageRun",
    "LineageTree",
    "impact",
    "partition_address",
    "partition_outputs",
    "render",
    "supersedes_for",
    "to_json",
    "trace",
]
