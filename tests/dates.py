"""The clinic's calendar day for tests. A clinic's "today" is where the clinic is (its time zone), not where
the test machine is: after midnight UTC a New York clinic is still on yesterday, so a test that takes
`date.today()` for a consent signed "today" is refused as future-dated for five hours of every night."""

from __future__ import annotations

import datetime
import zoneinfo

from django.utils import timezone

from clinic.tenancy.models import Clinic

DEFAULT_ZONE: str = Clinic._meta.get_field("timezone").default  # the zone test clinics are made in


def clinic_date(zone: str | Clinic | None = None) -> datetime.date:
    """Today in `zone` (a clinic or a zone name; the test clinics' default when not given)."""
    name = zone.timezone if isinstance(zone, Clinic) else (zone or DEFAULT_ZONE)
    return timezone.localdate(timezone=zoneinfo.ZoneInfo(name))
