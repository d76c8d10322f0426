"""The reuse-by-year chart as inline SVG: one small panel per authority (no plotting library).

Input: ``audit.authority_trends`` (authority → shares by year). Each panel plots reused_share
(solid) and from_earlier_years (dashed) from 0 to 100 % over the years of the whole report, so
panels compare at a glance. Authority names are submitted data: escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

COLUMNS = 4
WIDTH, HEIGHT = 250, 140  # one panel
LEFT, RIGHT, TOP, BOTTOM = 34, 20, 22, 22
SERIES = (("reused_share", "#c44", ""), ("from_earlier_years", "#c99400", "4 3"))


def _scale(years: list[int]) -> tuple[int, int]:
    return (min(years), max(years)) if years else (0, 1)


def _panel(trend: dict[str, Any], x0: int, y0: int, span: tuple[int, int]) -> str:
    first, last = span
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(year: int) -> float:
        return x0 + LEFT + (year - first) / max(last - first, 1) * plot_w

    def y(share: float) -> float:
        return y0 + TOP + (1 - share) * plot_h

    name = escape(str(trend["authority"]), quote=True)
    parts = [
        f'<text class="title" x="{x0 + LEFT}" y="{y0 + 14}">{name}</text>',
        f'<rect x="{x0 + LEFT}" y="{y0 + TOP}" width="{plot_w}" height="{plot_h}" '
        'fill="none" stroke="#d8dde5"/>',
        f'<text x="{x0 + 2}" y="{y(1.0) + 4:.1f}">100%</text>',
        f'<text x="{x0 + 14}" y="{y(0.0) + 4:.1f}">0%</text>',
        *(
            f'<text text-anchor="middle" x="{x(year):.1f}" y="{y0 + HEIGHT - 6}">{year}</text>'
            for year in sorted({first, last})
        ),
    ]
    points = [row for row in trend["years"] if row["year"] is not None]
    for key, colour, dash in SERIES:
        coords = " ".join(f"{x(r['year']):.1f},{y(r[key]):.1f}" for r in points)
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"{dashed}/>')
    for r in points:
        parts.append(
            f'<circle cx="{x(r["year"]):.1f}" cy="{y(r["reused_share"]):.1f}" r="3" fill="#c44">'
            f"<title>{name} {r['year']}: reused {r['reused_share'] * 100:.1f}%, earlier years "
            f"{r['from_earlier_years'] * 100:.1f}% ({r['documents']} documents)</title></circle>"
        )
    return "".join(parts)


def chart_svg(trends: list[dict[str, Any]]) -> str:
    """An <svg> with one panel per authority and a legend; "" when there is nothing to plot."""
    if not trends:
        return '<p class="muted">no documents</p>'
    span = _scale([r["year"] for t in trends for r in t["years"] if r["year"] is not None])
    rows = (len(trends) + COLUMNS - 1) // COLUMNS
    width, height = WIDTH * min(COLUMNS, len(trends)), HEIGHT * rows + 24
    panels = "".join(
        _panel(t, (i % COLUMNS) * WIDTH, 24 + (i // COLUMNS) * HEIGHT, span) for i, t in enumerate(trends)
    )
    legend = (
        '<line x1="8" y1="12" x2="30" y2="12" stroke="#c44" stroke-width="2"/>'
        '<text x="34" y="16">复用 reused share</text>'
        '<line x1="170" y1="12" x2="192" y2="12" stroke="#c99400" stroke-width="2" stroke-dasharray="4 3"/>'
        '<text x="196" y="16">本单位往年 from earlier years</text>'
    )
    return (
        f'<svg class="chart" id="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="reuse share by year per authority">'
        f"{legend}{panels}</svg>"
    )
