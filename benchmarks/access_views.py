"""Masked views: regenerating every view of 100 datasets x 20 subject profiles (issue 14,
target under 2 s), against plain string formatting of the same SELECT lists.

The subject is what the masked_views asset does after deciding: render each allowed Decision
as a Trino view from checked parts (views.render_views: each treatment's template and each row
filter parsed by sqlglot once), from scratch each round. The baseline formats the same column
expressions into the same statements without parsing anything, so the ratio is what checking
costs. A sample parsed whole says what parsing every statement would cost instead (the engines'
path parses each whole before running it). Decisions are constructed (the engine's own
benchmark measures deciding): per profile and dataset a rotation of every treatment over 20
columns of every field type, a row filter on a quarter of them, a denied dataset in ten.
"""

from __future__ import annotations

from functools import partial

from benchmarks.timing import alternate, print_table, timed
from lake_assets.access import views as view_module
from lake_assets.access.model import ColumnDecision, Decision, Treatment
from lake_assets.access.views import ViewSource, _masked, _quoted, render_views, validate

DATASETS, PROFILES, COLUMNS = 100, 20, 20
REPEATS = 5
SAMPLE = 100  # statements parsed whole, to say what that would cost
SUBJECT, BASELINE = "checked parts", "string formatting"
TREATMENTS = {
    "string": [Treatment("clear"), Treatment("partial", "last4"), Treatment("token")],
    "double": [Treatment("clear"), Treatment("generalise", "band:1000"), Treatment("null")],
    "date": [Treatment("clear"), Treatment("generalise", "month"), Treatment("deny")],
    "integer": [Treatment("clear"), Treatment("null")],
}
KINDS = list(TREATMENTS)


def workload() -> tuple[list[Decision], dict[str, ViewSource]]:
    sources = {
        f"dataset_{d:03}": ViewSource(
            f"dataset_{d:03}",
            "lakehouse_curated",
            {f"column_{c:02}": KINDS[c % len(KINDS)] for c in range(COLUMNS)},
        )
        for d in range(DATASETS)
    }
    decisions = []
    for p in range(PROFILES):
        for d, source in enumerate(sources.values()):
            columns = {
                name: ColumnDecision(
                    name, TREATMENTS[kind][(p + d + c) % len(TREATMENTS[kind])], "bench", "bench"
                )
                for c, (name, kind) in enumerate(source.columns.items())
            }
            decisions.append(
                Decision(
                    f"{p}-{d}",
                    f"profile_{p:02}",
                    source.dataset,
                    "deny" if (p + d) % 10 == 0 else "allow",
                    columns,
                    "bench",
                    "bench",
                    row_filter="column_00 = 'MY'" if (p + d) % 4 == 0 else None,
                )
            )
    return decisions, sources


def formatted(decisions: list[Decision], sources: dict[str, ViewSource], _round: int) -> list:
    """The same statements, formatted and not parsed."""
    statements = []
    for decision in decisions:
        if decision.outcome != "allow":
            continue
        source = sources[decision.dataset]
        selected = []
        for name, kind in source.columns.items():
            treatment = decision.columns[name].treatment
            if treatment.kind == "deny":
                continue
            if treatment.kind == "token":  # no key here: withheld, as render_views does
                treatment = Treatment("null")
            selected.append(
                f"{_masked(_quoted(name), kind, treatment, None)[0]} AS {_quoted(name)}"
            )
        sql = f'SELECT {", ".join(selected)} FROM "{source.database}"."{source.dataset}"'
        statements.append(sql + (f" WHERE ({decision.row_filter})" if decision.row_filter else ""))
    return sorted(statements)


def regenerated(decisions: list[Decision], sources: dict[str, ViewSource], _round: int) -> list:
    """Every view from scratch: the parsed templates and filters forgotten, as in a new process."""
    view_module._template.cache_clear()
    view_module._checked_filter.cache_clear()
    return render_views(decisions, sources)


def run(_rows: int) -> str:
    decisions, sources = workload()
    cases = {
        BASELINE: partial(formatted, decisions, sources),
        SUBJECT: partial(regenerated, decisions, sources),
    }
    runs = alternate(cases, REPEATS)
    views = runs[SUBJECT].result
    same = [v.sql for v in sorted(views, key=lambda v: v.sql)] == runs[BASELINE].result
    print_table(
        f"Masked views: {len(views):,} views of {DATASETS} datasets x {PROFILES} profiles",
        ["case", "median s", "runs"],
        [[name, r.median, r.spread()] for name, r in runs.items()],
    )
    # What parsing each statement whole costs (done before an engine runs it, not here).
    sample = views[:: max(1, len(views) // SAMPLE)][:SAMPLE]
    seconds, _ = timed(lambda: [validate(v) for v in sample])
    whole = seconds / len(sample) * len(views)
    print(
        f"  whole-statement parse: {seconds / len(sample) * 1000:.1f} ms a view, "
        f"{whole:.1f} s for all (from {len(sample)})"
    )
    subject = runs[SUBJECT].median
    ratio = subject / runs[BASELINE].median
    return (
        f"access views: {subject:.2f} s for {len(views):,} views (target < 2 s), "
        f"{ratio:.1f} x string formatting (a whole parse of each: {whole:.0f} s); "
        + ("same SQL" if same else "SQL DIFFERS")
    )
