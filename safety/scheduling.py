"""Attendance rules: booked sessions missed in a row, and a completed week below the program's minimum hours.

- `sched_missed_sessions`: the patient's most recent booked sessions with attendance taken were all
  "absent" (without an excuse), at least the clinic's `SafetySettings.missed_sessions_in_a_row` of them
  (default 2, rules.json settings_defaults). Excused absences and sessions the clinic cancelled neither
  count nor break the run (the patient did not fail to come, nor show they can); an attended session ends
  it. Run after attendance is recorded (scheduling.signals.attendance_recorded → a job after commit) and by
  the nightly sweep for every patient with an absence in the look-back window (the safety net).
- `sched_below_minimum_hours`: a completed week (Monday to Sunday, clinic time) of a patient enrolled in
  the program all that week with fewer attended hours than the program's minimum (scheduling.compliance).
  Judged from GRACE_DAYS after the week ended, so attendance recorded a day late still counts.

Both go through `alerts_raise`; the dedup key names the patient and the week (of the latest missed
session, or the week judged), so on-save, the sweep and a rerun make one alert per patient, rule and week.
Sources: next-capabilities.md §4; clinical.md §7a levels of care (in safety/data/rules.json).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import timezone

from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic
from safety import rules_catalogue
from safety.findings import Finding, dedup_key
from scheduling import compliance, hours
from scheduling.models import Attendance

MISSED_RULE = "sched_missed_sessions"
BELOW_RULE = "sched_below_minimum_hours"
RULE_IDS = (MISSED_RULE, BELOW_RULE)
LOOKBACK_DAYS = 42  # sessions read back for a run of misses (6 weeks: far longer than any setting)
GRACE_DAYS = 2  # a week is judged from the Wednesday after it: staff may record Friday's attendance late
SHOWN_SESSIONS = 10
NEUTRAL = (Attendance.EXCUSED, Attendance.CANCELLED_BY_CLINIC)


def missed_run_length() -> int:
    """The clinic's run length (SafetySettings), or the catalogue's default before it was saved."""
    from safety.models import SafetySettings

    found = SafetySettings.objects.values_list("missed_sessions_in_a_row", flat=True).first()
    return found if found is not None else rules_catalogue.defaults().missed_sessions


def missed_run(sessions: Sequence[compliance.RecordedSession]) -> list[compliance.RecordedSession]:
    """The unexcused absences in a row at the newest end of `sessions` (given newest first)."""
    run = []
    for session in sessions:
        if session.attendance == Attendance.ABSENT:
            run.append(session)
        elif session.attendance in NEUTRAL:
            continue
        else:
            break
    return run


def missed_finding(
    patient_id: uuid.UUID, run: Sequence[compliance.RecordedSession], threshold: int
) -> Finding:
    newest = run[0]
    week = hours.week_start(newest.local_date)
    evidence = {
        "kind": "missed_sessions",
        "in_a_row": len(run),
        "threshold": threshold,
        "week_start": week.isoformat(),
        "sessions": [
            {
                "title": s.title,
                "local_date": s.local_date.isoformat(),
                "starts_at": s.starts_at.isoformat(),
                "attendance": Attendance(s.attendance).label,
                "booking_id": str(s.booking_id),
            }
            for s in run[:SHOWN_SESSIONS]
        ],
        "what": f"{len(run)} booked sessions missed in a row (alert after {threshold}).",
    }
    return Finding(
        MISSED_RULE, patient_id, dedup_key(MISSED_RULE, patient_id, week), evidence, newest.starts_at
    )


def missed_findings(*, patient_ids: Iterable[uuid.UUID] | None, today: dt.date) -> list[Finding]:
    """Inside a tenant_context: the missed-sessions findings of these patients (None: everyone recorded)."""
    threshold = missed_run_length()
    ids = None if patient_ids is None else [uuid.UUID(str(pid)) for pid in patient_ids]
    sessions = compliance.recorded_sessions(
        patient_ids=ids, since=today - dt.timedelta(days=LOOKBACK_DAYS), until=today
    )
    found = []
    for patient_id, rows in sessions.items():
        run = missed_run(rows)
        if len(run) >= threshold:
            found.append(missed_finding(patient_id, run, threshold))
    return found


def judged_week(today: dt.date) -> dt.date:
    """The Monday of the week the below-minimum rule judges on `today` (the last one past its grace)."""
    return hours.week_start(today - dt.timedelta(days=GRACE_DAYS)) - dt.timedelta(weeks=1)


def below_minimum_finding(row: compliance.WeekBelowMinimum, zone: ZoneInfo) -> Finding:
    end = row.week_start + dt.timedelta(days=6)
    evidence = {
        "kind": "below_minimum_hours",
        "week_start": row.week_start.isoformat(),
        "week_end": end.isoformat(),
        "program": row.program_name,
        "level": row.level,
        "hours": f"{row.hours:.1f}",
        "minutes": row.minutes,
        "min_hours": f"{row.min_hours.normalize():f}",
        "sessions": row.sessions,
        "what": f"{row.hours:.1f} of at least {row.min_hours.normalize():f} hours in the week of "
        f"{row.week_start:%b %-d, %Y} ({row.program_name}).",
    }
    over = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return Finding(
        BELOW_RULE, row.patient_id, dedup_key(BELOW_RULE, row.patient_id, row.week_start), evidence, over
    )


def below_minimum_findings(*, today: dt.date, zone: ZoneInfo) -> list[Finding]:
    return [below_minimum_finding(row, zone) for row in compliance.weeks_below_minimum(judged_week(today))]


def _today(clinic: Clinic, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(clinic.timezone)).date()


def evaluate_attendance(
    *, clinic: Clinic, patient_ids: Iterable[uuid.UUID | str], now: dt.datetime | None = None
) -> list:
    """After attendance was recorded: raise the missed-sessions alerts of these patients (new ones only)."""
    from safety.services import alerts_raise

    now = now or timezone.now()
    with tenant_context(clinic):
        findings = missed_findings(patient_ids=list(patient_ids), today=_today(clinic, now))
        return alerts_raise(clinic=clinic, findings=findings, now=now)


@dataclass(frozen=True)
class AttendanceSweep:
    clinic_id: int
    week_start: dt.date
    found: int
    raised: int

    def as_json(self) -> dict:
        return {
            "clinic_id": self.clinic_id,
            "week_start": self.week_start.isoformat(),
            "found": self.found,
            "raised": self.raised,
        }


def sweep_clinic(*, clinic: Clinic, now: dt.datetime | None = None) -> AttendanceSweep:
    """The nightly attendance sweep of one clinic: last judged week's hours, and missed sessions of every
    patient with an absence in the look-back window. A fixed number of queries per clinic."""
    from safety.services import alerts_raise
    from safety.sweeps import not_yet_alerted

    now = now or timezone.now()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = ZoneInfo(clinic.timezone)
    today = _today(clinic, now)
    with tenant_context(clinic):
        findings = below_minimum_findings(today=today, zone=zone)
        absent = compliance.patients_absent_since(today - dt.timedelta(days=LOOKBACK_DAYS), today)
        if absent:
            findings += missed_findings(patient_ids=absent, today=today)
        raised = alerts_raise(
            clinic=clinic, findings=not_yet_alerted(clinic=clinic, findings=findings), now=now
        )
    return AttendanceSweep(clinic.pk, judged_week(today), len(findings), len(raised))
