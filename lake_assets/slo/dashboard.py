"""The platform health dashboard (issue 17): one static, self-contained HTML page from plain data.
Pure: panels, incidents and the evaluation time in, a string out; site.py publishes it.

Self-contained because a bank's network is closed: inline CSS, charts as inline SVG
(charts.py), no script, font or stylesheet fetched, and a Content-Security-Policy that forbids
fetching any. Every status is told in text as well as colour. Every string that comes from
configuration (ids, datasets, owners, descriptions, causes) is escaped. Elements carry stable
ids and data-* attributes (data-slo, data-status, data-kind) for tests and readers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

import numpy as np

from lake_assets.contracts.model import TIERS
from lake_assets.slo.charts import Rule, Scale, line_chart
from lake_assets.slo.engine import burn_conditions
from lake_assets.slo.model import (
    EXHAUSTED,
    FAST_BURN,
    SLOW_BURN,
    STATUSES,
    TIER_OF_KIND,
    BurnCondition,
    Incident,
    Slo,
    SloState,
)

STATUS_TEXT = {
    EXHAUSTED: "Budget exhausted",
    FAST_BURN: "Fast burn",
    SLOW_BURN: "Slow burn",
    "healthy": "Healthy",
    "no_data": "No data",
}
# A shape next to the text, so that the status reads without colour and without reading.
STATUS_MARK = {EXHAUSTED: "✖", FAST_BURN: "▲", SLOW_BURN: "◆", "healthy": "✔", "no_data": "?"}
# The budget is drawn down to -100% (spent twice over); below that the line stays at the floor.
BUDGET_FLOOR = -1.0


@dataclass(frozen=True)
class Panel:
    """One SLO on the dashboard: what it promises, its state at the evaluation, and its series
    over the slices from `start`, each `step` long (value i is the value at the end of slice
    i): the share of the error budget left, and the burn rate per window label ("1h", ...),
    as the engine's budget_series and burn_rate_series give them."""

    slo: Slo
    state: SloState
    start: datetime
    step: timedelta
    budget: np.ndarray
    burn_rates: Mapping[str, np.ndarray]


def render_dashboard(
    panels: Sequence[Panel],
    incidents: Sequence[Incident],
    evaluated_at: datetime,
) -> str:
    """The page: the evaluation time and a count per status, a table of every SLO's state
    (worst first), the open and the recently closed incidents (the caller chooses which
    closed ones), and a panel per SLO with its burn-down and burn-rate charts, the burn-rate
    chart showing the thresholds the engine alerts at for that SLO's window."""
    ordered = sorted(panels, key=_severity)
    open_incidents = sorted((i for i in incidents if i.open), key=lambda i: i.opened_at)
    closed = sorted((i for i in incidents if not i.open), key=lambda i: i.closed_at, reverse=True)
    body = "".join(
        [
            "<header><h1>Platform health</h1>",
            f'<p id="evaluated-at" data-at="{_utc(evaluated_at).isoformat()}">'
            f"Evaluated {_time(evaluated_at)}</p>",
            _summary(ordered),
            "</header><main>",
            _state_table(ordered),
            _open_incidents(open_incidents, evaluated_at),
            _closed_incidents(closed),
            '<section id="panels"><h2>Service level objectives</h2>',
            "".join(_panel(panel) for panel in ordered),
            "</section></main>",
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        # Nothing may be fetched: the page works, and looks the same, on a closed network.
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Platform health — {_time(evaluated_at)}</title>"
        f"<style>{CSS}</style></head><body>{body}</body></html>\n"
    )


def _severity(panel: Panel) -> tuple:
    status, tier = panel.state.status, panel.slo.tier
    return (
        STATUSES.index(status) if status in STATUSES else len(STATUSES),
        TIERS.index(tier) if tier in TIERS else len(TIERS),
        panel.slo.id,
    )


def _utc(at: datetime) -> datetime:
    # The lake's times are UTC; a naive one is taken as UTC, never as the machine's zone.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _time(at: datetime) -> str:
    return _utc(at).strftime("%Y-%m-%d %H:%M UTC")


def _duration(span: timedelta) -> str:
    """ "3d", "6h", "5m": the largest unit that divides the span, as window labels read."""
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _percent(share: float) -> str:
    return f"{round(share * 100, 3):g}%"


def _rate(rate: float) -> str:
    return "—" if rate is None or np.isnan(rate) else f"{rate:.1f}×"


def _status(status: str) -> str:
    text = STATUS_TEXT.get(status, status)
    mark = STATUS_MARK.get(status, "?")
    return (
        f'<span class="status s-{escape(status)}" data-status="{escape(status)}">'
        f'<span aria-hidden="true">{mark}</span> {escape(text)}</span>'
    )


def _kind(kind: str) -> str:
    """An incident's kind and how it reaches people: "Fast burn (alert)"."""
    reach = TIER_OF_KIND.get(kind)
    text = STATUS_TEXT.get(kind, kind) + (f" ({reach})" if reach else "")
    return f'<span class="status s-{escape(kind)}">{escape(text)}</span>'


def _anchor(slo_id: str) -> str:
    return "panel-" + escape(slo_id)


def _summary(panels: Sequence[Panel]) -> str:
    counts = {status: 0 for status in STATUSES}
    for panel in panels:
        counts[panel.state.status] = counts.get(panel.state.status, 0) + 1
    items = "".join(
        f'<li data-status="{escape(status)}" data-count="{count}">{count} {_status(status)}</li>'
        for status, count in counts.items()
        if count
    )
    return f'<ul id="summary">{items}</ul>'


def _state_table(panels: Sequence[Panel]) -> str:
    rows = []
    for panel in panels:
        slo, state = panel.slo, panel.state
        rates = " ".join(
            f'<span class="rate" data-window="{escape(label)}">{escape(label)} {_rate(rate)}</span>'
            for label, rate in state.burn_rates.items()
        )
        overspent = " overspent" if state.budget_remaining < 0 else ""
        rows.append(
            f'<tr data-slo="{escape(slo.id)}" data-status="{escape(state.status)}">'
            f'<td><a href="#{_anchor(slo.id)}">{escape(slo.id)}</a></td>'
            f'<td class="dataset">{escape(", ".join(slo.datasets))}</td>'
            f'<td class="sli">{escape(slo.sli)}</td>'
            f'<td class="tier">{escape(slo.tier)}</td>'
            f'<td class="objective">{_percent(slo.objective)} / {_duration(slo.window)}</td>'
            f'<td class="budget{overspent}" data-budget="{state.budget_remaining:.6f}">'
            f"{_percent(state.budget_remaining)}</td>"
            f'<td class="rates">{rates}</td>'
            f"<td>{_status(state.status)}</td></tr>"
        )
    return (
        '<section id="states"><h2>Every dataset at a glance</h2>'
        '<table id="slo-table"><thead><tr><th>SLO</th><th>Dataset</th><th>SLI</th>'
        "<th>Tier</th><th>Objective / window</th><th>Budget left</th><th>Burn rates</th>"
        f"<th>Status</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _cause(incident: Incident) -> str:
    return f"upstream {escape(incident.cause)} late" if incident.cause else "—"


def _incident_cells(incident: Incident) -> str:
    return (
        f'<td><a href="#{_anchor(incident.slo_id)}">{escape(incident.slo_id)}</a></td>'
        f"<td>{_kind(incident.kind)}</td><td>{_time(incident.opened_at)}</td>"
    )


def _open_incidents(incidents: Sequence[Incident], evaluated_at: datetime) -> str:
    if not incidents:
        return '<section id="incidents"><h2>Open incidents</h2><p class="none">None open.</p></section>'
    rows = "".join(
        f'<tr data-slo="{escape(i.slo_id)}" data-kind="{escape(i.kind)}" data-open="true">'
        f"{_incident_cells(i)}"
        f"<td>{_age(_utc(evaluated_at) - _utc(i.opened_at))}</td>"
        f'<td class="cause">{_cause(i)}</td></tr>'
        for i in incidents
    )
    return (
        f'<section id="incidents"><h2>Open incidents ({len(incidents)})</h2>'
        '<table id="open-incidents"><thead><tr><th>SLO</th><th>Kind</th><th>Opened</th>'
        f"<th>Open for</th><th>Cause</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _age(span: timedelta) -> str:
    minutes = max(int(span.total_seconds()) // 60, 0)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    return f"{days}d {hours}h" if days else f"{hours}h {minutes}m"


def _closed_incidents(incidents: Sequence[Incident]) -> str:
    if not incidents:
        return ""
    rows = "".join(
        f'<tr data-slo="{escape(i.slo_id)}" data-kind="{escape(i.kind)}" data-open="false">'
        f"{_incident_cells(i)}<td>{_time(i.closed_at)}</td>"
        f'<td class="cause">{_cause(i)}</td></tr>'
        for i in incidents
    )
    return (
        '<section id="closed"><h2>Recently closed</h2>'
        '<table id="closed-incidents"><thead><tr><th>SLO</th><th>Kind</th><th>Opened</th>'
        f"<th>Closed</th><th>Cause</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _x_labels(panel: Panel, length: int) -> list[str]:
    end = panel.start + panel.step * length
    middle = panel.start + (end - panel.start) / 2
    return [_time(at).removesuffix(" UTC") for at in (panel.start, middle, end)]


def _budget_chart(panel: Panel) -> str:
    budget = np.asarray(panel.budget, dtype=float)
    lowest = float(np.nanmin(budget)) if np.any(~np.isnan(budget)) else 0.0
    floor = max(BUDGET_FLOOR, min(0.0, lowest))
    rules = [Rule(1.0, "100%"), Rule(0.5, "50%")]
    rules.append(Rule(0.0, "0%", "threshold exhausted", {"kind": EXHAUSTED, "value": "0"}))
    if floor < 0:
        rules.append(Rule(floor, _percent(floor)))
    return line_chart(
        "Error budget left (burn-down)",
        {"budget left": budget},
        Scale(floor, 1.0),
        rules,
        _x_labels(panel, len(budget)),
        {"slo": panel.slo.id, "chart": "budget"},
        note="Dashed: exhausted (an incident opens).",
    )


def _burn_chart(panel: Panel, conditions: Sequence[BurnCondition]) -> str:
    series = {label: np.asarray(rates, dtype=float) for label, rates in panel.burn_rates.items()}
    highest = max(
        [float(np.nanmax(v)) for v in series.values() if np.any(~np.isnan(v))]
        + [c.factor * 1.5 for c in conditions]
        + [2.0]
    )
    rules = [Rule(0.0, "0")]
    for condition in sorted(conditions, key=lambda c: c.factor):
        windows = f"{_duration(condition.long)} & {_duration(condition.short)}"
        rules.append(
            Rule(
                condition.factor,
                f"{condition.factor:g}×",
                f"threshold {condition.kind}",
                {"kind": condition.kind, "value": f"{condition.factor:g}", "windows": windows},
            )
        )
    length = max((len(v) for v in series.values()), default=0)
    return line_chart(
        "Burn rate per window",
        series,
        Scale(0.0, highest, log=True),
        rules,
        _x_labels(panel, length),
        {"slo": panel.slo.id, "chart": "burn-rate"},
        note=_thresholds_note(conditions),
    )


def _thresholds_note(conditions: Sequence[BurnCondition]) -> str:
    """What the dashed lines are, in words: "Dashed: fast burn (alert) at 14.4× over 1h and
    5m, ...", since a line's colour alone must not tell which kind it is."""
    told = []
    for kind in (FAST_BURN, SLOW_BURN):
        windows = [
            f"{c.factor:g}× over {_duration(c.long)} and {_duration(c.short)}"
            for c in conditions
            if c.kind == kind
        ]
        if windows:
            told.append(
                f"{STATUS_TEXT[kind].lower()} ({TIER_OF_KIND[kind]}) at {', '.join(windows)}"
            )
    return "Dashed: " + "; ".join(told) + "." if told else ""


def _panel(panel: Panel) -> str:
    slo, state = panel.slo, panel.state
    # A 28-day SLO alerts at other factors than a 30-day one (engine.burn_conditions).
    conditions = burn_conditions(slo.window)
    firing = ", ".join(state.firing) or "none"
    facts = [
        ("Datasets", ", ".join(slo.datasets)),
        ("SLI", slo.sli + (f" (threshold {slo.threshold:g})" if slo.threshold is not None else "")),
        ("Tier", slo.tier),
        ("Objective", f"{_percent(slo.objective)} over {_duration(slo.window)}"),
        ("Good events", f"{state.good:,} of {state.total:,}"),
        ("Budget left", _percent(state.budget_remaining)),
        ("Firing", firing),
        ("Owner", slo.owner),
        ("Declared in", slo.source or "—"),
    ]
    facts_html = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    description = f"<p>{escape(slo.description)}</p>" if slo.description else ""
    return (
        f'<article class="panel" id="{_anchor(slo.id)}" data-slo="{escape(slo.id)}" '
        f'data-status="{escape(state.status)}">'
        f"<h3>{escape(slo.id)} {_status(state.status)}</h3>{description}"
        f'<dl class="facts">{facts_html}</dl>'
        f'<div class="charts">{_budget_chart(panel)}{_burn_chart(panel, conditions)}</div>'
        "</article>"
    )


CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{background:#1b2a3a;color:#fff;padding:12px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0}main{padding:8px 24px}
#summary{list-style:none;padding:0;margin:6px 0 0;display:flex;gap:16px}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border-bottom:1px solid #d6dae0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef0f3}.budget.overspent{color:#8b0000;font-weight:600}
.rate{display:inline-block;margin-right:8px;white-space:nowrap}
.status{display:inline-block;padding:1px 6px;border-radius:3px;font-weight:600;white-space:nowrap}
.s-exhausted{background:#5c0000;color:#fff}.s-fast_burn{background:#c62828;color:#fff}
.s-slow_burn{background:#f0b429;color:#1b1f24}.s-healthy{background:#2e7d32;color:#fff}
.s-no_data{background:#9aa3ad;color:#1b1f24}
.panel{background:#fff;border:1px solid #d6dae0;margin:12px 0;padding:8px 16px}
.panel h3{margin:4px 0}.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}
.facts dt{color:#5c6670}.facts dd{margin:0}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{margin:0;max-width:640px}
.note{display:block;color:#5c6670;font-size:12px}
svg .frame{fill:#fbfcfd;stroke:#d6dae0}svg .axis{font-size:10px;fill:#5c6670}
svg .rule{stroke:#e3e6ea}svg .threshold{stroke-dasharray:4 3;stroke-width:1.2}
svg .threshold.fast_burn,svg .threshold.exhausted{stroke:#c62828}
svg .threshold.slow_burn{stroke:#d99a00}
svg .series{fill:none;stroke-width:1.6}
.legend{list-style:none;padding:0;margin:2px 0;display:flex;gap:12px;font-size:12px}
.swatch{display:inline-block;width:12px;height:3px;margin-right:4px;vertical-align:middle}
"""
