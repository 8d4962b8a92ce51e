"""Restrictions follow lineage (issue 14): the access Resource of a derived dataset carries each
column's origins, recursively, from the derived tables' declarations, with the sensitivity the
classification store holds; only the declared safe transformations relax. The seed's scenario
runs through gold SQL tables declared here (a tables mapping, like the project's own)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from lake_assets.access.attributes import resource_of
from lake_assets.access.audit import audit_entry, replay
from lake_assets.access.engine import load_policy_set
from lake_assets.access.model import Column, Context, Resource
from lake_assets.access.tokens import (
    MissingTokenKey,
    register_lake_token,
    token,
    token_key,
    token_key_source,
)
from lake_assets.classification.classifier import classify_table
from lake_assets.classification.policy import load_policy
from lake_assets.classification.service import classified_columns
from lake_assets.demo.demo_data import customers_snapshot
from lake_assets.gold.derived import derived_table, output_contract
from lake_assets.gold.lineage import column_lineage
from lake_assets.gold.tables import (
    GOLD_TABLES,
    SILVER_CUSTOMER,
    GoldColumn,
    GoldTable,
    MinGroup,
)
from lake_assets.ingestion.curated_columns import column_name
from lake_assets.layers.model import LayerInput
from lake_assets.settings import REPO_ROOT
from resources.catalog import PublishedPartition, SQLiteCatalog
from resources.classification_store import ColumnRecord, SQLiteClassificationStore

NATIONAL_ID = "silver_customer.national_id"
POLICIES = REPO_ROOT / "config" / "access"


def gold(name, sql, inputs, folder, min_group=None, **columns) -> GoldTable:
    (folder / f"{name}.sql").write_text(sql)
    declared = {c: GoldColumn(kind) for c, kind in columns.items()}
    return GoldTable(name, inputs, (next(iter(columns)),), declared, name, min_group, folder)


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict[str, GoldTable]:
    folder = tmp_path_factory.mktemp("gold_sql")
    ids = gold(
        "customer_ids",
        "SELECT customer_sk, sha2(national_id, 256) AS hashed_national_id,\n"
        "  lake_token(national_id) AS national_id_token,\n"
        "  md5(national_id) AS md5_id, sha1(national_id) AS sha1_id,\n"
        "  xxhash64(national_id) AS xx_id, concat(lake_token(national_id), national_id) AS leak\n"
        "FROM silver_customer",
        (SILVER_CUSTOMER,),
        folder,
        customer_sk="string",
        hashed_national_id="string",
        national_id_token="string",
        md5_id="string",
        sha1_id="string",
        xx_id="integer",
        leak="string",
    )
    # The second hop: a gold table over the first, keeping a prefix of the hash.
    prefixes = gold(
        "id_prefixes",
        "SELECT customer_sk, substr(hashed_national_id, 1, 8) AS id_prefix,\n"
        "  national_id_token AS token FROM gold_customer_ids",
        (LayerInput("gold_customer_ids", ("gold", "customer_ids")),),
        folder,
        customer_sk="string",
        id_prefix="string",
        token="string",
    )
    by_segment = gold(
        "ids_by_segment",
        "SELECT segment, count(DISTINCT customer_id) AS customers,\n"
        "  count(national_id) AS with_id, max(national_id) AS largest_id\n"
        "FROM silver_customer GROUP BY segment",
        (SILVER_CUSTOMER,),
        folder,
        min_group=MinGroup("customers", 5),
        segment="string",
        customers="integer",
        with_id="integer",
        largest_id="string",
    )
    return {t.name: t for t in (ids, prefixes, by_segment)}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """A catalog that has published the demo's customers and a store holding what the lake's
    classifier makes of them (national_id: mykad, pii)."""
    root = tmp_path_factory.mktemp("lake")
    rows = customers_snapshot(date(2026, 3, 2), 0, count=30)
    sample = pa.Table.from_pylist(rows)
    catalog = SQLiteCatalog(root / "catalog.sqlite")
    columns = {c: "string" for c in sample.column_names}
    catalog.publish(
        PublishedPartition(
            "customers", "2026-03-02", "curated/customers/x/", "r1", "t", 30, "1", columns
        )  # fmt: skip
    )
    store = SQLiteClassificationStore(root / "classification.sqlite")
    labels = classify_table("customers", sample, ("2026-03-02",) * 2, load_policy())
    store.write("customers", [ColumnRecord("customers", c.column, c) for c in labels])
    return catalog, store


def resource(lake, dataset, columns=None, tables=None) -> Resource:
    catalog, store = lake
    kwargs = {"gold_tables": tables} if tables else {}
    return resource_of(dataset, columns, catalog=catalog, classifications=store, **kwargs)


def chain(column: Column) -> list[tuple[str, str, str | None]]:
    """The first origin at each hop: (dataset.column, transformation, safe)."""
    hops = []
    while column.origins:
        origin = column.origins[0]
        column = origin.column
        hops.append((f"{origin.dataset}.{column.name}", origin.transformation, origin.safe))
    return hops


def test_the_demo_master_carries_a_national_id_the_classifier_labels_mykad(lake):
    customers = resource(lake, "customers", ["national_id", "customer_id"])
    assert customers.attributes == {
        "dataset": "customers",
        "owner": "team:customer-data",
        "zone": "curated",
    }
    national_id = customers.columns[0]
    assert national_id.attributes["semantic_type"] == "mykad"
    assert national_id.attributes["sensitivity"] == "pii"
    assert national_id.origins == ()


def test_sha2_of_national_id_inherits_its_restriction_and_lake_token_is_relaxed(lake, tables):
    ids = resource(lake, "gold_customer_ids", tables=tables)
    assert ids.attributes["zone"] == "gold"
    by_name = {c.name: c for c in ids.columns}
    hashed = by_name["hashed_national_id"]
    assert chain(hashed) == [
        (NATIONAL_ID, "TRANSFORMATION", None),
        ("customers.national_id", "TRANSFORMATION", None),
    ]
    # Nobody classified the gold column: its derivation does, as strictly as its source.
    assert hashed.attributes == {
        "sensitivity": "pii",
        "semantic_type": "derived",
        "classified_by": "lineage",
    }
    # Unkeyed hashes are enumerable: none of them is safe; one path in the clear leaks too.
    for unsafe in ("md5_id", "sha1_id", "xx_id", "leak"):
        assert [o.safe for o in by_name[unsafe].origins] == [None], unsafe
        assert by_name[unsafe].attributes["sensitivity"] == "pii", unsafe
    token = by_name["national_id_token"]
    assert chain(token)[0] == (NATIONAL_ID, "TRANSFORMATION", "hmac")
    assert token.attributes == {
        "sensitivity": "internal",
        "semantic_type": "token",
        "classified_by": "lineage",
    }


def test_a_derived_column_sent_to_review_is_denied_not_labelled_by_its_derivation(
    lake, tables, tmp_path
):
    """`lake classify` on a gold table put its token in review (ADR-0174): no sensitivity, so
    denied, though its derivation alone would make it internal."""
    catalog, store = lake
    reviewed = SQLiteClassificationStore(tmp_path / "classification.sqlite")
    reviewed.write("customers", list(store.columns("customers").values()))
    [token] = classify_table(
        "gold_customer_ids", pa.table({"national_id_token": ["a1"] * 3}), ("2026-03-02",) * 2,
        load_policy(),
    )  # fmt: skip
    held = replace(token, semantic_type=None, sensitivity=None, reason="automation would ...")
    reviewed.write("gold_customer_ids", [ColumnRecord("gold_customer_ids", token.column, held)])
    ids = resource_of("gold_customer_ids", None, catalog=catalog, classifications=reviewed,
                      gold_tables=tables)  # fmt: skip
    by_name = {c.name: c for c in ids.columns}
    assert by_name["national_id_token"].attributes == {"classified_by": "classifier"}
    assert by_name["hashed_national_id"].attributes["classified_by"] == "lineage"


def test_a_two_hop_derivation_is_a_chain_of_origins(lake, tables):
    prefixes = {c.name: c for c in resource(lake, "gold_id_prefixes", tables=tables).columns}
    assert chain(prefixes["id_prefix"]) == [
        ("gold_customer_ids.hashed_national_id", "TRANSFORMATION", None),
        (NATIONAL_ID, "TRANSFORMATION", None),
        ("customers.national_id", "TRANSFORMATION", None),
    ]
    assert prefixes["id_prefix"].attributes["sensitivity"] == "pii"
    # A copy of the token is the token: relaxed one hop down, and stays relaxed.
    assert chain(prefixes["token"])[:2] == [
        ("gold_customer_ids.national_id_token", "IDENTITY", None),
        (NATIONAL_ID, "TRANSFORMATION", "hmac"),
    ]
    assert prefixes["token"].attributes["sensitivity"] == "internal"


def test_an_aggregate_is_safe_only_counted_or_summed_over_the_declared_minimum_group(lake, tables):
    table = tables["ids_by_segment"]
    columns = {c.name: c for c in resource(lake, table.dataset, tables=tables).columns}
    assert [o.safe for o in columns["with_id"].origins] == ["aggregate>=5"]
    assert columns["with_id"].attributes["sensitivity"] == "internal"
    assert [o.safe for o in columns["largest_id"].origins] == [None]  # max returns one ID
    assert columns["largest_id"].attributes["sensitivity"] == "pii"
    assert [o.safe for o in columns["segment"].origins] == [None]
    # Enforced on the output: a smaller group holds the build.
    rule = next(r for r in output_contract(table).rules if r.name == "customers_at_least_5")
    assert (rule.severity, rule.range.column, rule.range.min) == ("error", "customers", 5)
    # Without a declared minimum group, the same count is not safe.
    plain = resource(
        lake, table.dataset, tables={**tables, table.name: replace(table, min_group=None)}
    )
    assert [o.safe for o in plain.columns[2].origins] == [None]
    with pytest.raises(ValueError, match="below the floor"):
        replace(table, min_group=MinGroup("customers", 2))


def test_an_aggregate_that_picks_its_rows_is_not_safe(lake, tmp_path):
    """A group of k holds k rows, but a sum over a CASE, IF, FILTER or window, or over a literal
    (x * (id - 7) / (id - 7) leaves customer 7 out, and the difference is theirs), adds up the
    rows it picked: one customer's national ID comes out of a "safe" aggregate. Only columns,
    DISTINCT, casts and arithmetic between columns keep it an aggregate of the group."""
    picked = {
        "one_id": "sum(CASE WHEN customer_id = 'C00001' THEN national_id END)",
        "if_id": "sum(IF(customer_id = 'C00001', national_id, 0))",
        "filtered_id": "sum(national_id) FILTER (WHERE customer_id = 'C00001')",
        "window_id": "sum(national_id) OVER (PARTITION BY customer_id)",
        "all_but_one": "sum(national_id * (customer_id - 1) / (customer_id - 1))",
        "through_cte": "sum(picked)",
    }
    kept = {
        "ids": "sum(national_id)",
        "distinct_ids": "count(DISTINCT national_id)",
        "scaled": "avg(CAST(national_id AS DOUBLE) * risk_score)",
    }
    sql = (
        "WITH c AS (SELECT segment, customer_id, national_id, risk_score,\n"
        "  CASE WHEN customer_id = 'C00001' THEN national_id END AS picked FROM silver_customer)\n"
        "SELECT segment, count(DISTINCT customer_id) AS customers, "
        + ", ".join(f"{e} AS {n}" for n, e in {**picked, **kept}.items())
        + "\nFROM c GROUP BY segment"
    )
    table = gold("id_sums", sql, (SILVER_CUSTOMER,), tmp_path, MinGroup("customers", 5),
                 segment="string", customers="integer",
                 **dict.fromkeys({**picked, **kept}, "integer"))  # fmt: skip
    asked = resource(lake, table.dataset, tables={table.name: table})
    columns = {c.name: c for c in asked.columns}
    for name in picked:
        ids = [o for o in columns[name].origins if o.column.name == "national_id"]
        assert [o.safe for o in ids] == [None], name
        assert columns[name].attributes["sensitivity"] == "pii", name
    for name in kept:
        assert {o.safe for o in columns[name].origins} == {"aggregate>=5"}, name
        assert columns[name].attributes["sensitivity"] == "internal", name
    policies = load_policy_set(POLICIES)
    context = Context(datetime(2026, 12, 2, 10, tzinfo=UTC), "prod")
    decided = policies.decide(policies.profile("marketing_analyst"), asked, context)
    assert decided.columns["one_id"].treatment.kind == "deny"
    assert decided.columns["one_id"].path[-1] == "customers.national_id"


def test_silver_history_and_the_mart_carry_their_declared_lineage(lake):
    silver = resource(lake, "silver_customer", ["national_id", "city"])
    assert silver.attributes["zone"] == "silver"
    assert chain(silver.columns[0]) == [("customers.national_id", "TRANSFORMATION", None)]
    # The CRM is not classified in this lake: a column from it is not classified (denies).
    assert "sensitivity" not in silver.columns[1].attributes
    history = resource(lake, "customers_history", ["national_id", "valid_from", "recorded_by"])
    assert history.attributes == {
        "dataset": "customers_history",
        "owner": "team:customer-data",
        "zone": "history",
    }
    national_id, valid_from, recorded_by = history.columns
    assert chain(national_id) == [("customers.national_id", "IDENTITY", None)]
    assert national_id.attributes["sensitivity"] == "pii"
    assert chain(valid_from) == [("customers.snapshot_date", "TRANSFORMATION", None)]
    assert recorded_by.origins == () and recorded_by.attributes["sensitivity"] == "internal"
    mart = resource(lake, "spend_by_customer", ["spend", "segment"])
    assert mart.attributes["zone"] == "mart"
    assert chain(mart.columns[0]) == [("card_transactions.amount", "AGGREGATION", None)]
    assert chain(mart.columns[1]) == [("customers.segment", "IDENTITY", None)]


def test_an_operator_decision_wins_over_automation(lake, tmp_path):
    catalog, store = lake
    automated = store.columns("customers")["national_id"].automated
    decided = replace(automated, semantic_type="phone", sensitivity="confidential",
                      decided_by="operator", reason="a ticket")  # fmt: skip
    own = SQLiteClassificationStore(tmp_path / "c.sqlite")
    own.write("customers", [ColumnRecord("customers", "national_id", automated, decided)])
    column = resource((catalog, own), "customers", ["national_id"]).columns[0]
    assert column.attributes["sensitivity"] == "confidential"
    assert column.attributes["classified_by"] == "operator"


def test_a_payload_field_curated_with_a_leading_underscore_is_classified_not_the_platforms(lake):
    """A payload's `#nric` is curated as `_nric`. The classifier skips the lake's own columns by
    name, and access reads only those the lake adds to every row (lineage, partition) as its
    own: any other column is classified, and denied until it is, `_raw_record` (a quarantined
    row's payload) too."""
    assert column_name("#nric") == "_nric"
    written = ["_nric", "_source_file", "_ingested_at", "event_date", "_raw_record", "email"]
    assert classified_columns(written) == ["_nric", "email"]
    asked = resource(lake, "customers", ["_nric", "_raw_record", "_ingested_at", "event_date"])
    nric, raw, ingested, partition = asked.columns
    assert "sensitivity" not in nric.attributes and "sensitivity" not in raw.attributes
    assert (
        ingested.attributes["semantic_type"] == partition.attributes["semantic_type"] == "platform"
    )
    policies = load_policy_set(POLICIES)
    context = Context(datetime(2026, 12, 2, 10, tzinfo=UTC), "prod")
    decided = policies.decide(policies.profile("marketing_analyst"), asked, context)
    assert {name: str(c.treatment) for name, c in decided.columns.items()} == {
        "_nric": "deny",
        "_raw_record": "deny",
        "_ingested_at": "clear",
        "event_date": "clear",
    }


def test_lake_token_is_a_keyed_hmac_the_gold_job_registers(spark, tables, monkeypatch):
    table = tables["customer_ids"]
    plan = derived_table(table).plan_extra(None)
    assert plan["token_key"] == {"env": "LAKE_TOKEN_KEY"}  # where the key is, never the key
    monkeypatch.delenv("LAKE_TOKEN_KEY", raising=False)
    session = spark.newSession()
    with pytest.raises(MissingTokenKey, match="LAKE_TOKEN_KEY"):
        register_lake_token(session, plan["token_key"])
    monkeypatch.setenv("LAKE_TOKEN_KEY", "k1")
    register_lake_token(session, plan["token_key"])
    row = session.sql(
        "SELECT lake_token('850101-14-5678') AS t, sha2('850101-14-5678', 256) AS h"
    ).first()
    assert row["t"] == token("850101-14-5678", b"k1") != token("850101-14-5678", b"k2")
    assert row["t"] != row["h"]


def test_the_engine_denies_the_hash_naming_its_source_and_reads_the_token(lake, tables, tmp_path):
    # The shipped policies, and one more file letting fraud read this test's gold tables.
    for path in POLICIES.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "test_gold.yaml").write_text(
        "policies:\n  - id: fraud-reads-test-gold\n    effect: allow\n"
        "    resource: {dataset: [gold_customer_ids, gold_id_prefixes]}\n"
        "    subject: {team: fraud}\n"
    )
    policies = load_policy_set(tmp_path)
    context = Context(datetime(2026, 12, 2, 10, tzinfo=UTC), "prod")
    for dataset, column in (("gold_customer_ids", "hashed_national_id"),
                            ("gold_id_prefixes", "id_prefix")):  # fmt: skip
        asked = resource(lake, dataset, [column, "customer_sk"], tables)
        decided = policies.decide(policies.profile("fraud_analyst"), asked, context)
        hashed = decided.columns[column]
        assert hashed.treatment.kind == "deny" and hashed.decided_by == "national-id-never"
        assert hashed.path[0] == f"{dataset}.{column}"
        assert hashed.path[-2:] == (NATIONAL_ID, "customers.national_id")
    asked = resource(lake, "gold_customer_ids", ["national_id_token"], tables)
    decided = policies.decide(policies.profile("fraud_analyst"), asked, context)
    assert decided.columns["national_id_token"].treatment.kind == "clear"


def test_an_origin_is_decided_with_its_own_datasets_zone(lake, tmp_path):
    """A grant by zone covers a derived column's origin in a zone it names: silver_customer's
    segment copies the curated master's, so granting curated and silver reads it, and granting
    silver alone denies it, naming the curated origin. The trail keeps the origin's attributes,
    so its replay decides the same."""
    asked = resource(lake, "silver_customer", ["segment"])
    [origin] = asked.columns[0].origins
    assert origin.dataset_attributes == {
        "dataset": "customers",
        "owner": "team:customer-data",
        "zone": "curated",
    }
    context = Context(datetime(2026, 12, 2, 10, tzinfo=UTC))

    def granting(zones: str):
        (tmp_path / "zones.yaml").write_text(
            "profiles:\n  analyst: {role: analyst}\npolicies:\n  - id: analysts-read-zones\n"
            f"    effect: allow\n    resource: {{zone: {zones}}}\n    subject: {{role: analyst}}\n"
        )
        policies = load_policy_set(tmp_path)
        return policies, policies.profile("analyst")

    policies, analyst = granting("[curated, silver]")
    granted = policies.decide(analyst, asked, context)
    assert str(granted.columns["segment"].treatment) == "clear"
    assert replay([audit_entry(analyst, asked, context, granted)], policies) == []
    policies, analyst = granting("[silver]")
    segment = policies.decide(analyst, asked, context).columns["segment"]
    assert segment.treatment.kind == "deny"
    assert segment.path == ("silver_customer.segment", "customers.segment")


def test_marketing_reads_its_regions_card_rows_only_in_every_table_holding_them():
    """marketing-sees-its-region filters gold_fact_card_spend by merchant country. Row filters
    do not follow lineage, so a table the fact copies its rows from (its merchant_country is
    card_transactions.merchant__country) carries the same filter, or marketing reads every
    region there."""
    copied = column_lineage(GOLD_TABLES["fact_card_spend"], {})["merchant_country"]
    sources = [i["input"] for i in copied if i["transformation"] == "IDENTITY"]
    assert sources == ["card_transactions.merchant__country"]
    policies = load_policy_set(POLICIES)
    marketing = policies.profile("marketing_analyst")
    context = Context(datetime(2026, 12, 2, 10, tzinfo=UTC), "prod")
    for held in ["gold_fact_card_spend.merchant_country", *sources]:
        dataset, column = held.split(".")
        country = Column(column, {"sensitivity": "internal", "semantic_type": "place"})
        decided = policies.decide(marketing, Resource(dataset, {}, (country,)), context)
        assert decided.outcome == "deny" or decided.row_filter == f"({column} = 'MY')", held


def test_on_aws_the_token_key_is_a_secrets_manager_secret(aws_endpoint, monkeypatch):
    import boto3

    secrets = boto3.client("secretsmanager", endpoint_url=aws_endpoint, region_name="eu-west-1")
    secrets.create_secret(Name="lakehouse/token-key")  # as terraform/secrets.tf: no value yet
    monkeypatch.setenv("LAKE_TOKEN_SECRET_ID", "lakehouse/token-key")
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)  # the job's boto3 default endpoint
    source = token_key_source()
    assert source == {"aws_secret_id": "lakehouse/token-key"}
    with pytest.raises(MissingTokenKey, match="lakehouse/token-key has no value"):
        token_key(source)
    secrets.put_secret_value(SecretId="lakehouse/token-key", SecretString="k-aws")
    assert token_key(source) == b"k-aws"
