"""The classification core (issue 12), without Spark or Dagster: each format detector alone,
name hints, the deterministic sample and profile, fusion's conflicts and cross-column evidence,
the policy file's errors, drift, and precision/recall on the labelled evaluation set."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pyarrow as pa
import pytest
from faker import Faker

from lake_assets.classification import formats
from lake_assets.classification.classifier import (
    CLASSIFIER_VERSION,
    classify_table,
    profile_table,
    sample_table,
)
from lake_assets.classification.drift import detect_drift
from lake_assets.classification.evaluation import generate, score
from lake_assets.classification.model import ColumnClassification
from lake_assets.classification.names import name_hints
from lake_assets.classification.policy import load_policy
from lake_assets.classification.signals import ColumnProfile
from lake_assets.config import ConfigError

POLICY = load_policy()


def detect(detector, values, within_text=False):
    return detector(pa.array(values, pa.string()), within_text=within_text)


def test_email():
    found = detect(formats.email, ["a.b@bank.com.my", "x@y", "not an email", "p+q@mail.co"])
    assert (found.shaped, found.valid) == (2, 2)
    assert detect(formats.email, ["reach me at siti@example.my."], within_text=True).valid == 1


def test_iban_mod97():
    found = detect(
        formats.iban,
        ["GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432", "GB83WEST12345698765432"],
    )
    assert (found.shaped, found.valid, found.failed) == (3, 2, {"mod97": 1})


def test_phone_malaysian_spellings_and_e164():
    valid = ["+60 12-345 6789", "012-3456789", "60123456789", "03-2345 6789", "011-2345 6789",
             "+44 20 7946 0958"]  # fmt: skip
    assert detect(formats.phone, valid).valid == len(valid)
    # IC numbers and short codes are no phones; a dial plan Malaysia does not have fails.
    found = detect(formats.phone, ["900101-14-5678", "12345", "0023456789"])
    assert (found.shaped, found.valid) == (2, 0)


def test_mykad_needs_a_real_date_and_an_issued_place_code():
    found = detect(
        formats.mykad,
        ["900101-14-5678", "900101145678", "000229-10-1111",  # 2000 was a leap year
         "991399-14-5678", "010229101111",  # no 13th month; 2001 was not a leap year
         "900101-00-5678", "900101-19-5678", "900101-73-5678"],  # codes never issued
    )  # fmt: skip
    assert found.valid == 3
    assert found.failed == {"impossible_date": 2, "unissued_place_code": 3}
    assert {1, 16, 21, 59, 60, 68, 71, 72, 74, 79, 82, 93, 98, 99} <= formats.MYKAD_PLACE_CODES
    assert not {0, 17, 20, 69, 70, 73, 80, 81, 94, 97} & formats.MYKAD_PLACE_CODES
    pasted = ["Customer IC 900101-14-5678 seen", "ref 991399145678 here", "no number"]
    assert detect(formats.mykad, pasted, within_text=True).valid == 1


def test_payment_card_luhn():
    found = detect(
        formats.payment_card,
        ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "4111111111111112"],
    )
    assert (found.valid, found.failed) == (3, {"luhn": 1})


def test_bank_account():
    found = detect(formats.bank_account, ["5621-3490-1234", "1234567890", "123", "12-34"])
    assert (found.shaped, found.valid, found.failed) == (4, 2, {"length": 2})


def test_dates_and_dates_of_birth():
    values = ["1990-02-28", "29/02/2000", "29/02/1900", "1985-13-01", f"{date.today():%Y-%m-%d}"]
    assert detect(formats.calendar_date, values).valid == 3
    birth = detect(formats.date_of_birth, values)
    assert (birth.valid, birth.failed) == (2, {"impossible_date": 2, "birth_year": 1})


def test_person_name_address_free_text():
    names = ["Ahmad bin Ismail", "TAN WEI MING", "Suresh a/l Rajan", "John Smith"]
    words = ["MYR", "Aisyah", "Ng", "O'Brien", "MY", "SG", "ahmad"]
    found = detect(formats.person_name, [*names, "the quick brown fox", *words])
    # One capitalised word has a name's shape, not its format; two capitals are a code's.
    assert (found.shaped, found.valid, found.failed) == (8, 4, {"single_word": 4})
    addresses = ["No. 12, Jalan Ampang 3/4, Taman Melati, 50450 Kuala Lumpur",
                 "144 Lisa Fork, Port Yvetteburgh, IA 59992"]  # fmt: skip
    assert detect(formats.address, [*addresses, "Jalan Ampang"]).valid == 2
    prose = detect(formats.free_text, ["The customer called about a lost card", "1 2 3 4 5 6"])
    assert (prose.shaped, prose.valid) == (2, 1)


def test_name_hints_english_and_malay():
    assert name_hints("no_kp")[0] == "mykad"
    assert name_hints("customerNRIC")[0] == "mykad"
    assert name_hints("no_hp")[0] == "phone"
    assert name_hints("acct_no")[0] == "bank_account"
    assert "person_name" not in name_hints("merchant_name")
    assert name_hints("ref_no") == []


def test_sample_is_deterministic_bounded_and_batch_independent():
    table = pa.table({"n": list(range(10_000))})
    policy = replace(POLICY, sample_size=100)
    one = sample_table(table.to_batches(max_chunksize=1000), policy, seed=3)
    again = sample_table(table.to_batches(max_chunksize=77), policy, seed=3)
    assert one.num_rows == 100 and one.equals(again)  # the batches' sizes do not matter
    drawn = one.column("n").to_pylist()
    assert drawn == sorted(drawn) and drawn[-1] > 9000  # in order, from the whole table
    assert not one.equals(sample_table(table, policy, seed=4))
    assert sample_table(table.slice(0, 50), policy).num_rows == 50


def test_profile_round_trips_through_json():
    profile = profile_table(pa.table({"c": ["a@b.com", "c@d.org", None, "a@b.com"]}))["c"]
    assert (profile.null_ratio, profile.distinct, profile.format_shares["email"]) == (
        0.25, 2, 1.0
    )  # fmt: skip
    assert profile.cardinality_ratio == pytest.approx(2 / 3, abs=1e-4)
    assert ColumnProfile.from_json(profile.to_json()) == profile


def test_policy_errors_name_file_key_and_reason(tmp_path):
    path = tmp_path / "classification.yaml"
    path.write_text("sensitivity:\n  mykad: secret\n")
    with pytest.raises(ConfigError, match=r"classification.yaml: sensitivity.mykad: must be one"):
        load_policy(path)
    path.write_text("sensitivity:\n  device_id: public\n")
    policy = load_policy(path)
    assert policy.sensitivity_of("device_id") == "public"
    assert policy.sensitivity_of("mykad") == "pii"  # a partial mapping keeps the defaults


def test_values_outweigh_names_and_low_confidence_goes_to_review():
    sample = pa.table({
        "contact": ["siti@bank.my", "ali@mail.com", "wong@x.org"] * 20,
        "no_hp": [f"see {i} or {i + 1}" for i in range(60)],
        "empty": pa.nulls(60, pa.string()),
    })  # fmt: skip
    contact, no_hp, empty = classify_table(
        "customers", sample, ("2026-03-01", "2026-03-02"), POLICY
    )
    assert empty.needs_review and empty.reason == "no values in the sample"
    assert (contact.semantic_type, contact.sensitivity) == ("email", "pii")
    assert "suggests phone" in contact.conflict
    assert no_hp.needs_review and no_hp.sensitivity is None
    assert no_hp.candidates[0].evidence == {"name": "no_hp"}
    assert "below the review threshold" in no_hp.reason
    assert contact.classifier_version == CLASSIFIER_VERSION
    assert ColumnClassification.from_json(contact.to_json()) == contact


def test_a_single_word_is_a_name_only_where_the_columns_name_says_so():
    """Seed 000, project 11: the column's name as context. First names alone (one word each)
    under `first_name` are a person's name (pii, masked), not a review that denies them; the
    same words under `branch` are no one's name, and a few repeated words under `scheme_name`
    are a code. Towns of one or two words ("Lake Kristin") under `address__city` are a place,
    although two capitalised words are also a person-name's format."""
    table, _ = generate(1000, seed=3, pool=400)
    firsts = table.column("nama_pertama")
    tiers = pa.array(["Gold", "Platinum", "Classic", "Infinite"] * 250)
    fake = Faker("en_US")
    fake.seed_instance(3)
    towns = pa.array([fake.city() for _ in range(1000)])
    holders = table.column("holder")
    sample = pa.table(
        {
            "first_name": firsts,
            "branch": firsts,
            "scheme_name": tiers,
            "address__city": towns,
            "city_contact": holders,  # a person, whom a place qualifies
        }
    )
    first, branch, scheme, city, contact = classify_table(
        "accounts", sample, ("2026-03-01",) * 2, POLICY
    )
    assert (city.semantic_type, city.sensitivity) == ("place", "internal")
    assert city.candidates[1].semantic_type == "person_name"  # what the values alone show
    assert (contact.semantic_type, contact.sensitivity) == ("person_name", "pii")
    # The demo's contacts: 30 rows, six towns repeated (a few values, still places).
    demo_towns = ["Kuala Lumpur", "Petaling Jaya", "Ipoh", "Johor Bahru", "Shah Alam", "Kuching"]
    few = pa.table({"address__city": demo_towns * 5})
    (few_towns,) = classify_table("crm_contacts", few, ("2026-03-01",) * 2, POLICY)
    assert (few_towns.semantic_type, few_towns.sensitivity) == ("place", "internal")
    assert (first.semantic_type, first.sensitivity) == ("person_name", "pii")
    assert first.confidence >= POLICY.review_threshold
    assert first.candidates[0].evidence["name"] == "first_name"
    assert first.candidates[0].evidence["shape.person_name"] == 1.0
    assert all(c.semantic_type != "person_name" for c in branch.candidates)
    assert branch.sensitivity != "pii"
    assert (scheme.semantic_type, scheme.sensitivity) == ("code", "internal")


def test_evaluation_set_precision_recall_and_account_told_from_ic():
    table, labels = generate(3000, seed=12, pool=400)
    assert len(table.column_names) >= 15
    classified = classify_table("customers", table, ("2026-03-01", "2026-03-30"), POLICY)
    scores = score({c.column: c.semantic_type for c in classified}, labels, POLICY)
    assert scores.precision >= 0.95 and scores.recall >= 0.95, scores.mistakes
    by_column = {c.column: c for c in classified}
    account, ic = by_column["cust_ref"], by_column["ref_no"]
    assert (account.semantic_type, ic.semantic_type) == ("bank_account", "mykad")
    reasons = account.candidates[0].evidence
    assert reasons["shape.mykad"] == 1.0 and reasons["failed.mykad.impossible_date"] == 1.0
    assert all(c.semantic_type != "mykad" for c in account.candidates)
    assert ic.candidates[0].evidence["dob_matches.d1"] == 1.0  # the date of birth confirms it
    assert by_column["d1"].candidates[0].evidence["matches_ic.ref_no"] == 1.0
    assert by_column["field_a"].candidates[0].evidence["beside"] == "phone_country_code"
    # National numbers without their trunk 0 are phones with the country code beside them.
    assert by_column["field_b"].candidates[0].evidence["phone_with.phone_country_code"] == 1.0


def test_a_few_pasted_ic_numbers_drift_and_send_the_column_to_review():
    """Seed 000, project 11: a few IC numbers pasted by careless operators, far below the share
    that makes a column PII, still drift, and the column loses its label until an operator
    decides (a column without a sensitivity is denied)."""
    table, _ = generate(2000, seed=5, pool=400)
    notes = table.column("notes").to_pylist()
    pasted = [i for i, text in enumerate(notes) if " Customer IC " in text][:3]
    clean = [text.split(" Customer IC ")[0] for text in notes]
    after = [notes[i] if i in pasted else text for i, text in enumerate(clean)]
    baseline = profile_table(pa.table({"notes": clean}))["notes"]
    current = profile_table(pa.table({"notes": after}))["notes"]
    assert current.embedded_shares == {"mykad": 0.0015}  # 3 rows of 2,000
    assert current.embedded_shares["mykad"] < POLICY.embedded_pii_share

    [moved] = detect_drift(baseline, current, POLICY.drift, POLICY.pii_types)
    assert (moved.signal, moved.baseline, moved.threshold) == ("embedded.mykad", 0.0, 0.0)
    # Without the PII types only the share counts, and 0.15% is below format_share.
    assert detect_drift(baseline, current, POLICY.drift) == []
    (again,) = classify_table(
        "crm", pa.table({"notes": after}), ("2026-03-02", "2026-03-02"), POLICY,
        {"notes": current},
    )  # fmt: skip
    assert again.needs_review and again.sensitivity is None
    assert again.candidates[0].semantic_type == "free_text"
    assert again.reason.startswith("mykad inside the values of 0.15% of rows")
    assert detect_drift(current, current, POLICY.drift, POLICY.pii_types) == []


def test_ic_numbers_pasted_into_notes_drift_and_make_the_column_pii():
    table, _ = generate(2000, seed=5, pool=400)
    clean = [text.split(" Customer IC ")[0] for text in table.column("notes").to_pylist()]
    before = pa.table({"notes": clean})
    after = pa.table({"notes": table.column("notes")})  # 3% of rows with an IC number
    baseline = profile_table(before)["notes"]
    (first,) = classify_table("crm", before, ("2026-03-01", "2026-03-01"), POLICY)
    assert (first.semantic_type, first.sensitivity) == ("free_text", "internal")

    current = profile_table(after)["notes"]
    drifts = detect_drift(baseline, current, POLICY.drift)
    assert drifts[0].signal == "embedded.mykad" and 0.02 < drifts[0].observed < 0.05
    assert drifts[0].baseline == 0.0 and "notes: embedded.mykad 0 ->" in drifts[0].describe()
    (again,) = classify_table(
        "crm", after, ("2026-03-02", "2026-03-02"), POLICY, {"notes": current}
    )
    assert (again.semantic_type, again.sensitivity) == ("mykad", "pii")
    assert again.candidates[1].semantic_type == "free_text"
    assert detect_drift(current, current, POLICY.drift) == []


def test_a_small_days_shares_move_by_chance_and_only_a_large_samples_drift():
    """The demo's 30-row days reclassified names and cities back and forth on chance moves of a
    share (60% person names one day, 40% the next); the same move over 3,000 values is drift."""
    values = profile_table(pa.table({"name": [f"v{i % 6}" for i in range(30)]}))["name"]
    day = replace(values, format_shares={"person_name": 0.6}, cardinality_ratio=0.2)
    moved = replace(day, format_shares={"person_name": 0.4})
    assert detect_drift(day, moved, POLICY.drift) == []
    big, big_moved = replace(day, rows=3000), replace(moved, rows=3000)
    [drift] = detect_drift(big, big_moved, POLICY.drift)
    assert drift.signal == "format.person_name" and POLICY.drift.format_share < drift.threshold
    assert drift.threshold == pytest.approx(3 * ((0.5 * 0.5 * 2 / 3000) ** 0.5), abs=1e-3)

    # Distinct values over 30 rows and over 6 say more about the sample's size than the column.
    few = replace(day, rows=6, cardinality_ratio=0.7)
    assert detect_drift(day, few, POLICY.drift) == []
    assert [d.signal for d in detect_drift(big, replace(few, rows=3000), POLICY.drift)] == [
        "cardinality_ratio"
    ]
    # A PII type pasted into one value of a small day still drifts (ADR-0145).
    pasted = replace(day, embedded_shares={"mykad": 1 / 30})
    [ic] = detect_drift(day, pasted, POLICY.drift, POLICY.pii_types)
    assert (ic.signal, ic.threshold) == ("embedded.mykad", 0.0)
    # So does a PII format in whole values, over a small baseline or one of no values at all:
    # a fifth of a large day holding IC numbers is never within a small first day's noise.
    ics = replace(day, rows=10_000, format_shares={"person_name": 0.6, "mykad": 0.2})
    empty = replace(day, rows=30, null_ratio=1.0, format_shares={})
    for baseline in (day, empty):
        found = {
            d.signal: d.threshold
            for d in detect_drift(baseline, ics, POLICY.drift, POLICY.pii_types)
        }
        assert found["format.mykad"] == 0.0


def test_a_nested_column_is_profiled_by_what_it_holds():
    # A list column (curated tables keep JSON arrays as lists): its values are read as text.
    profile = profile_table(
        pa.table({"contacts": [["ali@example.com", "siti@example.my"], None, ["x@y.co"]] * 20})
    )["contacts"]
    assert profile.null_ratio == pytest.approx(1 / 3, abs=1e-3)
    assert profile.embedded_shares["email"] == 1.0
    # A `json` field is curated as its text (the demo's crm_contacts.emails): it was labelled
    # identifier (internal), its addresses readable unmasked. Read as the list it holds now.
    emails = pa.table({"emails": [f'["customer{i}@example.com.my"]' for i in range(30)]})
    held = profile_table(emails)["emails"]
    assert held.embedded_shares == {"email": 1.0}
    (column,) = classify_table(
        "crm", emails, ("2026-03-02", "2026-03-02"), POLICY, {"emails": held}
    )
    assert (column.semantic_type, column.sensitivity) == ("email", "pii")
    # Dictionary-encoded, and with a day's odd plain value among them: still read as lists.
    odd = pa.array([*emails.column("emails").to_pylist()[:29], "none"]).dictionary_encode()
    assert profile_table(pa.table({"emails": odd}))["emails"].embedded_shares == {
        "email": pytest.approx(29 / 30, abs=1e-3)
    }
    # Bracketed log lines and templates are not JSON: text, looked into as a short note is
    # (ADR-0203), so the address they hold beside other words is found all the same.
    logged = pa.table(
        {"log": [f"[INFO 2026-03-02] mailed u{i}@example.com [ok]" for i in range(30)]}
    )
    assert profile_table(logged)["log"].embedded_shares == {"email": 1.0}


SHORT_NOTES = ["called back", "no answer", "left voicemail", "card blocked", "promised to pay"]


def test_an_ic_number_pasted_into_short_notes_drifts_and_sends_the_column_to_review():
    """Notes of fewer than five words are no prose, and were never looked into."""
    clean = [SHORT_NOTES[i % 5] for i in range(2000)]
    pasted = ["IC 850101-14-5678 verified" if i % 20 == 0 else n for i, n in enumerate(clean)]
    baseline, now = (profile_table(pa.table({"notes": n}))["notes"] for n in (clean, pasted))
    assert now.embedded_shares == {"mykad": 0.05}
    drifts = detect_drift(baseline, now, POLICY.drift, POLICY.pii_types)
    assert "embedded.mykad" in {d.signal for d in drifts}
    (column,) = classify_table("crm", pa.table({"notes": pasted}), ("d", "d"), POLICY)
    assert column.sensitivity in (None, "pii")


def test_a_few_whole_value_ic_numbers_send_a_column_to_review():
    """Three IC numbers typed as a whole remark (0.15%, below embedded_pii_share): fail closed,
    as ADR-0145 does for pasted ones."""
    remarks = ["850101-14-5678" if i < 3 else SHORT_NOTES[i % 5] for i in range(2000)]
    (column,) = classify_table("crm", pa.table({"remarks": remarks}), ("d", "d"), POLICY)
    assert column.needs_review
    assert "mykad as the whole value of 0.15% of rows" in column.reason
    assert column.reason.endswith(
        "(below embedded_pii_share 0.50%): decide whether remarks holds PII"
    )


def test_ic_numbers_stored_as_integers_keep_those_born_in_the_2000s():
    """An integer drops the leading 0 of an IC number born in 2000-2009 (11 digits left)."""
    ics = [int(f"0{1 + i % 9}{1 + i % 12:02d}{1 + i % 28:02d}14{i:04d}") for i in range(500)]
    table = pa.table({"ic_number": pa.array(ics, pa.int64())})
    assert profile_table(table)["ic_number"].format_shares["mykad"] == 1.0
    (column,) = classify_table("customers", table, ("d", "d"), POLICY)
    assert column.semantic_type == "mykad"
    # Eleven-digit account numbers are still accounts: only the IC's test reads them padded.
    accounts = pa.table({"account_no": pa.array([51234567890 + i for i in range(500)])})
    shares = profile_table(accounts)["account_no"].format_shares
    assert shares["bank_account"] == 1.0 and shares.get("mykad", 0.0) == 0.0
