"""The medication timeline: one row per prescriber, a bar per prescription or fill, coloured by drug class,
with the days when sedating medicines from more than one prescriber overlap shaded. Pure (no Django): plain
bars in, an SVG string out, so the page and a PDF (WeasyPrint) draw the same picture.

Like clinic/charts.py, the SVG carries all its styling as presentation attributes (no CSS, no fonts to
fetch), has a <title> and a <desc> that say in words what it shows, and never relies on colour alone: every
bar is labelled with its drug (and pharmacy) and has its own tooltip naming the class, prescriber,
pharmacy, dates and source; overlaps are hatched and named in the description.

Layout: the window runs from `before_days` before today to `after_days` after it. Rows are grouped by
prescriber (the program's taper plan first, then by name, unknown prescribers last); within a prescriber
bars go into lanes so that no two bars, nor their labels, share space — two bars at the same height never
overlap, so any overlap in time shows as bars one above the other.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from prescribers import drugs

DAY = datetime.timedelta(days=1)
FONT = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"
INK = "#17212b"
MUTED = "#4a5666"  # 7.4:1 on white
GRID = "#d5dbe1"
OVERLAP_FILL = "#fdecea"
OVERLAP_EDGE = "#b42318"
TODAY = "#1e3a8a"
# Bar fills: white label text on each is at least 4.5:1 (WCAG 1.4.3).
CLASS_COLOURS = {
    "benzodiazepine": "#b42318",
    "opioid": "#6b21a8",
    "oud_medication": "#0b5c7a",
    "z_drug": "#713f12",
    "barbiturate": "#7c2d12",
    "gabapentinoid": "#14532d",
    "muscle_relaxant": "#374151",
    "other_cns_depressant": "#1e3a8a",
    "opioid_antagonist": "#4a5666",
}
UNCLASSIFIED = "#5b6675"  # 5.9:1 with white
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

LEFT = 180.0  # prescriber names
RIGHT_PAD = 12.0
TOP = 34.0  # month labels and the "Today" label
LANE = 24.0
BAR = 17.0
GROUP_GAP = 8.0
TEXT = 11.0
UNKNOWN_GROUP = "Prescriber not recorded"

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Bar:
    """One prescription, fill or plan on the timeline. `end` is the last day covered (inclusive); None
    means it continues."""

    id: str
    group: str  # the prescriber's key ("" when not recorded)
    group_label: str
    start: datetime.date | None
    end: datetime.date | None
    drug: str
    drug_class: str = ""
    pharmacy: str = ""
    source: str = ""
    program: bool = False

    @property
    def class_label(self) -> str:
        spec = drugs.classes().get(self.drug_class)
        return spec.label if spec else "Not classified"

    @property
    def sedating(self) -> bool:
        spec = drugs.classes().get(self.drug_class)
        return bool(spec and spec.cns_depressant)


@dataclass(frozen=True)
class Overlap:
    start: datetime.date
    end: datetime.date  # inclusive
    groups: tuple[str, ...]  # prescriber labels involved


@dataclass(frozen=True)
class PlacedBar:
    bar: Bar
    x0: float
    x1: float
    y: float
    label: str
    label_x: float
    label_inside: bool
    clipped_start: bool
    clipped_end: bool


@dataclass
class Layout:
    width: float
    height: float
    first: datetime.date  # first day shown
    last: datetime.date  # last day shown (inclusive)
    bars: list[PlacedBar] = field(default_factory=list)
    groups: list[tuple[str, float, float]] = field(default_factory=list)  # (label, top, bottom)
    overlaps: list[Overlap] = field(default_factory=list)
    hidden: int = 0  # bars entirely outside the window
    left: float = LEFT  # where the plot starts (prescriber names to its left)

    def x(self, day: datetime.date) -> float:
        span = (self.last - self.first).days + 1
        frac = (day - self.first).days / span
        return self.left + min(1.0, max(0.0, frac)) * (self.width - self.left - RIGHT_PAD)


def _esc(text: object) -> str:
    s = _XML_BAD.sub("", str(text))
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _n(v: float) -> str:
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _text_width(text: str, size: float = TEXT) -> float:
    return len(text) * size * 0.6


def _fmt(day: datetime.date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _fit(text: str, room: float) -> str:
    """`text` cut to fit `room` pixels, with an ellipsis ("" when not even a few letters fit)."""
    if _text_width(text) <= room:
        return text
    keep = int(room / (TEXT * 0.6)) - 1
    return text[:keep].rstrip() + "…" if keep >= 4 else ""


def _group_order(bar: Bar) -> tuple:
    return (0 if bar.program else 2 if not bar.group else 1, bar.group_label.lower(), bar.group)


def overlaps(bars: Iterable[Bar], first: datetime.date, last: datetime.date) -> list[Overlap]:
    """Runs of days in [first, last] when sedating medicines (benzodiazepines, opioids, Z-drugs and the other
    CNS depressants of the drug table) from more than one prescriber — the program's taper plan counts as
    one — are covered at the same time."""
    sedating = [b for b in bars if b.sedating]
    runs: list[Overlap] = []
    day = first
    current: tuple[datetime.date, set[str]] | None = None
    while day <= last:
        groups = {
            (b.group or f"unknown:{b.id}", b.group_label or UNKNOWN_GROUP)
            for b in sedating
            if (b.start is None or b.start <= day) and (b.end is None or day <= b.end)
        }
        if len({key for key, _ in groups}) >= 2:
            labels = {label for _, label in groups}
            current = (current[0], current[1] | labels) if current else (day, labels)
        elif current is not None:
            runs.append(Overlap(current[0], day - DAY, tuple(sorted(current[1]))))
            current = None
        day += DAY
    if current is not None:
        runs.append(Overlap(current[0], last, tuple(sorted(current[1]))))
    return runs


def layout(
    bars: Sequence[Bar],
    *,
    today: datetime.date,
    before_days: int = 180,
    after_days: int = 30,
    width: int = 760,
    label_width: float = LEFT,
) -> Layout:
    first, last = today - before_days * DAY, today + after_days * DAY
    out = Layout(width=float(width), height=0.0, first=first, last=last, left=float(label_width))
    shown = [b for b in bars if (b.start is None or b.start <= last) and (b.end is None or b.end >= first)]
    out.hidden = len(bars) - len(shown)
    out.overlaps = overlaps(shown, first, last)
    right = width - RIGHT_PAD
    y = TOP
    by_group: dict[str, list[Bar]] = {}
    for bar in sorted(shown, key=lambda b: (_group_order(b), b.start or first, b.id)):
        by_group.setdefault(bar.group if not bar.program else "program", []).append(bar)
    for members in by_group.values():
        group_top = y
        lanes: list[list[tuple[float, float]]] = []  # the spans (bar and label) used in each lane
        for bar in members:
            start = max(bar.start or first, first)
            end = min(bar.end or last, last)
            x0, x1 = out.x(start), out.x(end + DAY)
            x1 = max(x1, x0 + 2.0)
            text = " · ".join(p for p in (bar.drug, bar.pharmacy) if p)
            needed = _text_width(text)
            inside = needed + 8 <= x1 - x0
            if inside:
                label, label_x, span = text, x0 + 4, (x0, x1)
            elif x1 + 4 + needed <= right:
                label, label_x, span = text, x1 + 4, (x0, x1 + 4 + needed)
            elif x0 - 4 - needed >= out.left:
                label, label_x, span = text, x0 - 4 - needed, (x0 - 4 - needed, x1)
            else:
                label = _fit(text, max(right - x1 - 4, x0 - out.left - 4))
                width_used = _text_width(label) if label else 0.0
                if right - x1 >= x0 - out.left:
                    label_x, span = x1 + 4, (x0, x1 + 4 + width_used)
                else:
                    label_x, span = x0 - 4 - width_used, (x0 - 4 - width_used, x1)
            lane = next(
                (
                    i
                    for i, used in enumerate(lanes)
                    if all(span[1] + 3 <= a or b + 3 <= span[0] for a, b in used)
                ),
                None,
            )
            if lane is None:
                lanes.append([])
                lane = len(lanes) - 1
            lanes[lane].append(span)
            out.bars.append(
                PlacedBar(
                    bar=bar,
                    x0=x0,
                    x1=x1,
                    y=group_top + lane * LANE + (LANE - BAR) / 2,
                    label=label,
                    label_x=label_x,
                    label_inside=inside,
                    clipped_start=bar.start is None or bar.start < first,
                    clipped_end=bar.end is None or bar.end > last,
                )
            )
        y = group_top + max(1, len(lanes)) * LANE
        label = members[0].group_label if members[0].group or members[0].program else UNKNOWN_GROUP
        out.groups.append((label or UNKNOWN_GROUP, group_top, y))
        y += GROUP_GAP
    out.height = max(y, TOP + LANE) + 46  # legend below
    return out


def _months(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    found = []
    day = first.replace(day=1)
    while day <= last:
        if day >= first:
            found.append(day)
        day = (day + 32 * DAY).replace(day=1)
    return found


def _describe(placed: Layout, subject: str) -> str:
    prescribers = [label for label, _, _ in placed.groups]
    parts = [
        f"{subject}: medications from {_fmt(placed.first)} to {_fmt(placed.last)}, one row per prescriber.",
        f"{len(placed.bars)} prescription{'s' if len(placed.bars) != 1 else ''} or fill"
        f"{'s' if len(placed.bars) != 1 else ''} from {len(prescribers)} prescriber"
        f"{'s' if len(prescribers) != 1 else ''}" + (f" ({', '.join(prescribers)})." if prescribers else "."),
    ]
    if placed.overlaps:
        runs = "; ".join(f"{_fmt(o.start)} to {_fmt(o.end)} ({', '.join(o.groups)})" for o in placed.overlaps)
        parts.append(f"Sedating medicines from more than one prescriber overlap: {runs}.")
    else:
        parts.append("No overlap of sedating medicines from different prescribers in this period.")
    if placed.hidden:
        parts.append(f"{placed.hidden} older entr{'ies' if placed.hidden != 1 else 'y'} not shown.")
    return " ".join(parts)


def render_timeline(
    bars: Sequence[Bar],
    *,
    today: datetime.date,
    subject: str = "Medication timeline",
    before_days: int = 180,
    after_days: int = 30,
    width: int = 760,
    label_width: float = LEFT,
    chart_id: str = "med-timeline",
) -> str:
    placed = layout(
        bars,
        today=today,
        before_days=before_days,
        after_days=after_days,
        width=width,
        label_width=label_width,
    )
    w, h = placed.width, placed.height
    plot_bottom = h - 46
    cid = re.sub(r"[^A-Za-z0-9_-]", "", chart_id) or "med-timeline"
    # Legend (the classes shown, overlaps), laid out first: it sets the height.
    legend_svg, legend_rows = _legend(placed, cid)
    h = placed.height = plot_bottom + 22 + legend_rows * 16
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sd-chart sd-timeline" id="{cid}" role="img" '
        f'width="{_n(w)}" height="{_n(h)}" viewBox="0 0 {_n(w)} {_n(h)}" '
        f'aria-labelledby="{cid}-title {cid}-desc" font-family="{FONT}" font-size="{_n(TEXT)}">',
        f'<title id="{cid}-title">{_esc(subject)}</title>',
        f'<desc id="{cid}-desc">{_esc(_describe(placed, subject))}</desc>',
        '<defs><pattern id="' + cid + '-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="' + OVERLAP_FILL + '"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="' + OVERLAP_EDGE + '" stroke-width="1" '
        'stroke-opacity="0.35"/></pattern></defs>',
        f'<rect x="0" y="0" width="{_n(w)}" height="{_n(h)}" fill="#ffffff"/>',
    ]
    # Overlap bands behind everything.
    for o in placed.overlaps:
        x0, x1 = placed.x(o.start), placed.x(o.end + DAY)
        out.append(
            f'<rect class="tl-overlap" data-start="{o.start.isoformat()}" data-end="{o.end.isoformat()}" '
            f'x="{_n(x0)}" y="{_n(TOP - 4)}" width="{_n(max(x1 - x0, 1))}" '
            f'height="{_n(plot_bottom - TOP + 4)}" '
            f'fill="url(#{cid}-hatch)" stroke="{OVERLAP_EDGE}" stroke-width="1" stroke-dasharray="3 2">'
            f"<title>Overlap {_esc(_fmt(o.start))} to {_esc(_fmt(o.end))}: "
            f"{_esc(', '.join(o.groups))}</title>"
            "</rect>"
        )
    # Month grid and labels.
    for number, month in enumerate(_months(placed.first, placed.last)):
        year = f" {month.year}" if month.month == 1 or not number else ""
        x = placed.x(month)
        out.append(
            f'<line x1="{_n(x)}" y1="{_n(TOP - 6)}" x2="{_n(x)}" y2="{_n(plot_bottom)}" stroke="{GRID}"/>'
            f'<text x="{_n(x + 3)}" y="{_n(TOP - 10)}" fill="{MUTED}">'
            f"{MONTHS[month.month - 1]}{year}</text>"
        )
    # Prescriber groups.
    for index, (label, top, _bottom) in enumerate(placed.groups):
        if index:
            out.append(
                f'<line x1="0" y1="{_n(top - GROUP_GAP / 2)}" x2="{_n(w)}" y2="{_n(top - GROUP_GAP / 2)}" '
                f'stroke="{GRID}"/>'
            )
        out.append(
            f'<text class="tl-group" x="6" y="{_n(top + LANE / 2 + 4)}" fill="{INK}" font-weight="bold">'
            f"{_esc(_fit(label, placed.left - 12) or label[:12])}<title>{_esc(label)}</title></text>"
        )
    # Bars.
    for p in placed.bars:
        bar = p.bar
        colour = CLASS_COLOURS.get(bar.drug_class, UNCLASSIFIED)
        ends = f"{bar.start.isoformat() if bar.start else 'unknown'} to " + (
            bar.end.isoformat() if bar.end else "continuing"
        )
        tip = " — ".join(
            part
            for part in (
                bar.drug,
                bar.class_label,
                bar.group_label or UNKNOWN_GROUP,
                bar.pharmacy and f"pharmacy {bar.pharmacy}",
                ends,
                bar.source,
            )
            if part
        )
        extra = ' stroke="#000000" stroke-width="1.5" fill-opacity="0.85"' if bar.program else ""
        out.append(
            f'<g class="tl-item"><title>{_esc(tip)}</title>'
            f'<rect class="tl-bar" data-line="{_esc(bar.id)}" data-class="{_esc(bar.drug_class)}" '
            f'data-group="{_esc(bar.group_label or UNKNOWN_GROUP)}" '
            f'data-start="{bar.start.isoformat() if bar.start else ""}" '
            f'data-end="{bar.end.isoformat() if bar.end else ""}" x="{_n(p.x0)}" y="{_n(p.y)}" '
            f'width="{_n(p.x1 - p.x0)}" height="{_n(BAR)}" rx="3" fill="{colour}"{extra}/>'
        )
        if p.clipped_end:
            tip_y = p.y + BAR / 2
            out.append(
                f'<path d="M{_n(p.x1 - 1)} {_n(p.y)} L{_n(p.x1 + 5)} {_n(tip_y)} L{_n(p.x1 - 1)} '
                f'{_n(p.y + BAR)} Z" fill="{colour}"/>'
            )
        if p.label:
            fill = "#ffffff" if p.label_inside else INK
            out.append(
                f'<text x="{_n(p.label_x)}" y="{_n(p.y + BAR / 2 + 4)}" fill="{fill}">{_esc(p.label)}</text>'
            )
        out.append("</g>")
    # Today.
    x_today = placed.x(today)
    out.append(
        f'<line class="tl-today" x1="{_n(x_today)}" y1="{_n(TOP - 6)}" x2="{_n(x_today)}" '
        f'y2="{_n(plot_bottom)}" stroke="{TODAY}" stroke-width="2" stroke-dasharray="5 3"/>'
        f'<text x="{_n(x_today + 3)}" y="{_n(TOP - 22)}" fill="{TODAY}" font-weight="bold">Today</text>'
    )
    if not placed.bars:
        out.append(
            f'<text x="{_n(placed.left)}" y="{_n(TOP + LANE / 2 + 4)}" fill="{MUTED}">'
            "No medication in this period.</text>"
        )
    out.extend(legend_svg)
    out.append("</svg>")
    return "".join(out)


def _legend(placed: Layout, cid: str) -> tuple[list[str], int]:
    w = placed.width
    x, y = 6.0, placed.height - 46 + 22
    rows = 1
    out: list[str] = []
    legend: list[tuple[str, str, str]] = []
    seen: list[str] = []
    for p in placed.bars:
        if p.bar.drug_class not in seen:
            seen.append(p.bar.drug_class)
    for code in sorted(seen, key=_class_rank):
        legend.append(("class", CLASS_COLOURS.get(code, UNCLASSIFIED), _class_label(code)))
    if placed.overlaps:
        legend.append(("overlap", f"url(#{cid}-hatch)", "Overlap: sedating medicines from 2+ prescribers"))
    if any(p.clipped_end for p in placed.bars):
        legend.append(("arrow", INK, "▸ continues past the chart"))
    for kind, fill, text in legend:
        item = _text_width(text) + 26
        if x + item > w - RIGHT_PAD and x > 6:
            x, y, rows = 6.0, y + 16, rows + 1
        if kind == "arrow":
            out.append(f'<text x="{_n(x)}" y="{_n(y + 4)}" fill="{MUTED}">{_esc(text)}</text>')
        else:
            stroke = f' stroke="{OVERLAP_EDGE}" stroke-dasharray="3 2"' if kind == "overlap" else ""
            out.append(
                f'<rect x="{_n(x)}" y="{_n(y - 6)}" width="16" height="11" rx="2" fill="{fill}"{stroke}/>'
                f'<text x="{_n(x + 21)}" y="{_n(y + 4)}" fill="{INK}">{_esc(text)}</text>'
            )
        x += item
    return out, rows


def _class_rank(code: str) -> int:
    return drugs.CLASS_PRIORITY.index(code) if code in drugs.CLASS_PRIORITY else len(drugs.CLASS_PRIORITY)


def _class_label(code: str) -> str:
    spec = drugs.classes().get(code)
    return spec.label if spec else "Not classified"
