"""Drives a temporary lake the way an operator would: deliver, profile, promote, read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml
from dagster import DagsterInstance

from lake_assets.cli.runs import materialize_partitions, step_failures
from lake_assets.ingestion.asset_keys import curated_key_of, registry_key_of
from lake_assets.ingestion.intake import land_payload
from lake_assets.settings import DEFAULT_PIPELINES_DIR, load_settings
from lake_assets.tables.reader import read_published
from resources import build_resources

# What Spark's JVM and Dagster print on their own when a command starts them.
NOISE = (
    "Using incubator modules",  # the JDK
    "loopback address",  # Spark's Utils, and its advice to set SPARK_LOCAL_IP
    "SPARK_LOCAL_IP",
    "native-hadoop",  # Hadoop's NativeCodeLoader
    "log4j",  # log4j's set-up lines
    "setLogLevel",
    "Telemetry",  # Dagster's banner on a home without dagster.yaml
    "Welcome to Dagster",
    "dagster.yaml",
)


def card(number: int, day: str, renamed: bool | str = False, amount=12.5) -> dict:
    """A card transaction; `renamed` sends its time as `txn_date`, and `renamed="keeps old key"`
    also sends `"transaction_date": null`, as a source mid-migration does."""
    old_key = {"transaction_date": None} if renamed == "keeps old key" else {}
    return {
        "transaction_id": f"TXN-{number:05d}",
        "customer_id": f"C{number % 7:03d}",
        "amount": amount,
        "merchant": {"name": "Grab", "country": "MY"},
        **old_key,
        ("txn_date" if renamed else "transaction_date"): f"{day}T{number % 24:02d}:15:00Z",
    }


def sources_file(path: Path, extra: str = "") -> Path:
    """A sources file (LAKE_SOURCES_FILE) declaring the lake's generated sources and, in the
    same YAML, `extra` source declarations indented under `sources:`."""
    declared = {}
    for generated in sorted(DEFAULT_PIPELINES_DIR.glob("*/source.yaml")):
        declared |= yaml.safe_load(generated.read_text())["sources"]
    path.write_text(yaml.safe_dump({"sources": declared}, sort_keys=False) + extra.lstrip("\n"))
    return path


class Lake:
    """A temporary lake with the project's sources, driven like an operator would."""

    def __init__(
        self,
        root: Path,
        contracts: Path | None = None,
        instance: DagsterInstance | None = None,
        sources: Path | None = None,
    ):
        self.root = root
        if contracts is None:  # the ingestion engine alone; contracts have their own tests
            contracts = root.parent / "no-contracts"
            contracts.mkdir(parents=True, exist_ok=True)
        # The environment that opens this lake: a webserver started with it sees the same lake.
        start = os.environ.get("LAKE_PARTITIONS_START")  # the tests' calendar (conftest.py)
        self.env = {
            "LAKE_ROOT": str(root),
            "LAKE_CONTRACTS_DIR": str(contracts),
            **({"LAKE_PARTITIONS_START": start} if start else {}),
            **({"LAKE_SOURCES_FILE": str(sources)} if sources else {}),
        }
        self.settings = load_settings(self.env)
        self.resources = build_resources(self.settings)
        self.instance = instance or DagsterInstance.ephemeral()

    def __getattr__(self, name):
        try:
            return self.resources[name]
        except KeyError:
            raise AttributeError(name) from None

    def deliver(self, source: str, day: str, name: str, content: str | bytes) -> None:
        path = self.root.parent / "incoming" / day / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        land_payload(
            self.storage,
            self.settings.source(source),
            path,
            day,
            registry=self.registry,
            notifier=self.notifier,
        )

    def written_by_aws(self, key: str, body: bytes) -> None:
        """An object an AWS service writes into the lake (a Data Export's delivery): not a call
        of the lake's code."""
        self.storage.put_bytes(key, body)

    def deliver_cards(self, day: str, numbers, renamed=False, name=None, bad_amounts=()) -> None:
        lines = "".join(
            json.dumps(card(n, day, renamed, amount="N/A" if n in bad_amounts else 12.5)) + "\n"
            for n in numbers
        )
        self.deliver("card_transactions", day, name or f"cards-{day}-{numbers[0]}.json", lines)

    def profile(self, source: str, day: str):
        return materialize_partitions(
            self.settings,
            [registry_key_of(source)],
            day,
            resources=self.resources,
            instance=self.instance,
        )

    def promote(self, source: str, first: str, last: str | None = None):
        return materialize_partitions(
            self.settings,
            [curated_key_of(source)],
            first,
            last,
            resources=self.resources,
            instance=self.instance,
        )

    def materialize(self, keys, first: str, last: str | None = None):
        return materialize_partitions(
            self.settings, keys, first, last, resources=self.resources, instance=self.instance
        )

    def rows(self, spark, source: str, partitions=None):
        return read_published(spark, self.catalog, self.storage, source, partitions)


def write_card_contract(folder: Path, rules: str = "") -> Path:
    """A card_transactions contract in `folder` (created): transaction_id required, amount a
    double, and `rules` (YAML list items under `rules:`) if any. Returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    body = (
        "dataset: card_transactions\nowner: payments-data\nversion: 1\nschema:\n"
        "  - {name: transaction_id, type: string, nullable: false}\n"
        "  - {name: amount, type: double}\n"
    )
    (folder / "card_transactions.yaml").write_text(body + (f"rules:\n{rules}" if rules else ""))
    return folder


def failure_message(result) -> str:
    return "\n".join(step_failures(result))
