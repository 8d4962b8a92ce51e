"""Masked views (issue 14): every generated statement parsed, executed in DuckDB on tiny Parquet,
and shown not to leak a masked column's clear value through a filter or a join; registered in
Glue on the moto server; the blocking check fails when a view would read a masked column in
clear. Decisions are constructed here, as the policy engine returns them."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import asdict, replace
from datetime import date, timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake_assets.access.local_views import PartitionFiles, masked_connection
from lake_assets.access.model import ColumnDecision, Decision, Treatment
from lake_assets.access.views import (
    ViewError,
    ViewSource,
    query_to_duckdb,
    render_view,
    render_views,
    validate,
)

KEY = "a managed token key, 32 chars"
NATIONAL_ID = "850101145678"
CUSTOMERS = ViewSource(
    "customers",
    "lakehouse_curated",
    {
        "customer_id": "string",
        "national_id": "string",
        "name": "string",
        "card_number": "string",
        "birth_date": "date",
        "balance": "double",
        "region": "string",
        "event_date": "date",
    },
)
PAYMENTS = ViewSource(
    "payments",
    "lakehouse_curated",
    {"payment_id": "integer", "national_id": "string", "amount": "double", "event_date": "date"},
)


def decision(profile: str, dataset: str, treatments: dict, row_filter=None, outcome="allow"):
    columns = {
        name: ColumnDecision(name, Treatment(*spec.split(":", 1)), "policy-x", "test")
        for name, spec in treatments.items()
    }
    return Decision(
        f"d-{profile}-{dataset}", profile, dataset, outcome, columns, "policy-x", "test",
        row_filter=row_filter,
    )  # fmt: skip


FRAUD = [
    decision(
        "fraud_analyst",
        "customers",
        {
            "customer_id": "clear",
            "national_id": "token",
            "name": "null",
            "card_number": "partial:last4",
            "birth_date": "generalise:month",
            "balance": "clear",
            "region": "clear",
            "event_date": "clear",
        },
    ),
    decision(
        "fraud_analyst",
        "payments",
        {"payment_id": "clear", "national_id": "token", "amount": "clear", "event_date": "clear"},
    ),
]
MARKETING = [
    decision(
        "marketing_analyst",
        "customers",
        {
            "customer_id": "clear",
            "national_id": "deny",
            "name": "clear",
            "balance": "generalise:band:1000",
            "region": "clear",
            # card_number, birth_date, event_date: not named, so left out (fail closed)
        },
        row_filter="region = 'north'",
    ),
    decision("marketing_analyst", "payments", {"amount": "clear"}, outcome="deny"),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parquet")
    customers = pa.table(
        {
            "customer_id": ["c1", "c2", "c3"],
            "national_id": [NATIONAL_ID, "900202085555", "770303031111"],
            "name": ["Aminah", "Bala", "Chen"],
            "card_number": ["4111111111111111", "5500005555555559", "123"],
            "birth_date": [date(1985, 1, 17), date(1990, 2, 2), date(1977, 3, 30)],
            "balance": [1234.5, 250.0, 98000.25],
            "region": ["north", "south", "north"],
        }
    )
    payments = pa.table(
        {
            "payment_id": [1, 2, 3],
            "national_id": [NATIONAL_ID, NATIONAL_ID, "770303031111"],
            "amount": [10.0, 20.0, 30.0],
        }
    )
    pq.write_table(customers, folder / "customers.parquet")
    pq.write_table(payments, folder / "payments.parquet")
    return {
        "customers": [PartitionFiles("2026-03-02", (str(folder / "customers.parquet"),))],
        "payments": [PartitionFiles("2026-03-02", (str(folder / "payments.parquet"),))],
    }


def query(files, decisions, sql, key=KEY):
    views = render_views(decisions, {"customers": CUSTOMERS, "payments": PAYMENTS}, token_key=key)
    con = masked_connection(views, [CUSTOMERS, PAYMENTS], files, key)
    return con.execute(query_to_duckdb(sql)).fetchall()


def test_every_treatment_renders_as_valid_trino_and_runs_in_duckdb(files):
    views = render_views(
        FRAUD + MARKETING, {"customers": CUSTOMERS, "payments": PAYMENTS}, token_key=KEY
    )
    # Sorted by (profile, dataset); the denied dataset has no view.
    assert [(v.profile, v.dataset) for v in views] == [
        ("fraud_analyst", "customers"),
        ("fraud_analyst", "payments"),
        ("marketing_analyst", "customers"),
    ]
    assert views[0].name == "customers__fraud_analyst"
    for view in views:  # every statement parses whole as Trino, reading its source only
        assert validate(view).sql(dialect="trino")
    rows = query(
        files,
        FRAUD,
        "SELECT customer_id, national_id, name, card_number, birth_date, balance "
        "FROM customers ORDER BY customer_id",
    )
    c1 = rows[0]
    # The token is the lake's keyed HMAC (as lake_token computes it in the gold tables).
    assert c1[1] == hmac.new(KEY.encode(), NATIONAL_ID.encode(), hashlib.sha256).hexdigest()
    assert c1[0] == "c1" and c1[2] is None
    assert c1[3] == "************1111" and c1[4] == date(1985, 1, 1) and c1[5] == 1234.5
    assert rows[2][3] == "***"  # no longer than what partial shows: masked whole
    marketing = query(files, MARKETING, "SELECT * FROM customers ORDER BY customer_id")
    # Only the north; national_id denied and unnamed columns absent; balance in bands.
    assert marketing == [("c1", "Aminah", 1000.0, "north"), ("c3", "Chen", 98000.0, "north")]


def test_filtering_or_joining_on_a_masked_column_does_not_leak_it(files):
    assert query(files, FRAUD, f"SELECT * FROM customers WHERE national_id = '{NATIONAL_ID}'") == []
    # A join on the token links the customer's payments without revealing the number.
    joined = query(
        files,
        FRAUD,
        "SELECT c.customer_id, p.payment_id, p.national_id FROM customers c "
        "JOIN payments p ON c.national_id = p.national_id ORDER BY p.payment_id",
    )
    assert [(c, p) for c, p, _ in joined] == [("c1", 1), ("c1", 2), ("c3", 3)]
    assert NATIONAL_ID not in {token for _, _, token in joined}
    # A denied column is absent: naming it fails; the filtered-out region cannot be read.
    with pytest.raises(duckdb.BinderException):
        query(files, MARKETING, "SELECT national_id FROM customers")
    assert query(files, MARKETING, "SELECT count(*) FROM customers WHERE region = 'south'") == [
        (0,)
    ]
    # Nothing but the masked tables is reachable: no clear source, no token function, no files.
    views = render_views(FRAUD, {"customers": CUSTOMERS, "payments": PAYMENTS}, token_key=KEY)
    con = masked_connection(views, [CUSTOMERS, PAYMENTS], files, KEY)
    for attempt in (
        'SELECT * FROM "lakehouse_curated"."customers"',
        f"SELECT hmac_sha256(encode('{NATIONAL_ID}'), encode('{KEY}'))",
        f"SELECT * FROM read_parquet('{files['customers'][0].paths[0]}')",
        "SET enable_external_access = true",
        "SELECT getenv('LAKE_TOKEN_KEY')",
    ):
        with pytest.raises(duckdb.Error):
            con.execute(attempt)


def test_without_a_key_a_token_is_withheld_and_a_hostile_row_filter_is_refused():
    view = render_view(FRAUD[0], CUSTOMERS, token_key=None)
    assert view.withheld == (("national_id", "no key may reach this view"),)
    assert 'CAST(NULL AS varchar) AS "national_id"' in view.sql and "hmac" not in view.sql
    for hostile in (
        "1 = 1 UNION SELECT * FROM lakehouse_curated.payments",
        "customer_id IN (SELECT customer_id FROM secret.allowed)",
        "1 = 1; DROP TABLE x",
    ):
        with pytest.raises(ViewError):
            render_view(decision("p", "customers", {"customer_id": "clear"}, hostile), CUSTOMERS)
    # A treatment the column's type cannot take reads as null, and says why; no column, no view.
    banded = render_view(decision("p", "customers", {"name": "generalise:month"}), CUSTOMERS)
    assert banded.withheld == (("name", "cannot generalise a string column by 'month'"),)
    assert banded.sql.startswith('SELECT CAST(NULL AS varchar) AS "name" FROM')
    assert render_view(decision("p", "customers", {"name": "deny"}), CUSTOMERS) is None


def test_the_leak_check_executes_the_views_and_catches_one_that_reads_in_clear(files):
    from dataclasses import replace

    from lake_assets.access.view_plan import ViewPlan, find_leaks

    sources = {"customers": CUSTOMERS, "payments": PAYMENTS}
    decisions = tuple(FRAUD + MARKETING)
    views = render_views(decisions, sources, token_key=KEY)
    assert find_leaks(ViewPlan(decisions, sources, tuple(views), "f"), files, KEY) == []
    # A view whose SQL reads national_id in clear and keeps the denied column: both caught.
    clear_id = '"national_id" AS "national_id"'
    bad = replace(
        views[0],
        sql=re.sub(r"lower\(to_hex\(.*?\)\)\)\) AS \"national_id\"", clear_id, views[0].sql),
    )
    keeps_denied = {**MARKETING[0].columns, "national_id": FRAUD[0].columns["customer_id"]}
    marketing = render_view(replace(MARKETING[0], columns=keeps_denied), CUSTOMERS)
    denied = render_view(replace(FRAUD[1], subject="marketing_analyst"), PAYMENTS, token_key=KEY)
    leaks = find_leaks(
        ViewPlan(decisions, sources, (bad, views[1], marketing, denied), "f"), files, KEY
    )
    assert [str(leak) for leak in leaks] == [
        "fraud_analyst reads customers.national_id: token by policy-x, but all 3 "
        "values shown are clear values",
        "marketing_analyst reads customers.national_id: present, but denied",
        "marketing_analyst reads payments: the dataset is denied",
    ]


# --- lake query, through the real policies (config/access) ---------------------------------------


def customer_rows(first_balance: float = 1234.5) -> pa.Table:
    """The two customers of the published partition, the first with `first_balance`."""
    return pa.table(
        {
            "customer_id": ["c1", "c2"],
            "national_id": [NATIONAL_ID, "900202085555"],
            "email": ["aminah@example.my", "bala@example.my"],
            "date_of_birth": [date(1985, 1, 17), date(1990, 2, 2)],
            "balance": [first_balance, 250.0],
        }
    )


def publish_customers(stores) -> None:
    """Publish `customers` (one partition, every column classified but event_date) in the lake
    of `stores`, as promotion and classification leave it."""
    import io

    from lake_assets.classification.model import ColumnClassification
    from lake_assets.instants import utc_now
    from lake_assets.tables.manifest import write_manifest
    from resources.catalog import PublishedPartition
    from resources.classification_store import ColumnRecord

    location = "curated/customers/run=r1/_zone=published/event_date=2026-03-02/"
    buffer = io.BytesIO()
    pq.write_table(customer_rows(), buffer)
    stores["storage"].put_bytes(location + "part-0.parquet", buffer.getvalue())
    types = {"customer_id": "string", "national_id": "string", "email": "string"}
    types |= {"date_of_birth": "date", "balance": "double"}
    # Published an hour ago: within the retention, so a time travel can read it.
    published_at = (utc_now() - timedelta(hours=1)).isoformat()
    entry = PublishedPartition(
        "customers", "2026-03-02", location, "r1", published_at, 2, "v1", types
    )
    write_manifest(stores["storage"], location, {**asdict(entry), "files": ["part-0.parquet"]})
    stores["catalog"].publish(entry)
    labels = {
        "customer_id": ("customer_id", "internal"),
        "national_id": ("mykad", "pii"),
        "email": ("email", "pii"),
        "date_of_birth": ("date_of_birth", "pii"),
        "balance": ("amount", "confidential"),
    }
    stores["classification"].write(
        "customers",
        [
            ColumnRecord(
                "customers",
                column,
                automated=ColumnClassification(
                    "customers", column, (), kind, level, 0.95, "test", ("2026-03-02",) * 2
                ),
            )
            for column, (kind, level) in labels.items()
        ],
    )


@pytest.fixture
def policy_lake(tmp_path, monkeypatch):
    """A local lake with `customers` published and the token key lake_token uses."""
    from lake_assets.settings import load_settings
    from resources import command_resources

    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("LAKE_TOKEN_KEY", KEY)
    monkeypatch.delenv("LAKE_PROFILE", raising=False)
    stores = command_resources(load_settings())
    publish_customers(stores)
    return stores


def lake(capsys, *argv):
    from lake_assets.cli.main import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_lake_query_as_a_profile_reads_through_its_masked_view(policy_lake, capsys):
    select = "SELECT customer_id, email, date_of_birth, balance FROM customers ORDER BY 1"
    code, out, err = lake(capsys, "query", "--as", "fraud_analyst", select)
    assert code == 0, err
    token = hmac.new(KEY.encode(), b"aminah@example.my", hashlib.sha256).hexdigest()
    lines = out.splitlines()
    assert lines[0].split() == ["customer_id", "email", "date_of_birth", "balance"]
    assert lines[2].split() == ["c1", token, "1985-01-01", "1234.5"]  # year of birth, amount
    assert lines[-1] == "(2 rows)"
    # Marketing does not see amounts; nobody sees the national id, so naming it fails.
    code, out, _ = lake(capsys, "query", "--as", "marketing_analyst", select)
    assert code == 0 and out.splitlines()[2].split() == ["c1", token, "1985-01-01", "NULL"]
    code, _, err = lake(
        capsys,
        "query",
        "--as",
        "fraud_analyst",
        f"SELECT count(*) FROM customers WHERE national_id = '{NATIONAL_ID}'",
    )
    assert (
        code == 2
        and "national_id" in err
        and NATIONAL_ID not in err.replace(f"'{NATIONAL_ID}'", "")
    )
    # Each query's decision is in the audit trail, as every other access question's.
    trail = [(e.subject, e.dataset, e.outcome) for e in policy_lake["access_audit"].entries()]
    assert trail == [
        ("fraud_analyst", "customers", "allow"),
        ("marketing_analyst", "customers", "allow"),
        ("fraud_analyst", "customers", "allow"),
    ]
    code, _, err = lake(capsys, "query", "--as", "nobody", select)
    assert code == 2 and "no subject profile 'nobody'" in err
    code, _, err = lake(capsys, "query", "--as", "fraud_analyst", "SELECT * FROM payments")
    assert code == 2 and "no published dataset payments in this lake" in err


def test_lake_query_as_of_a_time_reads_each_partition_at_the_version_readers_saw(
    policy_lake, capsys
):
    from lake_assets.instants import utc_now
    from lake_assets.tables.locations import published_location
    from lake_assets.tables.publish import publish_table

    # A correction republishes the partition: the balance the fraud analyst sees changes.
    first_at = policy_lake["catalog"].current("customers", "2026-03-02").published_at
    corrected = customer_rows(first_balance=99.0)
    location = published_location("customers", "r2", "2026-03-02")
    publish_table(policy_lake["catalog"], policy_lake["storage"], "customers", "2026-03-02",
                  location, corrected, "r2")  # fmt: skip
    select = "SELECT customer_id, balance FROM customers WHERE customer_id = 'c1'"
    half_an_hour_ago = (utc_now() - timedelta(minutes=30)).isoformat()
    for as_of, balance in (([], "99.0"), (["--as-of", first_at], "1234.5"),
                           (["--as-of", half_an_hour_ago], "1234.5")):  # fmt: skip
        code, out, err = lake(capsys, "query", "--as", "fraud_analyst", *as_of, select)
        assert code == 0, err
        assert out.splitlines()[2].split() == ["c1", balance], as_of
    # Before the first publish there was nothing; before the retention, nothing can be known.
    two_hours_ago = (utc_now() - timedelta(hours=2)).isoformat()
    code, _, err = lake(capsys, "query", "--as", "fraud_analyst", "--as-of", two_hours_ago, select)
    assert code == 2 and "customers had no partition published by" in err
    code, _, err = lake(capsys, "query", "--as", "fraud_analyst", "--as-of", "2026-01-01", select)
    assert code == 2
    assert "customers cannot be read as of 2026-01-01T00:00:00+00:00: superseded versions are " \
        "kept 7 days (LAKE_RETENTION_DAYS)" in err  # fmt: skip


def test_the_asset_checks_its_views_before_registering_them(policy_lake, monkeypatch):
    from dagster import materialize

    from lake_assets.access import view_plan
    from lake_assets.access.assets import NO_CLEAR_READS, masked_views

    resources = {k: policy_lake[k] for k in ("settings", "storage", "catalog", "classification")}
    result = materialize([masked_views], resources=resources, raise_on_error=False)
    [check] = result.get_asset_check_evaluations()
    [materialization] = result.get_asset_materialization_events()
    metadata = materialization.materialization.metadata
    assert check.check_name == NO_CLEAR_READS and check.passed
    assert metadata["views_per_profile"].data == {
        "auditor": 1,
        "data_engineer": 1,
        "fraud_analyst": 1,
        "fraud_lead": 1,
        "marketing_analyst": 1,
    }

    # A generator that forgot the balance mask: the check executes the views and fails.
    def unmasked(decisions, sources, **kwargs):
        views = render_views(decisions, sources, **kwargs)
        return [
            replace(v, sql=v.sql.replace('CAST(NULL AS double) AS "balance"', '"balance"'))
            for v in views
        ]

    monkeypatch.setattr(view_plan, "render_views", unmasked)
    result = materialize([masked_views], resources=resources, raise_on_error=False)
    [check] = result.get_asset_check_evaluations()
    # Blocking: the run fails (and on aws the leaking views are not registered).
    assert (
        not result.success
        and not check.passed
        and check.metadata["leaks"].data
        == [
            f"{profile} reads customers.balance: null by amounts-hidden-outside-fraud-and-audit, "
            "but all 2 values shown are clear values"
            for profile in ("data_engineer", "marketing_analyst")
        ]
    )


ACCOUNT_ROLE = "arn:aws:iam::123456789012:role/"
DEFINER, CONSUMER = f"{ACCOUNT_ROLE}lake-view-definer", f"{ACCOUNT_ROLE}lake-consumer-"


def _consumer_grants(lakeformation, database: str) -> set[tuple[str, str, tuple]]:
    """(principal, view, permissions) of every table grant on the views database."""
    return {
        (
            p["Principal"]["DataLakePrincipalIdentifier"].removeprefix(ACCOUNT_ROLE),
            p["Resource"]["Table"]["Name"],
            tuple(p["Permissions"]),
        )
        for p in lakeformation.list_permissions(ResourceType="TABLE")[
            "PrincipalResourcePermissions"
        ]
        if p["Resource"].get("Table", {}).get("DatabaseName") == database
    }


def test_on_aws_the_asset_registers_definer_views_grants_each_to_its_profile_and_drops_stale_ones(
    aws_endpoint, tmp_path, monkeypatch
):
    import boto3
    from dagster import materialize

    from lake_assets.access.assets import masked_views
    from lake_assets.settings import load_settings
    from resources.aws.glue import GlueCatalog
    from resources.aws.glue_classification import GlueClassificationStore
    from resources.aws.s3 import S3Storage

    monkeypatch.setenv("LAKE_TOKEN_KEY", KEY)  # set, yet it must not reach Glue
    region = "eu-west-1"
    s3 = boto3.client("s3", endpoint_url=aws_endpoint, region_name=region)
    s3.create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": region})
    settings = load_settings(
        {
            "LAKE_PROFILE": "aws",
            "LAKE_AWS_ENDPOINT_URL": aws_endpoint,
            "LAKE_S3_BUCKET": "lake",
            "LAKE_VIEW_DEFINER_ROLE_ARN": DEFINER,
            "LAKE_CONSUMER_ROLE_ARN_PREFIX": CONSUMER,
        }
    )
    connection = {"endpoint_url": aws_endpoint, "region": region}
    catalog = GlueCatalog(settings.aws.glue_database, "lake", **connection)
    catalog.ensure_database()
    # Only the catalog is read back: the state table is never touched by the views.
    classification = GlueClassificationStore(catalog, "unused", **connection)
    stores = {"settings": settings, "storage": S3Storage(bucket="lake", **connection)}
    stores |= {"catalog": catalog, "classification": classification}
    publish_customers(stores)
    glue = boto3.client("glue", endpoint_url=aws_endpoint, region_name=region)
    lakeformation = boto3.client("lakeformation", endpoint_url=aws_endpoint, region_name=region)
    views = f"{settings.aws.glue_database}_views"
    glue.create_database(DatabaseInput={"Name": views})  # Terraform's
    # Left from an earlier build: a view of a profile that no longer reads customers, granted
    # to its consumer; the fraud analyst granted the marketing analyst's view; and a grant of
    # someone else's (an auditing tool's), which is not the views' to manage.
    glue.create_table(
        DatabaseName=views, TableInput={"Name": "customers__former", "TableType": "VIRTUAL_VIEW"}
    )
    # The auditor's view as an older policy had it: replaced.
    glue.create_table(
        DatabaseName=views,
        TableInput={
            "Name": "customers__auditor",
            "TableType": "VIRTUAL_VIEW",
            "Parameters": {"lake_view_fingerprint": "an older policy's"},
        },
    )
    earlier = [
        (f"{CONSUMER}former", "customers__former", ["SELECT"]),
        (f"{CONSUMER}fraud_analyst", "customers__marketing_analyst", ["SELECT"]),
        (f"{ACCOUNT_ROLE}catalog-auditor", "customers__former", ["DESCRIBE"]),
    ]
    for principal, view, permissions in earlier:
        lakeformation.grant_permissions(
            Principal={"DataLakePrincipalIdentifier": principal},
            Resource={"Table": {"DatabaseName": views, "Name": view}},
            Permissions=permissions,
        )
    result = materialize([masked_views], resources=stores)
    [materialization] = result.get_asset_materialization_events()
    registered = materialization.materialization.metadata["registered"].data
    assert registered["deleted"] == ["customers__former"]
    assert registered["updated"] == ["customers__auditor"]
    profiles = ["auditor", "data_engineer", "fraud_analyst", "fraud_lead", "marketing_analyst"]
    names = sorted(t["Name"] for t in glue.get_tables(DatabaseName=views)["TableList"])
    assert names == sorted(registered["created"] + registered["updated"])
    assert names == [f"customers__{p}" for p in profiles]
    auditor = glue.get_table(DatabaseName=views, Name="customers__auditor")["Table"]
    assert auditor["ViewDefinition"]["Definer"] == DEFINER
    # Each consumer role may select its own profile's view, and only that; the stale grants
    # went first, the auditing tool's stays.
    assert _consumer_grants(lakeformation, views) == {
        (f"lake-consumer-{p}", f"customers__{p}", ("SELECT",)) for p in profiles
    } | {("catalog-auditor", "customers__former", ("DESCRIBE",))}
    assert registered["revoked"] == [
        "customers__former to lake-consumer-former",
        "customers__marketing_analyst to lake-consumer-fraud_analyst",
    ]
    assert registered["granted"] == [f"customers__{p} to lake-consumer-{p}" for p in profiles]

    table = glue.get_table(DatabaseName=views, Name="customers__fraud_analyst")["Table"]
    definition = table["ViewDefinition"]
    assert table["TableType"] == "VIRTUAL_VIEW" and "ViewOriginalText" not in table
    assert definition["Definer"] == DEFINER and definition["IsProtected"] is True
    assert definition["SubObjects"] == [
        f"arn:aws:glue:{region}:123456789012:table/{settings.aws.glue_database}/customers"
    ]
    [athena] = definition["Representations"]
    assert (athena["Dialect"], athena["DialectVersion"]) == ("ATHENA", "3")
    sql = athena["ViewOriginalText"]
    assert sql.startswith('SELECT "customer_id" AS "customer_id", ')
    assert f'FROM "{settings.aws.glue_database}"."customers"' in sql
    columns = table["StorageDescriptor"]["Columns"]
    assert {"Name": "date_of_birth", "Type": "date"} in columns
    # No key reaches Glue: the email token reads as null there, and the view says so.
    assert KEY not in json.dumps(table, default=str) and "hmac" not in sql
    assert json.loads(table["Parameters"]["lake_withheld"]) == {
        "email": "no key may reach this view"
    }

    # Built again with nothing changed: nothing is created, replaced, granted or revoked.
    again = materialize([masked_views], resources=stores)
    [materialization] = again.get_asset_materialization_events()
    registered = materialization.materialization.metadata["registered"].data
    assert not any(registered.values()), registered


def test_on_aws_the_views_are_not_registered_without_the_definer_and_consumer_roles():
    from lake_assets.settings import load_settings
    from resources.aws.glue_views import register_views

    settings = load_settings({"LAKE_PROFILE": "aws", "LAKE_VIEW_DEFINER_ROLE_ARN": DEFINER})
    with pytest.raises(ValueError, match=r"^LAKE_CONSUMER_ROLE_ARN_PREFIX not set: .*consumer"):
        register_views([], "lake_views", settings.aws)


def test_a_grant_lake_formation_refuses_names_the_view_the_role_and_the_reason():
    import boto3
    from botocore.stub import Stubber

    from resources.aws.lake_formation import GrantRefused, ViewGrant, ViewGrants

    lakeformation = boto3.client(
        "lakeformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    grants = ViewGrants("lake_views", lakeformation, CONSUMER)
    refused = {"ErrorCode": "EntityNotFoundException", "ErrorMessage": "Table not found"}
    with Stubber(lakeformation) as stub:
        stub.add_response(
            "batch_grant_permissions",
            {"Failures": [{"RequestEntry": {"Id": "1"}, "Error": refused}]},
        )
        with pytest.raises(GrantRefused) as error:
            grants.grant(
                [ViewGrant(f"{CONSUMER}auditor", "a__auditor"), ViewGrant(f"{CONSUMER}x", "b__x")]
            )
    assert str(error.value) == (
        "Lake Formation refused:\nb__x to lake-consumer-x: EntityNotFoundException Table not found"
        "\n(each access profile's consumer role is made by terraform/consumers.tf from "
        "config/access/profiles.yaml: apply it after adding a profile)"
    )


def test_the_views_are_rebuilt_when_a_classification_changes_until_a_build_succeeds(
    policy_lake, monkeypatch
):
    """The refresh compares the plan with what the views were last built from, not with what it
    last asked for: a build that fails (Glue refusing past the retries) is asked for again."""
    from dagster import DagsterInstance, build_sensor_context, materialize

    from lake_assets.access import sensors
    from lake_assets.access.assets import masked_views
    from lake_assets.access.sensors import masked_views_refresh
    from lake_assets.access.service import MaskedViews
    from lake_assets.classification.model import ColumnClassification
    from lake_assets.instants import utc_now
    from resources.classification_store import ColumnRecord

    resources = {k: policy_lake[k] for k in ("settings", "storage", "catalog", "classification")}
    instance = DagsterInstance.ephemeral()
    later = sensors.RETRY_FAILED_AFTER  # how far the sensor's clock is moved on

    def tick(after=None) -> list[str]:
        context = build_sensor_context(instance=instance, resources=resources)
        with monkeypatch.context() as clock:
            if after is not None:
                clock.setattr(sensors, "utc_now", lambda: utc_now() + after)
            result = masked_views_refresh(context)
        return [r.run_key for r in result.run_requests]

    def build(run_key: str) -> bool:
        """The requested run, launched as the daemon launches it: tagged with its key."""
        run = materialize(
            [masked_views],
            resources=resources,
            instance=instance,
            raise_on_error=False,
            tags={"dagster/run_key": run_key},
        )
        return run.success

    [first] = tick()
    assert build(first)
    assert tick() == []  # nothing changed: nothing requested
    # An operator reclassifies balance as public: the decisions change, the views are rebuilt.
    said = ColumnClassification(
        "customers", "balance", (), "amount", "public", 1.0, "test", ("2026-03-02",) * 2
    )
    policy_lake["classification"].write(
        "customers", [ColumnRecord("customers", "balance", automated=said)]
    )
    [asked] = tick()

    def refused(self, plan):
        raise PermissionError("Lake Formation refused the definer role (not transient)")

    with monkeypatch.context() as glue:
        glue.setattr(MaskedViews, "register", refused)
        assert not build(asked)
    assert tick() == []  # not every tick: the failure has been alerted, the next try waits
    [again] = tick(after=later)
    assert again != asked  # a key Dagster has not launched yet
    # A plan changed since the failure (a policy tightened) is asked for at once.
    tightened = ColumnClassification(
        "customers", "balance", (), "amount", "internal", 1.0, "test", ("2026-03-02",) * 2
    )
    policy_lake["classification"].write(
        "customers", [ColumnRecord("customers", "balance", automated=tightened)]
    )
    [changed] = tick()
    assert changed.split("/after/")[0] != again.split("/after/")[0]
    # While a build runs, a tick asks for nothing more.
    during = []
    with monkeypatch.context() as glue:
        glue.setattr(MaskedViews, "register", lambda self, plan: during.append(tick()) or {})
        assert build(changed)
    assert during == [[]]
    assert tick() == []


def test_lake_access_grants_compares_the_views_grants_with_what_the_policies_call_for(
    aws_endpoint, tmp_path, monkeypatch, capsys
):
    import boto3
    from aws_lake import open_aws_lake
    from dagster import materialize

    from lake_assets.access.assets import masked_views

    roles = {"LAKE_VIEW_DEFINER_ROLE_ARN": DEFINER, "LAKE_CONSUMER_ROLE_ARN_PREFIX": CONSUMER}
    environ: dict[str, str] = {}
    settings, stores, _ = open_aws_lake(aws_endpoint, tmp_path, roles, environ_out=environ)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    publish_customers(stores)
    glue = boto3.client("glue", endpoint_url=aws_endpoint, region_name="eu-west-1")
    glue.create_database(DatabaseInput={"Name": f"{settings.aws.glue_database}_views"})
    profiles = ["auditor", "data_engineer", "fraud_analyst", "fraud_lead", "marketing_analyst"]

    # Before the views are built, every grant the policies call for is missing.
    code, out, _ = lake(capsys, "access", "grants")
    assert code == 1
    assert out.splitlines() == [
        *(f"customers__{p}  to lake-consumer-{p}  MISSING" for p in profiles),
        "0 of 5 views granted as the policies call for; 5 differ (the next build of "
        "access/masked_views mends them)",
    ]
    assert materialize([masked_views], resources=stores).success
    code, out, _ = lake(capsys, "access", "grants")
    assert code == 0 and out.splitlines()[-1] == "5 of 5 views granted as the policies call for"

    # A grant made by hand, which no view calls for, is named.
    lakeformation = boto3.client(
        "lakeformation", endpoint_url=aws_endpoint, region_name="eu-west-1"
    )
    lakeformation.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": f"{CONSUMER}marketing_analyst"},
        Resource={"Table": {"DatabaseName": f"{settings.aws.glue_database}_views",
                            "Name": "customers__fraud_lead"}},
        Permissions=["SELECT"],
    )  # fmt: skip
    code, out, _ = lake(capsys, "access", "grants", "--json")
    assert code == 1
    assert {"view": "customers__fraud_lead", "role": f"{CONSUMER}marketing_analyst",
            "state": "EXTRA: no view calls for it"} in json.loads(out)  # fmt: skip
    # Locally the views are built per query: there is nothing to compare.
    monkeypatch.setenv("LAKE_PROFILE", "local")
    code, _, err = lake(capsys, "access", "grants")
    assert code == 2 and "granted on the aws profile only" in err
