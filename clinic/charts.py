"""Server-rendered SVG time-series charts (pure: no Django imports).

One chart renders the same in a browser and in WeasyPrint: no JavaScript, no external fonts or CSS —
every colour, dash pattern and font is a presentation attribute on the element. The SVG is accessible:
``role="img"`` with a ``<title>`` and a ``<desc>`` that summarise the data in words, a visible legend,
and series told apart by dash pattern and point shape as well as by colour (every colour has at least
4.5:1 contrast on white, WCAG 1.4.3 / 1.4.11).

Usage::

    spec = ChartSpec(
        title="Daily dose", y_label="Diazepam equivalent", y_unit="mg",
        series=[Series("Planned", [(date(2025, 1, 1), 20), (date(2025, 1, 15), 18)], style="step")],
        markers=[Marker(date(2025, 1, 15), "Step 2")],
        bands=[Band(date(2025, 2, 1), None, "Hold")],
    )
    svg = render_chart(spec)

X values are dates or datetimes (a date is midnight of that day). Y values are numbers (int, float,
Decimal); ``None`` and non-finite values are skipped (a gap in a line). The y range is automatic with
"nice" ticks (1, 2, 2.5, 5 x 10^k); ``y_range`` is a range the axis must at least cover. The x range is
automatic from the data, markers and bands unless ``x_start``/``x_end`` are given, in which case points
outside it are left out (a step still in effect at ``x_start`` is drawn from there).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

__all__ = [
    "Band",
    "ChartSpec",
    "Geometry",
    "Marker",
    "Series",
    "Threshold",
    "geometry",
    "nice_ticks",
    "render_chart",
]

Number = int | float | Decimal
When = date | datetime

# Colours: each >= 4.5:1 on white, so lines and their legend text stay readable in print and on screen.
PALETTE = ("#0b5c7a", "#b42318", "#14532d", "#6b21a8", "#713f12", "#374151")
# Dash patterns (SVG stroke-dasharray), in order; the first series is solid.
DASHES = ("", "7 4", "2 3", "9 3 2 3", "4 4", "1 2")
SHAPES = ("circle", "square", "triangle", "diamond")
INK = "#17212b"
MUTED = "#4a5666"  # 7.4:1 on white
GRID = "#d5dbe1"
BAND_FILL = "#fdf0c9"  # pale amber; the band also carries a text label and a dotted edge
BAND_EDGE = "#8a5a00"
FONT = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[When, Number | None]]
    style: Literal["line", "step", "points"] = "line"
    dashed: bool = False
    css_class: str = ""
    show_points: bool | None = None  # default: True for "line" and "points", False for "step"
    until: When | None = None  # a step line's last value holds until here (default: the x-axis end)
    x_offset_days: float = 0.0  # draw shifted, e.g. 0.5 puts a day's value at noon, inside that day's step


@dataclass(frozen=True)
class Marker:
    when: When
    label: str = ""


@dataclass(frozen=True)
class Band:
    start: When
    end: When | None = None  # None: still open, shaded to the x-axis end
    label: str = ""


@dataclass(frozen=True)
class Threshold:
    value: Number
    label: str = ""


@dataclass(frozen=True)
class ChartSpec:
    title: str
    series: Sequence[Series] = ()
    y_label: str = ""
    y_unit: str = ""
    width: int = 720
    height: int = 320
    x_start: When | None = None
    x_end: When | None = None
    y_range: tuple[Number, Number] | None = None
    y_include_zero: bool = True
    markers: Sequence[Marker] = ()
    bands: Sequence[Band] = ()
    thresholds: Sequence[Threshold] = ()
    description: str = ""  # extra sentence for <desc>, e.g. the equivalence table used
    chart_id: str = ""  # unique id prefix when several charts share a page
    show_title: bool = True
    empty_text: str = "No data yet."
    max_points_in_desc: int = 0  # >0: list up to this many values per series in <desc>
    value_format: str = "{:g}"
    extra_css_class: str = ""
    notes: Sequence[str] = field(default_factory=tuple)  # extra plain lines under the legend
    marker_legend: str = "Dotted vertical line: marked date"


# --------------------------------------------------------------------------------------------- helpers

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _esc(text: object) -> str:
    """Escape text for XML content and attribute values; drop characters XML 1.0 cannot carry."""
    s = _XML_BAD.sub("", str(text))
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _n(v: float) -> str:
    """A coordinate: two decimals, no trailing zeros, never NaN."""
    if not math.isfinite(v):  # pragma: no cover - guarded by the geometry
        v = 0.0
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _day(w: When) -> float:
    if isinstance(w, datetime):
        secs = w.hour * 3600 + w.minute * 60 + w.second + w.microsecond / 1e6
        return w.toordinal() + secs / 86400.0
    return float(w.toordinal())


def _num(v: object) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError, ArithmeticError):
        return None
    return f if math.isfinite(f) and abs(f) < 1e15 else None


def _fmt_date(d: date, with_year: bool) -> str:
    s = f"{d.day} {MONTHS[d.month - 1]}"
    return f"{s} {d.year}" if with_year else s


def _fmt_when(w: When) -> str:
    if isinstance(w, datetime):
        return f"{_fmt_date(w.date(), True)} {w.hour:02d}:{w.minute:02d}"
    return _fmt_date(w, True)


def _text_width(text: str, size: float) -> float:
    """Rough width of text in the chart font (no font metrics available in a pure module)."""
    return len(text) * size * 0.6


def nice_ticks(lo: float, hi: float, max_ticks: int = 6) -> list[float]:
    """Round tick values covering [lo, hi]: first <= lo, last >= hi, step 1/2/2.5/5 x 10^k."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi < lo:
        lo, hi = hi, lo
    if hi - lo < 1e-9 * max(1.0, abs(hi)):
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    max_ticks = max(2, max_ticks)
    raw = (hi - lo) / (max_ticks - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = mag * 10
    for m in (1, 2, 2.5, 5, 10):
        if mag * m >= raw:
            step = mag * m
            break
    while True:
        first = math.floor(lo / step + 1e-9) * step
        count = math.ceil((hi - first) / step - 1e-9) + 1
        if count <= max_ticks + 1 or not math.isfinite(step):
            break
        step *= 2
    ticks = [first + i * step for i in range(max(2, count))]
    # Snap float noise (0.30000000000000004 -> 0.3).
    digits = max(0, -math.floor(math.log10(step)) + 2)
    return [round(t, digits) + 0.0 for t in ticks]


def _tick_label(v: float, step: float) -> str:
    decimals = next((d for d in range(7) if abs(round(step, d) - step) <= abs(step) * 1e-6), 6)
    s = f"{v:.{decimals}f}"
    if s.startswith("-") and float(s) == 0:
        s = s[1:]
    return s


_DAY_STEPS = (1, 2, 7, 14)
_MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60)


def _date_ticks(lo: float, hi: float, max_ticks: int) -> list[date]:
    """Date ticks between day numbers lo..hi: every n days (weeks on Mondays) or month starts."""
    if hi - lo > 365 * 200 or lo < 1:
        return []
    d0 = date.fromordinal(max(1, math.ceil(lo)))
    d1 = date.fromordinal(max(1, min(math.floor(hi), date.max.toordinal())))
    span = (d1 - d0).days
    if span < 0:
        return []
    for step in _DAY_STEPS:
        if span // step + 1 <= max_ticks:
            start = d0
            if step >= 7:  # weekly ticks fall on Mondays
                start = date.fromordinal(d0.toordinal() + (-d0.weekday()) % 7)
            return [date.fromordinal(o) for o in range(start.toordinal(), d1.toordinal() + 1, step)]
    months = (d1.year - d0.year) * 12 + d1.month - d0.month
    for mstep in _MONTH_STEPS:
        if months // mstep + 1 <= max_ticks:
            break
    out = []
    y, m = d0.year, d0.month
    if d0.day != 1:
        m += 1
        if m > 12:
            y, m = y + 1, 1
    idx = (y * 12 + m - 1) % mstep
    if idx:
        total = y * 12 + m - 1 + (mstep - idx)
        y, m = divmod(total, 12)
        m += 1
    while date(y, m, 1) <= d1:
        out.append(date(y, m, 1))
        total = y * 12 + m - 1 + mstep
        y, m = divmod(total, 12)
        m += 1
        if y > 9999:
            break
    return out


# -------------------------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class Geometry:
    """Where the plot area sits and how data maps onto it (exposed for tests and for callers)."""

    left: float
    top: float
    right: float
    bottom: float
    x_lo: float  # day numbers (date.toordinal, fractional for datetimes)
    x_hi: float
    y_lo: float
    y_hi: float
    y_ticks: tuple[float, ...]
    legend_rows: tuple[tuple[tuple[int, float], ...], ...]  # ((item index, x offset), ...) per row
    legend_top: float
    has_data: bool

    def x(self, w: When | float) -> float:
        v = w if isinstance(w, float | int) else _day(w)
        frac = (v - self.x_lo) / (self.x_hi - self.x_lo)
        return self.left + min(1.0, max(0.0, frac)) * (self.right - self.left)

    def y(self, v: float) -> float:
        frac = (v - self.y_lo) / (self.y_hi - self.y_lo)
        return self.bottom - min(1.0, max(0.0, frac)) * (self.bottom - self.top)

    def in_x(self, w: When | float) -> bool:
        v = w if isinstance(w, float | int) else _day(w)
        return self.x_lo - 1e-9 <= v <= self.x_hi + 1e-9


def _clean_points(s: Series) -> list[tuple[float, float, When]]:
    out = []
    shift = s.x_offset_days if math.isfinite(s.x_offset_days) and abs(s.x_offset_days) < 366 else 0.0
    for p in s.points:
        try:
            w, v = p
        except (TypeError, ValueError):
            continue
        if not isinstance(w, date):
            continue
        f = _num(v)
        if f is not None:
            out.append((_day(w) + shift, f, w))
    out.sort(key=lambda t: t[0])
    return out


def _legend_items(spec: ChartSpec) -> list[str]:
    items = [s.name for s in spec.series]
    if spec.bands:
        labels = sorted({b.label or "Shaded period" for b in spec.bands})
        items.extend(labels)
    if spec.markers:
        items.append(spec.marker_legend)
    for t in spec.thresholds:
        items.append(t.label or "Threshold")
    return items


def geometry(spec: ChartSpec) -> Geometry:
    width, height = _size(spec)
    series_pts = [_clean_points(s) for s in spec.series]
    has_data = any(series_pts)
    x_lo, x_hi = _x_domain(spec, series_pts)
    ticks = _y_ticks(spec, series_pts, x_lo, x_hi, height)
    legend_rows = _legend_rows(spec, width)
    legend_h = 18 * len(legend_rows) + 16 * len(spec.notes)

    y_tick_w = max(_text_width(_tick_label(t, _step(ticks)), 11) for t in ticks)
    left = 16 + (16 if spec.y_label else 0) + y_tick_w + 8
    top = (26 if spec.show_title else 8) + (14 if spec.markers else 0)
    right = width - 16
    bottom = height - 34 - legend_h - 8
    if bottom - top < 40:
        bottom = top + 40
    return Geometry(
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        x_lo=x_lo,
        x_hi=x_hi,
        y_lo=ticks[0],
        y_hi=ticks[-1],
        y_ticks=tuple(ticks),
        legend_rows=legend_rows,
        legend_top=bottom + 34,
        has_data=has_data,
    )


def _x_domain(spec: ChartSpec, series_pts: list[list[tuple[float, float, When]]]) -> tuple[float, float]:
    """Day numbers the x axis spans: `x_start`/`x_end` where given, else the data, markers, bands and
    step ends with a little padding."""
    auto = [p[0] for pts in series_pts for p in pts]
    auto += [_day(m.when) for m in spec.markers if isinstance(m.when, date)]
    for b in spec.bands:
        if isinstance(b.start, date):
            auto.append(_day(b.start))
        if isinstance(b.end, date):
            auto.append(_day(b.end))
    auto += [_day(s.until) for s in spec.series if isinstance(s.until, date)]
    x_lo = _day(spec.x_start) if spec.x_start is not None else (min(auto) if auto else 0.0)
    x_hi = _day(spec.x_end) if spec.x_end is not None else (max(auto) if auto else 1.0)
    if x_hi < x_lo:
        x_lo, x_hi = x_hi, x_lo
    if x_hi - x_lo < 1e-6:
        x_lo, x_hi = x_lo - 1.0, x_hi + 1.0
    if spec.x_start is None and spec.x_end is None and auto:
        pad = (x_hi - x_lo) * 0.02
        x_lo, x_hi = x_lo - pad, x_hi + pad
    x_lo = max(1.0, x_lo)  # date.min is day 1
    if x_hi - x_lo < 1e-6:
        x_hi = x_lo + 2.0
    return x_lo, x_hi


def _y_ticks(
    spec: ChartSpec, series_pts: list[list[tuple[float, float, When]]], x_lo: float, x_hi: float, height: int
) -> list[float]:
    """Y ticks covering the values that are drawn (inside the x range, a step in effect at its start
    included), the thresholds and `y_range`, with a tick of headroom above the highest value."""
    yvals = []
    for s, pts in zip(spec.series, series_pts, strict=True):
        for i, (x, y, _w) in enumerate(pts):
            if x_lo <= x <= x_hi:
                yvals.append(y)
            elif s.style == "step" and x < x_lo:
                nxt = pts[i + 1][0] if i + 1 < len(pts) else x_hi
                if nxt > x_lo:
                    yvals.append(y)
    yvals += [f for t in spec.thresholds if (f := _num(t.value)) is not None]
    if spec.y_range:
        yvals += [f for v in spec.y_range if (f := _num(v)) is not None]
    if spec.y_include_zero or not yvals:
        yvals.append(0.0)
    lo, hi = min(yvals), max(yvals)
    has_values = any(series_pts)
    if not has_values and not spec.thresholds and not spec.y_range:
        hi = max(hi, 1.0)
    ticks = nice_ticks(lo, hi, max_ticks=max(3, min(8, height // 50)))
    if len(ticks) > 1 and has_values and max(yvals) >= ticks[-1] - 1e-9 and max(yvals) > 0:
        ticks.append(ticks[-1] + (ticks[1] - ticks[0]))  # headroom: the top line is not hidden by the frame
    return ticks


def _legend_rows(spec: ChartSpec, width: int) -> tuple[tuple[tuple[int, float], ...], ...]:
    """The legend below the plot, wrapped to the width: ((item index, x offset), ...) per row."""
    rows: list[list[tuple[int, float]]] = [[]]
    cursor = 0.0
    avail = width - 16
    for i, label in enumerate(_legend_items(spec)):
        w = 34 + _text_width(label, 12.0) + 18
        if rows[-1] and cursor + w > avail:
            rows.append([])
            cursor = 0.0
        rows[-1].append((i, cursor))
        cursor += w
    return tuple(tuple(r) for r in rows if r)


def _step(ticks: Sequence[float]) -> float:
    return (ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0


# ------------------------------------------------------------------------------------------- rendering


def _shape(kind: str, cx: float, cy: float, colour: str, r: float = 3.5, tip: str = "") -> str:
    title = f"<title>{_esc(tip)}</title>" if tip else ""
    common = f'fill="{colour}" stroke="#ffffff" stroke-width="1"'
    if kind == "square":
        el = f'<rect x="{_n(cx - r)}" y="{_n(cy - r)}" width="{_n(2 * r)}" height="{_n(2 * r)}" {common}'
    elif kind == "triangle":
        pts = f"{_n(cx)},{_n(cy - r - 0.8)} {_n(cx + r + 0.6)},{_n(cy + r)} {_n(cx - r - 0.6)},{_n(cy + r)}"
        el = f'<polygon points="{pts}" {common}'
    elif kind == "diamond":
        rr = r + 0.8
        pts = f"{_n(cx)},{_n(cy - rr)} {_n(cx + rr)},{_n(cy)} {_n(cx)},{_n(cy + rr)} {_n(cx - rr)},{_n(cy)}"
        el = f'<polygon points="{pts}" {common}'
    else:
        el = f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(r)}" {common}'
    return f"{el}>{title}</{el.split(' ', 1)[0][1:]}>" if title else f"{el}/>"


def _series_look(i: int, s: Series) -> tuple[str, str, str]:
    colour = PALETTE[i % len(PALETTE)]
    dash = DASHES[i % len(DASHES)]
    if s.dashed and not dash:
        dash = "7 4"
    shape = SHAPES[i % len(SHAPES)]
    return colour, dash, shape


def _dash_attr(dash: str) -> str:
    return f' stroke-dasharray="{dash}"' if dash else ""


def _describe(spec: ChartSpec, series_pts: list[list[tuple[float, float, When]]]) -> str:
    unit = f" {spec.y_unit}" if spec.y_unit else ""
    parts = []
    what = spec.y_label or "Value"
    parts.append(f"{what}{(' (' + spec.y_unit + ')') if spec.y_unit else ''} over time.")
    fmt = spec.value_format
    for s, pts in zip(spec.series, series_pts, strict=True):
        if not pts:
            parts.append(f"{s.name}: no values.")
            continue
        lo = min(p[1] for p in pts)
        hi = max(p[1] for p in pts)
        first, last = pts[0], pts[-1]
        text = (
            f"{s.name}: {len(pts)} value{'s' if len(pts) != 1 else ''} from {_fmt_when(first[2])} "
            f"to {_fmt_when(last[2])}; first {_safe_fmt(fmt, first[1])}{unit}, "
            f"last {_safe_fmt(fmt, last[1])}{unit}"
        )
        if len(pts) > 1:
            text += f", lowest {_safe_fmt(fmt, lo)}{unit}, highest {_safe_fmt(fmt, hi)}{unit}"
        text += "."
        if spec.max_points_in_desc and len(pts) <= spec.max_points_in_desc:
            listed = "; ".join(f"{_fmt_when(p[2])} {_safe_fmt(fmt, p[1])}" for p in pts)
            text += f" Values: {listed}."
        parts.append(text)
    for b in spec.bands:
        when = (
            f"{_fmt_when(b.start)} to {_fmt_when(b.end)}"
            if b.end is not None
            else f"from {_fmt_when(b.start)}, ongoing"
        )
        parts.append(f"{b.label or 'Shaded period'}: {when}.")
    if spec.markers:
        listed = ", ".join(
            f"{m.label + ' ' if m.label else ''}{_fmt_when(m.when)}" for m in spec.markers[:40]
        )
        more = f" and {len(spec.markers) - 40} more" if len(spec.markers) > 40 else ""
        parts.append(f"Marked dates: {listed}{more}.")
    for t in spec.thresholds:
        f = _num(t.value)
        if f is not None:
            parts.append(f"{t.label or 'Threshold'} at {_safe_fmt(fmt, f)}{unit}.")
    if spec.description:
        parts.append(spec.description)
    return " ".join(parts)


def _safe_fmt(fmt: str, v: float) -> str:
    try:
        return fmt.format(v)
    except (ValueError, TypeError):
        return f"{v:g}"


def render_chart(spec: ChartSpec) -> str:
    """The chart as an accessible, self-contained ``<svg>`` string, drawn back to front."""
    g = geometry(spec)
    series_pts = [_clean_points(s) for s in spec.series]
    out = [
        *_opening(spec, series_pts),
        *_bands(spec, g),
        *_y_axis(spec, g),
        *_x_axis(spec, g),
        *_thresholds(spec, g),
        *_markers(spec, g),
        *_series(spec, g, series_pts),
        *_plot_frame(spec, g),
        *_legend(spec, g),
        "</svg>",
    ]
    return "".join(out)


def _size(spec: ChartSpec) -> tuple[int, int]:
    return max(200, int(spec.width)), max(140, int(spec.height))


def _chart_id(spec: ChartSpec, width: int, height: int) -> str:
    cid = re.sub(r"[^A-Za-z0-9_-]", "", spec.chart_id)
    if cid:
        return cid
    # Deterministic (not hash(), which is salted per process).
    digest = hashlib.blake2s(f"{spec.title}|{width}|{height}".encode("utf-8", "replace")).hexdigest()
    return "chart-" + digest[:10]


def _opening(spec: ChartSpec, series_pts: list[list[tuple[float, float, When]]]) -> list[str]:
    """The <svg> element with its accessible name and description, the white ground and the title."""
    width, height = _size(spec)
    cid = _chart_id(spec, width, height)
    t_id, d_id = f"{cid}-title", f"{cid}-desc"
    classes = " ".join(c for c in ("sd-chart", _esc(spec.extra_css_class)) if c)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{classes}" role="img" '
        f'aria-labelledby="{t_id} {d_id}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'font-family="{FONT}" font-size="12" fill="{INK}">',
        f'<title id="{t_id}">{_esc(spec.title)}</title>',
        f'<desc id="{d_id}">{_esc(_describe(spec, series_pts))}</desc>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    if spec.show_title:
        out.append(
            f'<text x="16" y="18" font-size="14" font-weight="bold" aria-hidden="true">'
            f"{_esc(spec.title)}</text>"
        )
    return out


def _bands(spec: ChartSpec, g: Geometry) -> list[str]:
    """Shaded periods, under everything else; the label only where it fits."""
    out = ['<g class="sd-chart-bands">']
    for b in spec.bands:
        if not isinstance(b.start, date):
            continue
        x0 = g.x(b.start)
        x1 = g.x(b.end) if isinstance(b.end, date) else g.right
        if b.end is not None and isinstance(b.end, date) and not isinstance(b.end, datetime):
            x1 = g.x(_day(b.end) + 1.0)  # an end date is inclusive: shade through that day
        if x1 - x0 < 0.5:
            continue
        out.append(
            f'<rect x="{_n(x0)}" y="{_n(g.top)}" width="{_n(x1 - x0)}" height="{_n(g.bottom - g.top)}" '
            f'fill="{BAND_FILL}" stroke="{BAND_EDGE}" stroke-width="1" stroke-dasharray="1 3">'
            f"<title>{_esc((b.label or 'Shaded period') + ': ' + _fmt_when(b.start))}</title></rect>"
        )
        if b.label and x1 - x0 >= _text_width(b.label, 11) + 6:
            out.append(
                f'<text x="{_n(x0 + 4)}" y="{_n(g.top + 13)}" font-size="11" fill="{BAND_EDGE}" '
                f'aria-hidden="true">{_esc(b.label)}</text>'
            )
    out.append("</g>")
    return out


def _y_axis(spec: ChartSpec, g: Geometry) -> list[str]:
    """Horizontal grid lines with their tick labels, and the rotated axis label."""
    step = _step(g.y_ticks)
    out = ['<g class="sd-chart-yaxis" aria-hidden="true">']
    for t in g.y_ticks:
        y = g.y(t)
        out.append(_line(g.left, y, g.right, y, GRID))
        out.append(
            f'<text x="{_n(g.left - 6)}" y="{_n(y + 4)}" text-anchor="end" font-size="11" fill="{MUTED}">'
            f"{_esc(_tick_label(t, step))}</text>"
        )
    if spec.y_label:
        label = spec.y_label + (f" ({spec.y_unit})" if spec.y_unit else "")
        cy = (g.top + g.bottom) / 2
        out.append(
            f'<text x="14" y="{_n(cy)}" text-anchor="middle" font-size="11" fill="{MUTED}" '
            f'transform="rotate(-90 14 {_n(cy)})">{_esc(label)}</text>'
        )
    out.append("</g>")
    return out


def _x_axis(spec: ChartSpec, g: Geometry) -> list[str]:
    """The baseline and date ticks; the year is shown where it changes, when the axis spans several."""
    out = ['<g class="sd-chart-xaxis" aria-hidden="true">', _line(g.left, g.bottom, g.right, g.bottom, MUTED)]
    if g.has_data or spec.x_start is not None or spec.markers or spec.bands:
        ticks = _date_ticks(g.x_lo, g.x_hi, max(2, int((g.right - g.left) // 70)))
        years = {d.year for d in ticks}
        prev_year = None
        for d in ticks:
            x = g.x(d)
            with_year = len(years) > 1 and d.year != prev_year
            prev_year = d.year
            out.append(_line(x, g.bottom, x, g.bottom + 4, MUTED))
            out.append(
                f'<text x="{_n(x)}" y="{_n(g.bottom + 17)}" text-anchor="middle" font-size="11" '
                f'fill="{MUTED}">'
                f"{_esc(_fmt_date(d, with_year))}</text>"
            )
    out.append("</g>")
    return out


def _thresholds(spec: ChartSpec, g: Geometry) -> list[str]:
    if not spec.thresholds:
        return []
    out = ['<g class="sd-chart-thresholds">']
    for t in spec.thresholds:
        f = _num(t.value)
        if f is None:
            continue
        y = g.y(f)
        out.append(
            f'<line x1="{_n(g.left)}" y1="{_n(y)}" x2="{_n(g.right)}" y2="{_n(y)}" stroke="{PALETTE[1]}" '
            f'stroke-width="1.5" stroke-dasharray="10 3 2 3"/>'
        )
        if t.label:
            out.append(
                f'<text x="{_n(g.right - 4)}" y="{_n(max(g.top + 10, y - 4))}" text-anchor="end" '
                f'font-size="11" '
                f'fill="{PALETTE[1]}">{_esc(t.label)}</text>'
            )
    out.append("</g>")
    return out


def _markers(spec: ChartSpec, g: Geometry) -> list[str]:
    """Vertical dotted lines; a small label above each where it does not run into the previous one."""
    if not spec.markers:
        return []
    out = ['<g class="sd-chart-markers">']
    last_label_x = -1e9
    for m in spec.markers:
        if not isinstance(m.when, date) or not g.in_x(m.when):
            continue
        x = g.x(m.when)
        tip = f"<title>{_esc((m.label + ': ' if m.label else '') + _fmt_when(m.when))}</title>"
        out.append(
            f'<line x1="{_n(x)}" y1="{_n(g.top)}" x2="{_n(x)}" y2="{_n(g.bottom)}" stroke="{MUTED}" '
            f'stroke-width="1" stroke-dasharray="2 3">{tip}</line>'
        )
        if m.label and x - last_label_x >= _text_width(m.label, 10) + 4 and x + 2 <= g.right:
            out.append(
                f'<text x="{_n(x)}" y="{_n(g.top - 4)}" text-anchor="middle" font-size="10" '
                f'fill="{MUTED}" '
                f'aria-hidden="true">{_esc(m.label)}</text>'
            )
            last_label_x = x
    out.append("</g>")
    return out


def _series(spec: ChartSpec, g: Geometry, series_pts: list[list[tuple[float, float, When]]]) -> list[str]:
    """Each series in its own group: its line (step or straight), then its point shapes with tooltips."""
    out = ['<g class="sd-chart-data">']
    unit = f" {spec.y_unit}" if spec.y_unit else ""
    for i, (s, pts) in enumerate(zip(spec.series, series_pts, strict=True)):
        colour, dash, shape = _series_look(i, s)
        cls = " ".join(c for c in ("sd-chart-series", _esc(s.css_class)) if c)
        out.append(f'<g class="{cls}" data-series="{_esc(s.name)}">')
        if s.style == "step":
            out.extend(_step_lines(s, pts, g, colour, dash))
        elif s.style == "line":
            run = [(g.x(x), g.y(y)) for x, y, _w in pts if g.in_x(x)]
            if len(run) > 1:
                out.append(_polyline(run, colour, dash))
        if _shows_points(s):
            for x, y, w in pts:
                if g.in_x(x):
                    tip = f"{s.name}, {_fmt_when(w)}: {_safe_fmt(spec.value_format, y)}{unit}"
                    out.append(_shape(shape, g.x(x), g.y(y), colour, tip=tip))
        out.append("</g>")
    out.append("</g>")
    return out


def _step_lines(
    s: Series, pts: list[tuple[float, float, When]], g: Geometry, colour: str, dash: str
) -> list[str]:
    """A step series: each value holds until the next one (the last until `s.until` or the axis end),
    clipped to the x range; a gap between steps (values left out) breaks the line."""
    out = []
    until = _day(s.until) if isinstance(s.until, date) else g.x_hi
    coords: list[tuple[float, float]] = []
    for j, (x, y, _w) in enumerate(pts):
        nxt = pts[j + 1][0] if j + 1 < len(pts) else max(until, x)
        a, b = max(x, g.x_lo), min(nxt, g.x_hi)
        if b < a:
            continue
        py = g.y(y)
        if coords and abs(coords[-1][0] - g.x(a)) > 0.01:
            out.append(_polyline(coords, colour, dash))
            coords = []
        coords.append((g.x(a), py))
        coords.append((g.x(b), py))
    if coords:
        out.append(_polyline(coords, colour, dash))
    return out


def _shows_points(s: Series) -> bool:
    return s.show_points if s.show_points is not None else s.style != "step"


def _plot_frame(spec: ChartSpec, g: Geometry) -> list[str]:
    """The plot area's frame (over the data), and the empty text when there is nothing to draw."""
    out = [
        f'<rect class="sd-chart-plot" x="{_n(g.left)}" y="{_n(g.top)}" width="{_n(g.right - g.left)}" '
        f'height="{_n(g.bottom - g.top)}" fill="none" stroke="{MUTED}" stroke-width="1"/>'
    ]
    if not g.has_data:
        out.append(
            f'<text x="{_n((g.left + g.right) / 2)}" y="{_n((g.top + g.bottom) / 2)}" text-anchor="middle" '
            f'font-size="13" fill="{MUTED}">{_esc(spec.empty_text)}</text>'
        )
    return out


def _legend(spec: ChartSpec, g: Geometry) -> list[str]:
    """The legend entries in the rows `geometry` laid out, then the notes under them."""
    out = ['<g class="sd-chart-legend">']
    entries = _legend_entries(spec)
    for r, row in enumerate(g.legend_rows):
        y = g.legend_top + r * 18
        for idx, xoff in row:
            sample, label = entries[idx]
            out.append(
                f'<g transform="translate({_n(16 + xoff)} {_n(y)})">{sample}'
                f'<text x="34" y="0" font-size="12">{_esc(label)}</text></g>'
            )
    ny = g.legend_top + len(g.legend_rows) * 18
    for note in spec.notes:
        out.append(f'<text x="16" y="{_n(ny)}" font-size="11" fill="{MUTED}">{_esc(note)}</text>')
        ny += 16
    out.append("</g>")
    return out


def _legend_entries(spec: ChartSpec) -> list[tuple[str, str]]:
    """(sample, label) per legend item, in `_legend_items` order: a sample of each series' line and point
    shape, then bands, markers, thresholds."""
    entries: list[tuple[str, str]] = []
    for i, s in enumerate(spec.series):
        colour, dash, shape = _series_look(i, s)
        sample = ""
        if s.style != "points":
            sample += _line(0, -4, 26, -4, colour, f'stroke-width="2.5"{_dash_attr(dash)}')
        if _shows_points(s):
            sample += _shape(shape, 13, -4, colour)
        entries.append((sample, s.name))
    for label in sorted({b.label or "Shaded period" for b in spec.bands}):
        entries.append(
            (
                f'<rect x="0" y="-10" width="26" height="12" fill="{BAND_FILL}" stroke="{BAND_EDGE}" '
                f'stroke-dasharray="1 3"/>',
                label,
            )
        )
    if spec.markers:
        entries.append(
            (
                f'<line x1="13" y1="-11" x2="13" y2="3" stroke="{MUTED}" stroke-dasharray="2 3"/>',
                spec.marker_legend,
            )
        )
    for t in spec.thresholds:
        entries.append(
            (
                f'<line x1="0" y1="-4" x2="26" y2="-4" stroke="{PALETTE[1]}" stroke-width="1.5" '
                f'stroke-dasharray="10 3 2 3"/>',
                t.label or "Threshold",
            )
        )
    return entries


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, extra: str = 'stroke-width="1"') -> str:
    return f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{stroke}" {extra}/>'


def _polyline(coords: list[tuple[float, float]], colour: str, dash: str) -> str:
    pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in coords)
    return (
        f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2.5" '
        f'stroke-linejoin="round" stroke-linecap="round"{_dash_attr(dash)}/>'
    )
