"""The reuse-by-year chart's geometry: one small panel per authority (no plotting library).

Input: ``reuse.authority_trends`` (authority → shares by year). Each panel plots reused_share
(solid) and from_earlier_years (dashed) from 0 to 100 % over the years of the whole report, so
panels compare at a glance. ``templates/chart.svg`` draws it; the numbers are computed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

COLUMNS = 4
WIDTH, HEIGHT = 250, 140  # one panel
LEFT, RIGHT, TOP, BOTTOM = 34, 20, 22, 22
LEGEND = 24  # the legend's band above the panels
SERIES = (("reused_share", "#c44", ""), ("from_earlier_years", "#c99400", "4 3"))


@dataclass(frozen=True)
class Line:
    points: str  # "x,y x,y …" in SVG units
    colour: str
    dash: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    year: int
    reused: float
    earlier: float
    documents: int


@dataclass(frozen=True)
class Panel:
    authority: str | None
    left: int  # the plot area
    top: int
    width: int
    height: int
    ticks: list[tuple[int, float]]  # (year, x)
    lines: list[Line]
    dots: list[Dot]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    panels: list[Panel]


def _scale(years: list[int]) -> tuple[int, int]:
    return (min(years), max(years)) if years else (0, 1)


def _panel(trend: dict[str, Any], x0: int, y0: int, span: tuple[int, int]) -> Panel:
    first, last = span
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(year: int) -> float:
        return x0 + LEFT + (year - first) / max(last - first, 1) * plot_w

    def y(share: float) -> float:
        return y0 + TOP + (1 - share) * plot_h

    points = [row for row in trend["years"] if row["year"] is not None]
    lines = [
        Line(" ".join(f"{x(r['year']):.1f},{y(r[key]):.1f}" for r in points), colour, dash)
        for key, colour, dash in SERIES
    ]
    dots = [
        Dot(
            x(r["year"]),
            y(r["reused_share"]),
            r["year"],
            r["reused_share"],
            r["from_earlier_years"],
            r["documents"],
        )
        for r in points
    ]
    ticks = [(year, x(year)) for year in sorted({first, last})]
    return Panel(trend["authority"], x0 + LEFT, y0 + TOP, plot_w, plot_h, ticks, lines, dots)


def chart(trends: list[dict[str, Any]]) -> Chart | None:
    """The panels laid out in rows of ``COLUMNS``; None when there is nothing to plot."""
    if not trends:
        return None
    span = _scale([r["year"] for t in trends for r in t["years"] if r["year"] is not None])
    rows = (len(trends) + COLUMNS - 1) // COLUMNS
    panels = [
        _panel(t, (i % COLUMNS) * WIDTH, LEGEND + (i // COLUMNS) * HEIGHT, span) for i, t in enumerate(trends)
    ]
    return Chart(WIDTH * min(COLUMNS, len(trends)), HEIGHT * rows + LEGEND, panels)
