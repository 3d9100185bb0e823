"""Dates as the taper pages and PDFs print them: always with the year, in one form.

* `long_date`: "Tue Jan 1, 2999" — sentences, banners, the schedule's dates.
* `short_date`: "Jan 1, 2999" — narrow table cells and lists.

A plan can run into the next year (or be built for a later one), so a date without its year is ambiguous;
nothing on a plan page or in a plan document prints a bare "Jan 1". Aware datetimes are shown in the
current time zone (the clinic's, inside a request). Templates use the same forms through
`{% load taper_format %}` (`|long_date`, `|short_date`).
"""

from __future__ import annotations

import datetime

from django.utils import dateformat, timezone

LONG_DATE = "D M j, Y"
SHORT_DATE = "M j, Y"


def _format(value: datetime.date | datetime.datetime | None, pattern: str) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return dateformat.format(value, pattern)


def long_date(value: datetime.date | datetime.datetime | None) -> str:
    """'Tue Jan 1, 2999'."""
    return _format(value, LONG_DATE)


def short_date(value: datetime.date | datetime.datetime | None) -> str:
    """'Jan 1, 2999'."""
    return _format(value, SHORT_DATE)
