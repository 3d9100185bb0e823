"""Daily check-in rules: guidance the patient was shown (emergency / call the team) and missed check-ins.

A patient enrolled in daily check-ins (contracts.md) who has no check-in for local day D once D's cut-off
has passed (the clinic's SafetySettings.checkin_cutoff, in the clinic's time zone) missed D. The cut-off
instant is computed per clinic and day here; the sweep finds the patients in SQL. Pure: no Django.

Daylight saving: the cut-off is a wall-clock time on the clinic's calendar, so its UTC instant moves with
the clock (20:00 in New York is 00:00Z in summer, 01:00Z in winter, and on the changeover day it is
whatever 20:00 local is that evening). A cut-off that falls in a spring-forward gap (e.g. 02:30 on the
day clocks jump from 02:00 to 03:00) resolves with the offset before the change, so it lands just after
the gap (03:30 new time); one that falls in an autumn overlap is the first occurrence (PEP 495 fold=0).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from safety.findings import Finding
from safety.rules.facts import CheckInFact
from safety.rules.policy import policy

MISSED_RULE = "checkin_missed"


def guidance_key(rule_id: str, checkin_id: object) -> str:
    return f"{rule_id}:{checkin_id}"


def missed_key(patient_id: object, local_date: date) -> str:
    return f"{MISSED_RULE}:{patient_id}:{local_date.isoformat()}"


def guidance_findings(checkin: CheckInFact) -> list[Finding]:
    rule_id = policy().guidance_rules.get(checkin.guidance)
    if rule_id is None:
        return []
    evidence = {
        "kind": "checkin",
        "checkin_id": str(checkin.id),
        "local_date": checkin.local_date.isoformat(),
        "submitted_at": checkin.submitted_at.isoformat(),
        "guidance": checkin.guidance,
    }
    return [
        Finding(
            rule_id, checkin.patient_id, guidance_key(rule_id, checkin.id), evidence, checkin.submitted_at
        )
    ]


def cutoff_instant(day: date, cutoff: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of `cutoff` o'clock on local `day` in `tz` (see the module note on DST)."""
    local = datetime.combine(day, cutoff.replace(tzinfo=None, fold=0), tzinfo=tz)
    return local.astimezone(UTC)


def due_days(
    *, now: datetime, cutoff: time, tz: ZoneInfo, lookback_days: int | None = None
) -> list[tuple[date, datetime]]:
    """The last `lookback_days` local days whose cut-off has passed at `now`, newest first, with instants."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    lookback = policy().missed_lookback_days if lookback_days is None else lookback_days
    day = now.astimezone(tz).date()
    if cutoff_instant(day, cutoff, tz) > now:
        day -= timedelta(days=1)
    return [(d, cutoff_instant(d, cutoff, tz)) for d in (day - timedelta(days=k) for k in range(lookback))]


def missed_checkin_finding(
    *, patient_id: object, local_date: date, cutoff_at: datetime, cutoff: time, timezone: str
) -> Finding:
    evidence = {
        "kind": "checkin_missed",
        "local_date": local_date.isoformat(),
        "cutoff": cutoff.strftime("%H:%M"),
        "timezone": timezone,
        "cutoff_at": cutoff_at.isoformat(),
        "what": f"No daily check-in for {local_date:%a %d %b %Y} by {cutoff:%H:%M} ({timezone}).",
    }
    return Finding(MISSED_RULE, patient_id, missed_key(patient_id, local_date), evidence, cutoff_at)
