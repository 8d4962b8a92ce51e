"""silver/crm_contacts, silver/customer and silver/fx_rates on one small lake, run as the
derived-layer assets: the customers and CRM contacts of two days, FX rates of a Friday and the
Tuesday after a weekend and a Monday holiday."""

from __future__ import annotations

import json
from datetime import date

import pytest
from dagster import AssetKey, AssetRecordsFilter
from lake_harness import Lake, failure_message

from lake_assets.demo.medallion_data import FX_LEVELS
from lake_assets.ingestion.asset_keys import curated_key_of, registry_key_of
from lake_assets.settings import DEFAULT_CONTRACTS_DIR
from lake_assets.silver.customer import customer_sk_of

FRI, SAT, MON, TUE = "2026-03-06", "2026-03-07", "2026-03-09", "2026-03-10"
CUSTOMER, CRM_STATE, FX = (
    AssetKey(["silver", "customer"]),
    AssetKey(["silver", "crm_contacts"]),
    AssetKey(["silver", "fx_rates"]),
)
CURRENCIES = ["EUR", "GBP", "IDR", "SGD", "THB", "USD"]


def master(day: str) -> str:
    header = "customer_id,full_name,email,phone,segment,date_of_birth,risk_score,snapshot_date\n"
    return header + "".join(
        f"{c},{name},{c.lower()}@bank.my,+6012000000{i},retail,1980-01-0{i + 1},{10 + i},{day}\n"
        for i, (c, name) in enumerate([("C00001", "Ana Lee"), ("C00002", "Bo Tan")])
    )


def contact(cid, ref, day, city, merged_into=None) -> str:
    return (
        json.dumps(
            {
                "contact_id": cid,
                "customer_ref": ref,
                "name": {"first": "Ana", "last": "Lee"},
                "emails": [f"{cid.lower()}@crm.my"],
                "phone": None,
                "address": {"city": city, "postcode": "01000", "country": "MY"},
                "lifecycle_stage": "customer",
                "merged_into": merged_into,
                "updated_at": f"{day}T09:00:00Z",
            }
        )
        + "\n"
    )


def rates(day: str) -> str:
    return "rate_date,base_currency,quote_currency,rate\n" + "".join(
        f"{day},{c},MYR,{FX_LEVELS[c] * (1 + i / 100):.6g}\n" for i, c in enumerate(CURRENCIES)
    )


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    lake = Lake(tmp_path_factory.mktemp("silver") / "lake", contracts=DEFAULT_CONTRACTS_DIR)
    for day in (FRI, SAT):
        lake.deliver("customers", SAT, f"customers_{day}.csv", master(day))
    # Friday: K000001 is C00001's contact, K000002 a duplicate without a reference; Saturday:
    # the CRM merges K000001 into K000002, which moves.
    crm = contact("K000001", "C00001", FRI, "Ipoh") + contact("K000002", None, FRI, "Ipoh")
    crm += contact("K000001", "C00001", SAT, "Ipoh", merged_into="K000002")
    crm += contact("K000002", None, SAT, "Penang")
    lake.deliver("crm_contacts", SAT, "contacts.json", crm)
    lake.deliver("fx_rates", SAT, f"fx_{FRI}.csv", rates(FRI))
    lake.deliver("fx_rates", TUE, f"fx_{TUE}.csv", rates(TUE))
    sources = ("customers", "crm_contacts", "fx_rates")
    for keys, day in [
        ([registry_key_of(s) for s in sources], SAT),
        ([registry_key_of("fx_rates")], TUE),
    ]:
        profiled = lake.materialize(keys, day)
        assert profiled.success, failure_message(profiled)
    promoted = lake.materialize([curated_key_of(s) for s in sources], FRI, TUE)
    assert promoted.success, failure_message(promoted)
    return lake


def rows(lake, spark, dataset, day):
    return [r.asDict() for r in lake.rows(spark, dataset, [day]).collect()]


def test_customers_conformed_with_the_crm_and_a_stable_key(lake, spark):
    built = lake.materialize([CRM_STATE, CUSTOMER], FRI, SAT)
    assert built.success, failure_message(built)
    state = {r["contact_id"]: r for r in rows(lake, spark, "silver_crm_contacts", SAT)}
    assert (
        state["K000001"]["merged_into"] == "K000002"
        and state["K000002"]["address__city"] == "Penang"
    )
    friday, saturday = (
        {r["customer_id"]: r for r in rows(lake, spark, "silver_customer", day)}
        for day in (FRI, SAT)
    )
    assert sorted(saturday) == ["C00001", "C00002"]
    ana = saturday["C00001"]
    assert json.loads(ana["crm_contact_ids"]) == ["K000001", "K000002"]
    assert (ana["city"], ana["email"], ana["full_name"]) == ("Penang", "k000002@crm.my", "Ana Lee")
    assert ana["as_of_date"] == date(2026, 3, 7)
    # The same key on both days and across the merge: the documented function of customer_id.
    for day in (friday, saturday):
        assert {c: r["customer_sk"] for c, r in day.items()} == {c: customer_sk_of(c) for c in day}
    where = AssetRecordsFilter(asset_key=CUSTOMER, asset_partitions=[SAT])
    record = lake.instance.fetch_materializations(where, limit=1).records[0]
    metadata = record.asset_materialization.metadata
    assert metadata["rows_out"].value == 2
    assert metadata["rows_in"].value["customers"] == 2


def test_fx_rates_every_currency_every_day_carried_over_the_gap(lake, spark):
    built = lake.materialize([FX], FRI, TUE)
    assert built.success, failure_message(built)
    for day, carried, source in [
        (FRI, False, FRI),
        (SAT, True, FRI),
        (MON, True, FRI),
        (TUE, False, TUE),
    ]:
        found = sorted(
            (r["base_currency"], r["carried_forward"], str(r["source_rate_date"]))
            for r in rows(lake, spark, "silver_fx_rates", day)
        )
        assert found == [(c, carried, source) for c in CURRENCIES], day
    # Six days after Tuesday's rates, with none since: a failure naming the last rate, not a
    # silent carry; nothing is published for the day.
    gap = lake.materialize([FX], "2026-03-16")
    assert not gap.success
    assert "USD (last rate 2026-03-10)" in failure_message(gap)
    assert lake.catalog.current("silver_fx_rates", "2026-03-16") is None
