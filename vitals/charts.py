"""The flowsheet's charts: the planned taper dose, vital signs and scores on one shared time axis, the taper
step dates marked on every chart. Drawn by clinic.charts (server-rendered SVG, the same in a PDF)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from clinic.charts import ChartSpec, Marker, Series, Threshold, render_chart
from vitals.selectors import Flowsheet, clinic_thresholds
from vitals.thresholds import vital_specs

# (chart id, title, y label, unit, [(kind, series name)], threshold check ids drawn as lines, include zero)
VITAL_CHARTS = (
    (
        "bp",
        "Blood pressure",
        "Blood pressure",
        "mmHg",
        [("systolic_bp", "Systolic"), ("diastolic_bp", "Diastolic")],
        ("hypertensive_reading_systolic",),
    ),
    ("hr", "Heart rate", "Heart rate", "/min", [("heart_rate", "Heart rate")], ("tachycardia",)),
    (
        "rr",
        "Respiratory rate",
        "Respiratory rate",
        "/min",
        [("respiratory_rate", "Respiratory rate")],
        ("oversedation_low_respiratory_rate",),
    ),
    ("spo2", "Oxygen saturation", "SpO₂", "%", [("spo2", "SpO₂")], ("oversedation_low_spo2",)),
    ("temp", "Temperature", "Temperature", "°C", [("temperature", "Temperature")], ("raised_temperature",)),
    ("weight", "Weight", "Weight", "kg", [("weight", "Weight")], ()),
)
# Scores drawn together on one chart when present; any other instrument gets its own chart.
SCORE_GROUPS = (
    ("withdrawal", "Withdrawal score", ("ciwa_b",)),
    ("mood", "Depression and anxiety", ("phq9", "gad7")),
)


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    svg: SafeString


def _local(when: dt.datetime) -> dt.datetime:
    return timezone.localtime(when).replace(tzinfo=None)


def flowsheet_charts(sheet: Flowsheet) -> list[Chart]:
    x_start = sheet.start
    x_end = sheet.end + dt.timedelta(days=1)  # through the end of the last day
    markers = [Marker(day, "Step") for day in sheet.step_dates]
    common = {
        "x_start": x_start,
        "x_end": x_end,
        "markers": markers,
        "marker_legend": "Dotted line: taper step",
        "show_title": False,  # the page's figure caption names each chart
        "width": 560,  # two charts side by side on a desktop; still legible scaled down on a phone
    }
    charts: list[Chart] = []

    def add(chart_id: str, spec: ChartSpec) -> None:
        # render_chart escapes every text it draws; the SVG is safe to place in the page as is.
        charts.append(Chart(chart_id, spec.title, mark_safe(render_chart(spec))))

    if sheet.dose:
        add(
            "dose",
            ChartSpec(
                title="Planned daily dose",
                series=[Series("Planned dose", [(d, v) for d, v in sheet.dose], style="step")],
                y_label="Diazepam equivalent",
                y_unit="mg",
                chart_id="fs-dose",
                height=260,
                **common,
            ),
        )

    checks = clinic_thresholds().checks
    for chart_id, title, y_label, unit, kinds, threshold_ids in VITAL_CHARTS:
        series = [
            Series(name, [(_local(t), v) for t, v in sheet.values[kind]])
            for kind, name in kinds
            if sheet.values.get(kind)
        ]
        if not series:
            continue
        thresholds = [
            Threshold(checks[c].value, f"Alert: {checks[c].op} {checks[c].value}")
            for c in threshold_ids
            if c in checks
        ]
        decimals = vital_specs()["body_temperature"].decimals if chart_id == "temp" else 0
        add(
            chart_id,
            ChartSpec(
                title=title,
                series=series,
                y_label=y_label,
                y_unit=unit,
                thresholds=thresholds,
                y_include_zero=False,
                chart_id=f"fs-{chart_id}",
                height=260,
                value_format="{:." + str(decimals) + "f}",
                **common,
            ),
        )

    grouped: set[str] = set()
    for chart_id, title, instruments in SCORE_GROUPS:
        series = [
            Series(sheet.score_names.get(i, i), [(_local(t), v) for t, v in sheet.scores[i]])
            for i in instruments
            if sheet.scores.get(i)
        ]
        grouped.update(instruments)
        if series:
            add(
                chart_id,
                ChartSpec(
                    title=title,
                    series=series,
                    y_label="Total score",
                    chart_id=f"fs-{chart_id}",
                    height=260,
                    **common,
                ),
            )
    for instrument, points in sorted(sheet.scores.items()):
        if instrument in grouped:
            continue
        name = sheet.score_names.get(instrument, instrument)
        add(
            f"score-{instrument}",
            ChartSpec(
                title=name,
                series=[Series(name, [(_local(t), v) for t, v in points])],
                y_label="Total score",
                chart_id=f"fs-score-{instrument}",
                height=260,
                **common,
            ),
        )
    return charts
