"""The dates Stepdown accepts: one plausible range per kind of date, as data (pure: no Django).

Python and Postgres accept year 1 to 9999, so 0001-01-01 used to be stored as a vital's `taken_at` and a
taper starting 9999-12-31 overflowed the engine's date arithmetic (a 500). Every date and date-time that
comes in — API bodies and filters (api/apps.py), browser forms and filter forms (clinic.forms), the taper
engine — is held to one of these ranges:

- **birth** — `date_of_birth` and other birth dates: 1900-01-01 … today (nobody alive was born earlier).
- **history** — what a patient reports or a record carries from before care here (onset of a diagnosis,
  first use, when a medication or coverage began), and sync filters (`updated_since=1970-01-01T00:00Z` is
  a client's "from the beginning"): 1900-01-01 … today + 5 years.
- **clinical** — everything else (events and plans: readings, check-ins, sessions, consents, doses, taper
  starts): 2000-01-01 … today + 5 years. No record of care here predates the software; a plan or an
  appointment further than five years ahead is a typing error.

A date-time's UTC offset must also be within ±15:59 (the widest Postgres stores; real zones span
-12:00 … +14:00). The range a field gets comes from its name (`range_for`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

YEARS_AHEAD = 5
MAX_OFFSET = dt.timedelta(hours=15, minutes=59)


@dataclass(frozen=True)
class DateRange:
    kind: str
    earliest: dt.date
    years_ahead: int  # the latest accepted date is today plus this many years (0: today)

    def latest(self, today: dt.date) -> dt.date:
        try:
            return today.replace(year=today.year + self.years_ahead)
        except ValueError:  # 29 February
            return today.replace(year=today.year + self.years_ahead, day=28)

    def refusal(self, value: dt.date | dt.datetime, today: dt.date) -> str | None:
        """Why `value` is outside this range (a message naming the range, never the value), else None."""
        if isinstance(value, dt.datetime):
            offset = value.utcoffset()
            if offset is not None and abs(offset) > MAX_OFFSET:
                return "The UTC offset must be between -15:59 and +15:59."
            day = value.date()
        else:
            day = value
        latest = self.latest(today)
        if not self.earliest <= day <= latest:
            return f"Enter a {self.kind} between {self.earliest.isoformat()} and {latest.isoformat()}."
        return None


BIRTH = DateRange("birth date", dt.date(1900, 1, 1), 0)
HISTORY = DateRange("date", dt.date(1900, 1, 1), YEARS_AHEAD)
CLINICAL = DateRange("date", dt.date(2000, 1, 1), YEARS_AHEAD)

# Field (and query parameter) names of the wider ranges; every other name is clinical.
BIRTH_NAMES = frozenset(
    {"date_of_birth", "birth_date", "subscriber_date_of_birth", "patient_birth_date_on_report"}
)
HISTORY_NAMES = frozenset(
    {
        # the patient record: what was reported about the time before care here
        "onset_on",
        "last_used_on",
        "noted_on",
        "reported_on",
        "resolved_on",
        "started_on",
        # medications taken for years, coverage held for years
        "start_on",
        "written_on",
        "effective_from",
        "effective_to",
    }
)


def range_for(name: str) -> DateRange:
    """The range for a field or query parameter called `name`."""
    if name in BIRTH_NAMES or "birth" in name:
        return BIRTH
    if name in HISTORY_NAMES or name == "since" or name.endswith("_since"):
        return HISTORY
    return CLINICAL


def refusal(name: str, value: dt.date | dt.datetime, today: dt.date) -> str | None:
    """Why the value of field `name` is not accepted, else None."""
    return range_for(name).refusal(value, today)
