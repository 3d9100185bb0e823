"""Scheduling objects for tests: a program, rooms and a weekly group, made through the services."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from clinic.tenancy.context import tenant_context
from tests.dates import clinic_date

WEEK_AGO = clinic_date() - dt.timedelta(days=7)


def session_type(clinic, code: str = "dbt_skills"):
    from scheduling.services import session_types_ensure

    with tenant_context(clinic):
        return next(t for t in session_types_ensure() if t.code == code)


def make_program(clinic, **fields: Any):
    from scheduling.services import program_save

    values = {"name": "IOP days", "level": "iop", "hours_min": 9, "hours_below": 20, **fields}
    with tenant_context(clinic):
        return program_save(actor=None, fields=values)


def make_room(clinic, name: str = "Group room A", **fields: Any):
    from scheduling.services import room_save

    with tenant_context(clinic):
        return room_save(actor=None, fields={"name": name, "capacity": 12, **fields})


def make_series(clinic, facilitator, **fields: Any):
    """A weekly group (Mon/Wed/Fri 10:00, 180 min unless changed) that began a week ago."""
    from scheduling.services import series_create

    values = {
        "session_type": fields.pop("session_type", None) or session_type(clinic),
        "title": "DBT skills",
        "facilitator": facilitator,
        "weekdays": [0, 2, 4],
        "start_time": dt.time(10, 0),
        "minutes": 180,
        "starts_on": WEEK_AGO,
        "capacity": 8,
        **fields,
    }
    with tenant_context(clinic):
        return series_create(actor=None, fields=values)


def local(clinic, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(clinic.timezone))


def past_occurrences(clinic, series):
    from scheduling.models import Occurrence

    with tenant_context(clinic):
        return list(
            Occurrence.objects.filter(series=series, local_date__lt=clinic_date()).order_by("starts_at")
        )
