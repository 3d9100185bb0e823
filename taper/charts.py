"""The planned-vs-taken chart of a taper plan, drawn with `clinic.charts` so the progress page, the PDFs
and the vitals flowsheet show the same picture.

Planned: the current version's steps as a step line (daily diazepam-equivalent dose). Taken: one point per
DoseRecord, drawn at midday so it sits inside that day's step. Holds (hold-phase steps, including an open
hold) are shaded; the start of each reduction step is a dotted vertical line. The equivalence table used
is named in the chart itself (a note under the legend and in the accessible description).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from clinic.charts import Band, ChartSpec, Marker, Series, render_chart
from taper import dates
from taper.catalogue import load_catalogue
from taper.engine import Phase
from taper.models import DoseRecord, TaperPlan, TaperStep

DAY = datetime.timedelta(days=1)
LOOK_AHEAD = datetime.timedelta(days=28)  # how far past today the progress chart shows the plan


def _table_note(version) -> str:
    source = load_catalogue().meta.get("equivalence_source", "")
    note = f"Diazepam-equivalent doses use the {version.table_label} equivalence table"
    return f"{note} (source: {source})." if source else f"{note}."


def taper_chart_spec(
    plan: TaperPlan,
    *,
    steps: Sequence[TaperStep] | None = None,
    records: Sequence[DoseRecord] | None = None,
    today: datetime.date | None = None,
    width: int = 760,
    height: int = 340,
    chart_id: str = "",
    whole_plan: bool = False,
) -> ChartSpec | None:
    """The chart's spec (None when the plan has no version yet). Pass rows already loaded to add no
    queries; otherwise the steps and dose records are read here (two queries).

    A plan being taken (or finished) is shown from its start to four weeks past today or the last
    record, so the days taken so far are readable; `whole_plan=True` (and any plan not started yet) shows
    every step."""
    from taper import selectors

    version = plan.current_version
    if version is None:
        return None
    if steps is None:
        steps = selectors.steps_of(version)
    if records is None:
        records = selectors.dose_records(plan)
    if today is None:
        today = selectors.clinic_today()
    steps = sorted(steps, key=lambda s: s.index)
    if not steps:
        return None

    first, last = steps[0], steps[-1]
    # The plan's own span: through the last step's end, or a little past today for an open-ended last step.
    if last.end is not None:
        until = last.end + DAY
    else:
        until = max(last.start + datetime.timedelta(days=version.interval_days or 7), today + DAY)
    record_days = [r.day for r in records]
    x_start = min([first.start, *record_days])
    x_end = max([until, *(d + DAY for d in record_days)])
    taken_statuses = (TaperPlan.Status.ACTIVE, TaperPlan.Status.COMPLETED, TaperPlan.Status.STOPPED)
    if not whole_plan and plan.status in taken_statuses:
        horizon = max([today, *record_days]) + LOOK_AHEAD
        x_end = min(x_end, max(horizon, x_start + LOOK_AHEAD))

    planned = Series(
        f"Planned (version {version.number})",
        [(s.start, s.daily_de_mg) for s in steps],
        style="step",
        until=until,
        css_class="planned",
    )
    taken = Series(
        "Taken (recorded)",
        [(r.day, r.de_mg) for r in records],
        style="points",
        css_class="taken",
        x_offset_days=0.5,
    )
    bands = [Band(s.start, s.end, "Hold") for s in steps if s.phase == Phase.HOLD.value]
    markers = [Marker(s.start, f"S{s.index}") for s in steps if s.phase == Phase.REDUCTION.value]
    status = "held" if plan.held_since else plan.get_status_display().lower()
    extra = f"Plan {status}; {len(records)} day{'s' if len(records) != 1 else ''} recorded."
    if today and x_start <= today <= x_end:
        extra += f" Today is {dates.short_date(today)}."
    return ChartSpec(
        title="Daily dose: planned and taken",
        series=[planned, taken],
        y_label="Diazepam equivalent",
        y_unit="mg/day",
        width=width,
        height=height,
        x_start=x_start,
        x_end=x_end,
        markers=markers,
        bands=bands,
        description=f"{extra} {_table_note(version)}",
        notes=(f"Equivalence table: {version.table_label}.",),
        chart_id=chart_id or f"taper-{plan.pk.hex[:8]}",
        marker_legend="Dotted line: a reduction step starts (S = step)",
        value_format="{:g}",
        empty_text="No steps yet.",
    )


def taper_chart_svg(
    plan: TaperPlan,
    *,
    steps: Sequence[TaperStep] | None = None,
    records: Sequence[DoseRecord] | None = None,
    today: datetime.date | None = None,
    width: int = 760,
    height: int = 340,
    chart_id: str = "",
    whole_plan: bool = False,
) -> str:
    """The chart as an accessible SVG string ("" when the plan has no steps). Safe to mark safe in a
    template: every text in it is escaped by clinic.charts."""
    spec = taper_chart_spec(
        plan,
        steps=steps,
        records=records,
        today=today,
        width=width,
        height=height,
        chart_id=chart_id,
        whole_plan=whole_plan,
    )
    return render_chart(spec) if spec is not None else ""
