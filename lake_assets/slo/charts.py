"""Line charts as inline SVG for the SLO dashboard (dashboard.py). Pure: arrays in, markup out.

Drawn by hand rather than with a charting library: the page must open on a bank's closed
network with nothing to fetch, and two kinds of line chart do not need one. A long series is
reduced to at most MAX_POINTS points before it is drawn, keeping each bucket's lowest and
highest value, so a five-minute outage in 30 days of minutes still shows as a spike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

MAX_POINTS = 300
WIDTH, HEIGHT = 640, 190
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 10, 24  # margins around the plotting area, in px
# One colour per series (a legend names each in text too); the thresholds have their own.
PALETTE = ("#1f5fa8", "#7b3fa0", "#138a7e", "#9a6a12", "#5c6670")


def downsample(values: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(positions, values) of at most `max_points` points of `values`: the series itself when
    short, else each bucket's lowest and highest value at their own positions, in order. A
    missing value (NaN) is kept as a gap; a bucket with nothing but gaps is a gap."""
    values = np.asarray(values, dtype=float)
    count = len(values)
    if count <= max_points:
        return np.arange(count, dtype=float), values
    size = -(-count // (max_points // 2))  # slices per bucket, rounded up
    buckets = -(-count // size)
    padded = np.full(buckets * size, np.nan)
    padded[:count] = values
    shaped = padded.reshape(buckets, size)
    missing = np.isnan(shaped)
    at_low = np.argmin(np.where(missing, np.inf, shaped), axis=1)
    at_high = np.argmax(np.where(missing, -np.inf, shaped), axis=1)
    low, high = np.fmin.reduce(shaped, axis=1), np.fmax.reduce(shaped, axis=1)
    base = np.arange(buckets) * size
    low_first = at_low <= at_high
    first = np.where(low_first, at_low, at_high) + base
    second = np.where(low_first, at_high, at_low) + base
    positions = np.column_stack([first, second]).ravel().astype(float)
    picked = np.column_stack(
        [np.where(low_first, low, high), np.where(low_first, high, low)]
    ).ravel()
    # A flat bucket (its lowest value is its highest, at one position) is one point.
    keep = np.ones(len(positions), dtype=bool)
    keep[1::2] = second != first
    return positions[keep], picked[keep]


@dataclass(frozen=True)
class Scale:
    """Maps a value to its height in the plotting area (0 bottom, 1 top), clipped. A log
    scale (of 1 + value) keeps 1x, 3x, 6x and 14.4x apart and an outage's 100x on the chart."""

    low: float
    high: float
    log: bool = False

    def __call__(self, values: np.ndarray) -> np.ndarray:
        values = np.clip(np.asarray(values, dtype=float), self.low, self.high)
        if self.log:
            return np.log1p(values) / np.log1p(self.high)
        return (values - self.low) / (self.high - self.low)


@dataclass(frozen=True)
class Rule:
    """A horizontal line across the chart: a tick of the axis or an alerting threshold."""

    value: float
    label: str
    css: str = "tick"  # "tick", or the class that colours a threshold
    data: Mapping[str, str] | None = None  # data-* attributes, for tests and readers


def _x(positions: np.ndarray, length: int) -> np.ndarray:
    return LEFT + positions / max(length - 1, 1) * (WIDTH - LEFT - RIGHT)


def _y(heights: np.ndarray) -> np.ndarray:
    return TOP + (1 - heights) * (HEIGHT - TOP - BOTTOM)


def path_data(positions: np.ndarray, heights: np.ndarray, length: int) -> str:
    """An SVG path through the points, broken where a value is missing."""
    xs, ys = _x(positions, length), _y(heights)
    parts, pen_down = [], False
    for x, y in zip(xs, ys, strict=True):
        if np.isnan(y):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
        pen_down = True
    return " ".join(parts)


def _attributes(data: Mapping[str, str] | None) -> str:
    return "".join(f' data-{name}="{escape(value)}"' for name, value in (data or {}).items())


def line_chart(
    title: str,
    series: Mapping[str, np.ndarray],
    scale: Scale,
    rules: Sequence[Rule],
    x_labels: Sequence[str],
    data: Mapping[str, str],
    note: str = "",
) -> str:
    """One chart: a path per series (downsampled), its rules with their labels on the left
    axis, `x_labels` spread evenly under it, and a caption: the title, `note` (what the
    thresholds mean) and a legend naming every series in text."""
    length = max((len(values) for values in series.values()), default=0)
    lines = []
    for rule in rules:
        y = _y(scale(np.array([rule.value])))[0]
        lines.append(
            f'<line class="rule {rule.css}" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
            f'y2="{y:.1f}"{_attributes(rule.data)}/>'
            f'<text class="axis" x="{LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">'
            f"{escape(rule.label)}</text>"
        )
    for index, label in enumerate(x_labels):
        x = LEFT + index / max(len(x_labels) - 1, 1) * (WIDTH - LEFT - RIGHT)
        anchor = "start" if index == 0 else "end" if index == len(x_labels) - 1 else "middle"
        lines.append(
            f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}">'
            f"{escape(label)}</text>"
        )
    legend = []
    for index, (label, values) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        positions, picked = downsample(values)
        lines.append(
            f'<path class="series" data-series="{escape(label)}" '
            f'data-points="{len(picked)}" stroke="{colour}" '
            f'd="{path_data(positions, scale(picked), length)}"/>'
        )
        legend.append(
            f'<li><span class="swatch" style="background:{colour}"></span>{escape(label)}</li>'
        )
    return (
        f'<figure class="chart"{_attributes(data)}>'
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img">'
        f"<title>{escape(title)}</title>"
        f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{HEIGHT - TOP - BOTTOM}"/>'
        f"{''.join(lines)}</svg>"
        f"<figcaption><strong>{escape(title)}</strong>"
        + (f'<span class="note">{escape(note)}</span>' if note else "")
        + f'<ul class="legend">{"".join(legend)}</ul></figcaption>'
        "</figure>"
    )
