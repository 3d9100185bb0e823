"""The beat safety net: every clinic's rules re-run over recent facts, and missed daily check-ins found.

`sweep_all_clinics` (safety/tasks.py, on beat) fans out one `sweep_clinic` task per active clinic; each
runs `sweep_clinic` here inside that clinic's `tenant_context`, in one transaction:

* missed check-ins for the last few local days whose cut-off has passed (cut-off instants computed once
  per clinic in its time zone, DST included; the patients found in one SQL statement);
* threshold crossings, severe scores and check-in guidance among rows written in the look-back window
  (one statement each, pre-selected in SQL, decided by the pure rules);
* rising withdrawal scores after each patient's latest reduction step (one statement);
* one `alerts_raise` call (INSERT … ON CONFLICT (clinic_id, dedup_key) DO NOTHING).

A fixed number of queries per clinic whatever its number of patients. Every finding has a deterministic
dedup key, so a sweep run twice, run concurrently, or redelivered after its worker died mid-way adds
nothing the first run already added, and misses nothing (its transaction either committed or not).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.utils import timezone

from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic
from safety import rules_catalogue
from safety.fact_queries import (
    crossing_readings,
    flagged_scores,
    guidance_checkins,
    missed_checkins,
    trend_candidates,
)
from safety.findings import Finding
from safety.rules import fact_findings
from safety.rules.checkins import due_days, missed_checkin_finding
from safety.rules.policy import policy
from safety.rules.trend import withdrawal_trend_finding


@dataclass
class SweepResult:
    clinic_id: int
    now: dt.datetime
    days: list[dt.date] = field(default_factory=list)
    found: Counter = field(default_factory=Counter)
    raised: Counter = field(default_factory=Counter)

    def as_json(self) -> dict:
        return {
            "clinic_id": self.clinic_id,
            "now": self.now.isoformat(),
            "days": [d.isoformat() for d in self.days],
            "found": dict(sorted(self.found.items())),
            "raised": dict(sorted(self.raised.items())),
        }


def checkin_cutoff() -> dt.time:
    """The current clinic's cut-off (SafetySettings), or the catalogue's default before it was saved."""
    from safety.models import SafetySettings

    cutoff = SafetySettings.objects.values_list("checkin_cutoff", flat=True).first()
    return cutoff if cutoff is not None else rules_catalogue.defaults().checkin_cutoff


def lookback_days() -> int:
    return math.ceil(policy().recent_lookback_hours / 24)


def trend_findings(*, clinic: Clinic, today: dt.date, patient_id: uuid.UUID | None = None) -> list[Finding]:
    findings = []
    for candidate in trend_candidates(
        clinic_id=clinic.pk,
        tz=clinic.timezone,
        today=today,
        lookback_days=lookback_days(),
        patient_id=patient_id,
    ):
        finding = withdrawal_trend_finding(
            patient_id=candidate.patient_id,
            step_start=candidate.step_start,
            as_of=today,
            series=candidate.series,
            step=candidate.step,
        )
        if finding is not None:
            findings.append(finding)
    return findings


def missed_checkin_findings(*, clinic: Clinic, now: dt.datetime) -> tuple[list[dt.date], list[Finding]]:
    cutoff = checkin_cutoff()
    days = due_days(now=now, cutoff=cutoff, tz=ZoneInfo(clinic.timezone))
    findings = [
        missed_checkin_finding(
            patient_id=patient_id,
            local_date=day,
            cutoff_at=cutoff_at,
            cutoff=cutoff,
            timezone=clinic.timezone,
        )
        for patient_id, day, cutoff_at in missed_checkins(clinic_id=clinic.pk, days=days)
    ]
    return [d for d, _ in days], findings


def clinic_findings(*, clinic: Clinic, now: dt.datetime) -> tuple[list[dt.date], list[Finding]]:
    """Everything one clinic's sweep finds at `now` (inside its tenant_context)."""
    from vitals.selectors import clinic_thresholds

    since = now - dt.timedelta(hours=policy().recent_lookback_hours)
    thresholds = clinic_thresholds()
    days, findings = missed_checkin_findings(clinic=clinic, now=now)
    findings += fact_findings(
        readings=crossing_readings(clinic_id=clinic.pk, thresholds=thresholds, since=since, until=now),
        scores=flagged_scores(clinic_id=clinic.pk, since=since, until=now),
        checkins=guidance_checkins(clinic_id=clinic.pk, since=since, until=now),
        thresholds=thresholds,
    )
    findings += trend_findings(clinic=clinic, today=now.astimezone(ZoneInfo(clinic.timezone)).date())
    return days, findings


def sweep_clinic(*, clinic: Clinic, now: dt.datetime | None = None) -> SweepResult:
    """Find and raise one clinic's alerts as of `now` (default: the current time) in one transaction."""
    from safety.services import alerts_raise

    now = now or timezone.now()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    result = SweepResult(clinic_id=clinic.pk, now=now)
    with tenant_context(clinic):
        result.days, findings = clinic_findings(clinic=clinic, now=now)
        result.found.update(f.rule_id for f in findings)
        alerts = alerts_raise(clinic=clinic, findings=not_yet_alerted(clinic=clinic, findings=findings))
        result.raised.update(a.rule_id for a in alerts)
    return result


def not_yet_alerted(*, clinic: Clinic, findings: list[Finding]) -> list[Finding]:
    """Drop findings whose alert exists (one indexed lookup), so a steady-state sweep writes nothing.
    Only a shortcut: alerts_raise's ON CONFLICT still decides when two runs race."""
    from safety.models import Alert

    if not findings:
        return []
    keys = {f.dedup_key for f in findings}
    known = set(
        Alert.objects.filter(clinic_id=clinic.pk, dedup_key__in=keys).values_list("dedup_key", flat=True)
    )
    return [f for f in findings if f.dedup_key not in known]
