"""The generated bill's lines beyond EMR (cur_data.py): S3 storage per bucket, class and day
with the storage drivers the catalog gives, Athena per workgroup and hour with the query
history, and DynamoDB and Glue resources attributed by their tags (one untagged, one tagged
`user_Team`, one with a team that does not exist). Pure: numpy and pyarrow."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lake_assets.cost.cur_lines import (
    ACCOUNT,
    ATHENA_NANOS_PER_MB,
    CURATED,
    DATASETS,
    GIB,
    LOGS,
    PLATFORM_TAGS,
    RAW,
    REGION,
    S3_CLASSES,
    TEAMS,
    WORKGROUP_ARN,
    Bill,
    drivers_table,
    hour_labels,
    tag_maps,
    team_of_tags,
)
from lake_assets.cost.model import UNALLOCATED

DYNAMODB_TABLES = (  # table, tags (None: untagged)
    ("lake-registry", PLATFORM_TAGS),
    ("lake-lineage", PLATFORM_TAGS),
    (
        "payments-ledger-cache",
        {
            "user_team": "payments-data",
            "user_pipeline": "card_transactions",
            "user_environment": "prod",
        },
    ),
    ("scratch-orders", None),
    (
        "risk-limits",
        {"user_Team": "risk-analytics", "user_pipeline": "credit_risk", "user_environment": "prod"},
    ),
)
GLUE_RESOURCES = (  # resource, tags
    (
        "job/cards-compaction",
        {
            "user_team": "payments-data",
            "user_pipeline": "card_transactions",
            "user_environment": "prod",
        },
    ),
    ("crawler/raw-zone", PLATFORM_TAGS),
    (
        "job/legacy-export",
        {"user_team": "paymnets-data", "user_pipeline": "legacy", "user_environment": "prod"},
    ),
)


def storage_lines(bill: Bill, rng: np.random.Generator, drivers: list[pa.Table]) -> None:
    """Each dataset's GB per bucket and storage class (constant over the month), billed per
    bucket, class and day; the logs bucket holds no dataset and no tags."""
    n, days = len(DATASETS), bill.hours // 24
    team_code = bill.team_codes(pa.array([d[0] for d in DATASETS]))
    for bucket, classes, prefix in (
        (CURATED, (0, 1, 2), "curated/"),
        (RAW, (0, 2), "raw/source="),
        (LOGS, (0,), None),
    ):
        for c in classes:
            usage, measure, price = S3_CLASSES[c]
            gb = rng.integers(10, 5_000, n) if prefix else np.array([800])
            tags = PLATFORM_TAGS if prefix else None
            nanos = bill.daily_storage(bucket, usage, gb.sum(), price, tags)
            if not prefix:
                bill.owe("s3_storage", {UNALLOCATED: float(nanos.sum())})
                continue
            bill.owe_codes(
                "s3_storage", team_code, nanos.sum() * gb / gb.sum(), split_lines=days * n
            )
            rows = pa.array(np.arange(n))
            names = pa.array([d[2] for d in DATASETS])
            drivers.append(
                drivers_table(
                    bill.month,
                    "storage",
                    pc.binary_join_element_wise(prefix, names, "/", ""),
                    bucket,
                    "",
                    pa.array([d[0] for d in DATASETS]).take(rows),
                    pa.array([d[1] for d in DATASETS]).take(rows),
                    names,
                    {measure: gb * float(GIB)},
                    "catalog",
                )
            )


def athena_lines(bill: Bill, rng: np.random.Generator, runs: int, drivers: list[pa.Table]) -> None:
    """Queries per team workgroup (and the untagged `primary`), billed per workgroup and hour."""
    groups = (*sorted({d[0] for d in DATASETS}), "primary")
    queries = max(50, runs // 5)
    group = rng.integers(0, len(groups), queries)
    hour = rng.integers(0, bill.hours, queries)
    mb = rng.integers(10, 50_000, queries)  # Athena bills at least 10 MB a query
    key = group * bill.hours + hour
    per_key = np.bincount(key, mb, len(groups) * bill.hours).astype(np.int64)
    keys = np.flatnonzero(per_key)
    arns = pa.array([WORKGROUP_ARN + g for g in groups])
    tags = [
        tag_maps(1, {**PLATFORM_TAGS, "user_team": g, "user_pipeline": "analytics"})
        for g in groups[:-1]
    ] + [tag_maps(1, {})]
    tagged = pa.concat_arrays(tags)
    kg = pa.array(keys // bill.hours)
    bill.lines(
        "AmazonAthena",
        arns.take(kg),
        "EU-DataScannedInTB",
        keys % bill.hours,
        1,
        per_key[keys] / 1e6,
        per_key[keys] * ATHENA_NANOS_PER_MB,
        tagged.take(kg),
    )
    teams = np.array([*(bill.code(g) for g in groups[:-1]), bill.code(UNALLOCATED)])
    bill.owe_codes("athena", teams[group], mb * ATHENA_NANOS_PER_MB)
    mine = np.flatnonzero(group < len(groups) - 1)
    team_of = pa.array(groups).take(pa.array(group[mine]))
    number = pa.array(mine).cast(pa.string())
    datasets = pa.array([d[2] for d in DATASETS])
    drivers.append(
        drivers_table(
            bill.month,
            "query",
            pc.binary_join_element_wise(f"{bill.seed:04x}-query-", number, ""),
            arns.take(pa.array(group[mine])),
            hour_labels(bill.month).take(pa.array(hour[mine])),
            team_of,
            "",
            datasets.take(pa.array(rng.integers(0, len(DATASETS), len(mine)))),
            {"bytes_scanned": mb[mine] * 1e6},
            "query-history",
        )
    )


def _tagged_daily(bill, rng, category, product, resources, usage) -> None:
    """Resources attributed by their tags, billed per day and usage type."""
    days = np.arange(bill.hours // 24)
    for resource, tags in resources:
        team = team_of_tags(tags)
        for usage_type, unit, price in usage:
            units = rng.integers(10, 2_000, len(days))
            bill.lines(
                product,
                resource,
                usage_type,
                days * 24,
                24,
                units * unit,
                units * price,
                bill.static_tags(len(days), tags),
            )
            bill.owe(category, {team if team in TEAMS else UNALLOCATED: float(units.sum() * price)})


def tagged_lines(bill: Bill, rng: np.random.Generator) -> None:
    """DynamoDB tables and Glue jobs, attributed by their tags."""
    dynamodb = [
        (f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{t}", tags) for t, tags in DYNAMODB_TABLES
    ]
    _tagged_daily(
        bill,
        rng,
        "dynamodb",
        "AmazonDynamoDB",
        dynamodb,
        (("EU-ReadRequestUnits", 100, 28_300), ("EU-WriteRequestUnits", 100, 141_350)),
    )
    glue = [(f"arn:aws:glue:{REGION}:{ACCOUNT}:{r}", tags) for r, tags in GLUE_RESOURCES]
    _tagged_daily(bill, rng, "glue", "AWSGlue", glue, (("EU-ETL-DPU-Hour", 1e-2, 4_400_000),))
