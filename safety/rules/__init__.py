"""Pure safety rules: plain facts in (safety.rules.facts), Findings out (safety.findings). No Django.

`patient_findings` runs every fact-based rule over one patient's recent facts; the missed-check-in rule
is about an absence and runs only in the sweep (safety/sweeps.py), which finds the patients in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from uuid import UUID

from safety.findings import Finding
from safety.rules.checkins import guidance_findings
from safety.rules.facts import CheckInFact, InstrumentScore, Reading, ScorePoint
from safety.rules.instruments import instrument_findings
from safety.rules.trend import withdrawal_trend_finding
from safety.rules.vitals import reading_findings
from vitals.thresholds import Thresholds


def fact_findings(
    *,
    readings: Iterable[Reading] = (),
    scores: Iterable[InstrumentScore] = (),
    checkins: Iterable[CheckInFact] = (),
    thresholds: Thresholds | None = None,
) -> list[Finding]:
    findings: list[Finding] = []
    for reading in readings:
        findings += reading_findings(reading, thresholds)
    for score in scores:
        findings += instrument_findings(score)
    for checkin in checkins:
        findings += guidance_findings(checkin)
    return findings


def patient_findings(
    *,
    patient_id: UUID,
    as_of: date,
    readings: Iterable[Reading] = (),
    scores: Iterable[InstrumentScore] = (),
    checkins: Iterable[CheckInFact] = (),
    thresholds: Thresholds | None = None,
    step_start: date | None = None,
    step: Mapping[str, str] | None = None,
    trend_series: Mapping[str, Sequence[ScorePoint]] | None = None,
) -> list[Finding]:
    findings = fact_findings(readings=readings, scores=scores, checkins=checkins, thresholds=thresholds)
    if step_start is not None:
        trend = withdrawal_trend_finding(
            patient_id=patient_id, step_start=step_start, as_of=as_of, series=trend_series or {}, step=step
        )
        if trend is not None:
            findings.append(trend)
    return findings
