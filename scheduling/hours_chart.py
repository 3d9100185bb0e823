"""The weekly hours bar chart: one bar per week against the "at least" and "fewer than" lines.

Pure (no Django): server-rendered SVG with no script, no external font or CSS, so the page and a PDF show
the same picture (like clinic/charts.py, which draws lines, not bars). Accessible: role="img" with a
<title> and a <desc> that say the numbers in words; the lines are told apart by dash pattern and label
as well as colour; a week in progress is a hatched-outline bar and says so in its tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

INK = "#17212b"
MUTED = "#4a5666"
GRID = "#d5dbe1"
BAR = "#0b5c7a"  # >= 4.5:1 on white
BAR_LOW = "#b42318"
MIN_LINE = "#14532d"
CEILING_LINE = "#6b21a8"
FONT = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Bar:
    week_start: date
    hours: Decimal
    complete: bool = True
    below: bool = False  # below the minimum (drawn in the warning colour)


def _esc(text: object) -> str:
    return escape(str(text), {'"': "&quot;"})


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _day(d: date) -> str:
    return f"{MONTHS[d.month - 1]} {d.day}"


def _top(values: Sequence[float]) -> float:
    """A round axis top at or above every value (steps of 5 hours; at least 10)."""
    return max(10.0, math.ceil(max(values, default=0) / 5 + 0.2) * 5)


def render_hours_chart(
    bars: Sequence[Bar],
    *,
    min_hours: Decimal | None,
    below_hours: Decimal | None,
    subject: str,
    width: int = 720,
    height: int = 260,
) -> str:
    """SVG of weekly attended hours, oldest week on the left. `min_hours`/`below_hours` None: no line."""
    left, right, top, bottom = 44, 112, 28, 40  # the lines' labels sit in the right margin
    plot_w, plot_h = width - left - right, height - top - bottom
    lines = [(v, label, colour, dash) for v, label, colour, dash in (
        (min_hours, "at least", MIN_LINE, "6 3"),
        (below_hours, "fewer than", CEILING_LINE, "2 3"),
    ) if v is not None]  # fmt: skip
    y_top = _top([float(b.hours) for b in bars] + [float(v) for v, *_ in lines])

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / y_top

    title = f"Weekly attended hours of {subject}"
    if lines:
        req = " and ".join(f"{label} {_n(float(v))} hours" for v, label, *_ in lines)
        desc = [f"Requirement: {req} a week."]
    else:
        desc = ["No weekly hours requirement to compare with."]
    desc += [
        f"Week of {_day(b.week_start)}: {b.hours:.1f} hours"
        f"{'' if b.complete else ' so far (week in progress)'}"
        f"{', below the minimum' if b.below and b.complete else ''}."
        for b in bars
    ]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-labelledby="hours-chart-title hours-chart-desc" class="hours-chart" '
        f'font-family="{FONT}" font-size="12">',
        f'<title id="hours-chart-title">{_esc(title)}</title>',
        f'<desc id="hours-chart-desc">{_esc(" ".join(desc))}</desc>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    for tick in range(0, int(y_top) + 1, 5):
        ty = y(tick)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" fill="{MUTED}">{tick}</text>')
    out.append(f'<text x="{left}" y="{top - 12}" fill="{MUTED}">Hours a week</text>')
    if not bars:
        out.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="{MUTED}">No weeks.</text>'
        )
    slot = plot_w / max(1, len(bars))
    bar_w = max(4.0, slot * 0.62)
    every = max(1, math.ceil(len(bars) / 8))  # at most 8 date labels: readable on a phone
    for i, b in enumerate(bars):
        x = left + slot * i + (slot - bar_w) / 2
        value = float(b.hours)
        by = y(value)
        colour = BAR_LOW if b.below and b.complete else BAR
        tip = f"Week of {_day(b.week_start)}: {b.hours:.1f} h" + ("" if b.complete else " so far")
        style = (
            f'fill="{colour}"'
            if b.complete
            else f'fill="#ffffff" stroke="{colour}" stroke-width="2" stroke-dasharray="4 2"'
        )
        out.append(
            f'<rect x="{x:.1f}" y="{by:.1f}" width="{bar_w:.1f}" height="{max(0.0, y(0) - by):.1f}" {style}>'
            f"<title>{_esc(tip)}</title></rect>"
        )
        if value > 0:
            out.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{by - 4:.1f}" text-anchor="middle" fill="{INK}" '
                f'font-size="11">{b.hours:.1f}</text>'
            )
        if i % every == 0 or i == len(bars) - 1:
            out.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'fill="{MUTED}" font-size="11">{_esc(_day(b.week_start))}</text>'
            )
    for value, label, colour, dash in lines:
        ly = y(float(value))
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{ly:.1f}" y2="{ly:.1f}" stroke="{colour}" '
            f'stroke-width="2" stroke-dasharray="{dash}" class="hours-line"/>'
        )
        out.append(
            f'<text x="{width - right + 6}" y="{ly + 4:.1f}" fill="{colour}" '
            f'font-weight="bold" font-size="11">{_esc(label)} {_n(float(value))} h</text>'
        )
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="{INK}"/>')
    out.append(
        f'<text x="{left}" y="{height - 6}" fill="{MUTED}" font-size="11">Weeks run Monday to Sunday; an '
        f"outlined bar is the week in progress.</text>"
    )
    out.append("</svg>")
    return "".join(out)
