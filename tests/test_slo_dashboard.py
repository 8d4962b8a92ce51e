"""The platform health dashboard (lake_assets/slo/dashboard.py, charts.py, site.py): the page a
fast burn, a slow burn, a healthy SLO and an open incident give, as Debian's chromium shows it
(skipped only where /usr/bin/chromium or Playwright is missing: `make test` installs both);
the HTML itself (escaping, nothing fetched, downsampled charts); and its publication to the
local lake and to S3 (the moto server) as a page."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import boto3
import numpy as np
import pytest

from lake_assets.slo.charts import MAX_POINTS, downsample
from lake_assets.slo.dashboard import Panel, render_dashboard
from lake_assets.slo.model import (
    EXHAUSTED,
    FAST_BURN,
    SLOW_BURN,
    Incident,
    Slo,
    SloState,
)
from lake_assets.slo.site import DASHBOARD_KEY, publish_dashboard
from resources.aws.s3 import S3Storage
from resources.storage import LocalStorage

NOW = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
HOSTILE = '<script>alert("x")</script> & "quotes"'


def _slo(id_: str, tier: str, cadence: timedelta, **extra) -> Slo:
    return Slo(
        id=id_,
        datasets=(id_.split(".")[0],),
        sli=id_.split(".")[1],
        objective=0.999 if tier != "standard" else 0.99,
        window=timedelta(days=30),
        tier=tier,
        cadence=cadence,
        min_events=10,
        owner="payments-data",
        source="config/slo/payments.yaml",
        **extra,
    )


def _fast_burn() -> Panel:
    """30 days of minutes (43,200 slices): calm, then an outage in the last 40 minutes."""
    slo = _slo("card_transactions.freshness", "critical", MINUTE, description=HOSTILE)
    count = 30 * 24 * 60
    one_hour = np.full(count, 0.2)
    one_hour[-40:] = 22.0
    one_hour[count // 2 : count // 2 + 1440] = np.nan  # a day without events: a gap
    budget = np.linspace(1.0, 0.62, count)
    budget[-40:] = np.linspace(0.62, 0.41, 40)
    rates = {"1h": 22.0, "6h": 7.1, "1d": 2.0, "3d": 0.9}
    state = SloState(
        slo.id, NOW, 43_000, 43_200, 0.41, rates, ("14.4x_1h_5m", "6x_6h_30m"), FAST_BURN
    )
    burn = {"1h": one_hour, "6h": np.full(count, 7.1), "1d": np.full(count, 2.0)}
    return Panel(slo, state, NOW - 30 * DAY, MINUTE, budget, burn)


def _slow_burn() -> Panel:
    """A daily batch: one slice a day for 30 days, a steady 1.5x."""
    slo = _slo("customer_360.quality", "standard", DAY)
    state = SloState(slo.id, NOW, 29, 30, 0.55, {"1d": 1.5, "3d": 1.5}, ("1x_3d_6h",), SLOW_BURN)
    burn = {"1d": np.full(30, 1.5), "3d": np.full(30, 1.5)}
    return Panel(slo, state, NOW - 30 * DAY, DAY, np.linspace(1.0, 0.55, 30), burn)


def _healthy() -> Panel:
    slo = _slo("regulatory_report.completeness", "regulatory", DAY)
    state = SloState(slo.id, NOW, 30, 30, 1.0, {"1d": 0.0, "3d": 0.0}, (), "healthy")
    burn = {"1d": np.zeros(30), "3d": np.zeros(30)}
    return Panel(slo, state, NOW - 30 * DAY, DAY, np.ones(30), burn)


INCIDENTS = (
    Incident("card_transactions.freshness", FAST_BURN, NOW - 35 * MINUTE, cause="core_accounts"),
    Incident("customer_360.quality", EXHAUSTED, NOW - 9 * DAY, NOW - 8 * DAY),
)


def _page(panels=None, incidents=INCIDENTS) -> str:
    panels = panels if panels is not None else [_healthy(), _slow_burn(), _fast_burn()]
    return render_dashboard(panels, incidents, NOW)


# --------------------------------------------------------------------------------------------
# In a real browser
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shown(browser, tmp_path_factory):
    """The dashboard published to a local lake and opened from there, with every request the
    page made."""
    storage = LocalStorage(tmp_path_factory.mktemp("lake"))
    publish_dashboard(_page(), storage)
    page = browser.new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(storage.uri(DASHBOARD_KEY))
    yield page, requests
    page.close()


def test_the_browser_shows_every_slo_worst_first_with_its_status_in_text(shown):
    page, _ = shown
    rows = page.locator("#slo-table tbody tr")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.slo)") == [
        "card_transactions.freshness",
        "customer_360.quality",
        "regulatory_report.completeness",
    ]
    statuses = [rows.nth(i).locator("td").last.inner_text().strip() for i in range(3)]
    assert statuses == ["▲ Fast burn", "◆ Slow burn", "✔ Healthy"]
    fast = page.locator('#slo-table tr[data-slo="card_transactions.freshness"]')
    assert fast.locator("td.budget").inner_text() == "41%"
    assert fast.locator('.rate[data-window="1h"]').inner_text() == "1h 22.0×"
    assert fast.locator("td.objective").inner_text() == "99.9% / 30d"
    # Colour as well as text: the stylesheet reached the badge.
    badge = fast.locator(".status")
    assert badge.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(198, 40, 40)"
    assert page.locator("#summary li").all_inner_texts() == [
        "1 ▲ Fast burn",
        "1 ◆ Slow burn",
        "1 ✔ Healthy",
    ]
    assert page.locator("#evaluated-at").inner_text() == "Evaluated 2026-12-02 18:00 UTC"


def test_the_browser_draws_both_charts_of_every_slo(shown):
    page, _ = shown
    for slo_id in ("card_transactions.freshness", "customer_360.quality"):
        panel = page.locator(f'article.panel[data-slo="{slo_id}"]')
        for chart in ("budget", "burn-rate"):
            paths = panel.locator(f'figure[data-chart="{chart}"] path.series')
            assert paths.count() >= 1
            for index in range(paths.count()):
                box = paths.nth(index).bounding_box()
                assert box is not None and box["width"] > 300, (slo_id, chart, box)
    burn = page.locator(
        'article[data-slo="card_transactions.freshness"] figure[data-chart="burn-rate"]'
    )
    thresholds = burn.locator("line.threshold")
    assert thresholds.evaluate_all("ls => ls.map(l => l.dataset.value)") == ["1", "3", "6", "14.4"]
    assert burn.locator(".legend li").all_inner_texts() == ["1h", "6h", "1d"]
    # 43,200 minutes drawn as at most a few hundred points, the outage's spike among them.
    one_hour = burn.locator('path[data-series="1h"]')
    assert int(one_hour.get_attribute("data-points")) <= MAX_POINTS
    assert one_hour.get_attribute("d").count("M") == 2  # the day without events is a gap


def test_the_browser_lists_the_open_incident_with_its_upstream_cause(shown):
    page, _ = shown
    rows = page.locator("#open-incidents tbody tr")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-slo") == "card_transactions.freshness"
    cells = rows.first.locator("td").all_inner_texts()
    assert cells == [
        "card_transactions.freshness",
        "Fast burn (alert)",
        "2026-12-02 17:25 UTC",
        "0h 35m",
        "upstream core_accounts late",
    ]
    closed = page.locator("#closed-incidents tbody tr").first.locator("td").all_inner_texts()
    assert closed[:2] == ["customer_360.quality", "Budget exhausted (incident)"]


def test_the_page_fetches_nothing_and_runs_no_script_from_config(shown):
    page, requests = shown
    assert [url for url in requests if not url.startswith("file://")] == []
    assert page.locator("script").count() == 0
    description = page.locator('article[data-slo="card_transactions.freshness"] > p')
    assert description.inner_text() == HOSTILE


# --------------------------------------------------------------------------------------------
# The HTML and the charts, without a browser
# --------------------------------------------------------------------------------------------


def test_strings_from_config_are_escaped_everywhere():
    hostile_slo = _slo('x"><b>.freshness', "standard", DAY, description=HOSTILE)
    panel = Panel(
        hostile_slo,
        SloState(hostile_slo.id, NOW, 1, 1, 1.0, {'1"d': 0.0}),
        NOW - DAY,
        DAY,
        np.ones(1),
        {'1"d': np.zeros(1)},
    )
    incident = Incident(hostile_slo.id, FAST_BURN, NOW, cause="<img src=x>")
    page = _page([panel], [incident])
    assert "<script>" not in page and "<b>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page
    assert 'data-slo="x&quot;&gt;&lt;b&gt;.freshness"' in page
    assert 'data-window="1&quot;d"' in page


def test_the_page_is_self_contained():
    page = _page()
    assert "default-src 'none'" in page
    # No address to fetch anything from: no scheme, no src, no stylesheet link.
    assert not re.search(r"https?:|\bsrc=|<link|<script|@import|url\(", page)


def test_no_open_incident_and_an_slo_without_events_still_render():
    slo = _slo("ledger.success", "critical", DAY)
    empty = Panel(
        slo, SloState(slo.id, NOW, 0, 0, 1.0, {}, (), "no_data"), NOW, DAY, np.array([]), {}
    )
    page = _page([empty], [])
    assert "None open." in page and 'data-status="no_data"' in page


def test_downsampling_bounds_the_points_and_keeps_the_extremes_in_order():
    values = np.sin(np.arange(43_200) / 500.0)
    values[12_345], values[40_000] = 50.0, -50.0
    positions, picked = downsample(values)
    assert len(picked) <= MAX_POINTS
    assert np.all(np.diff(positions) > 0)
    assert picked.max() == 50.0 and positions[picked.argmax()] == 12_345
    assert picked.min() == -50.0 and positions[picked.argmin()] == 40_000
    np.testing.assert_array_equal(values[positions.astype(int)], picked)


def test_a_short_series_is_drawn_as_is_and_a_gap_stays_a_gap():
    positions, picked = downsample(np.array([1.0, np.nan, 3.0]))
    np.testing.assert_array_equal(positions, [0, 1, 2])
    np.testing.assert_array_equal(picked, [1.0, np.nan, 3.0])
    long = np.ones(1000)
    long[400:600] = np.nan
    _, picked = downsample(long, max_points=100)
    assert len(picked) <= 100 and np.isnan(picked).any() and np.nanmax(picked) == 1.0


# --------------------------------------------------------------------------------------------
# Published to the lake
# --------------------------------------------------------------------------------------------


def test_published_to_the_local_lake(tmp_path):
    storage = LocalStorage(tmp_path / "lake")
    publish_dashboard("<p>first</p>", storage)
    publish_dashboard("<p>second</p>", storage)
    assert (tmp_path / "lake" / "site" / "slo" / "index.html").read_text() == "<p>second</p>"


def test_published_to_s3_as_a_page(aws_endpoint):
    region, bucket = "eu-west-1", "lake-site"
    s3 = boto3.client("s3", endpoint_url=aws_endpoint, region_name=region)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    page = _page()
    info = publish_dashboard(
        page, S3Storage(bucket, "lake", endpoint_url=aws_endpoint, region=region)
    )
    assert info.key == DASHBOARD_KEY
    stored = s3.get_object(Bucket=bucket, Key="lake/site/slo/index.html")
    assert stored["ContentType"] == "text/html; charset=utf-8"
    assert stored["Body"].read().decode("utf-8") == page


def test_each_slo_is_drawn_with_the_thresholds_the_engine_alerts_it_at():
    """A best-effort SLO's window is 28 days: its burn chart's lines are the factors the engine
    fires at for that window (engine.burn_conditions), not a 30-day SLO's."""
    thirty = _slow_burn()
    best_effort = replace(
        thirty, slo=replace(thirty.slo, id="crm_contacts.latency", window=28 * DAY)
    )
    page = _page([thirty, best_effort], [])
    drawn = {}
    for article in page.split('<article class="panel"')[1:]:
        slo_id = re.search(r'data-slo="([^"]+)"', article).group(1)
        drawn[slo_id] = set(re.findall(r'data-value="([0-9.]+)"', article)) - {"0"}  # the axis
    assert drawn == {
        "customer_360.quality": {"1", "3", "6", "14.4"},
        "crm_contacts.latency": {"0.933333", "2.8", "5.6", "13.44"},
    }
