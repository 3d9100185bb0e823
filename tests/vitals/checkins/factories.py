"""Builders for check-in tests and the tenancy registry: links, active taper plans, answers, check-ins."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal
from typing import Any

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from vitals.checkins import services
from vitals.checkins.models import CheckIn, CheckInLink
from vitals.checkins.selectors import checkin_link_path, local_day

_serial = itertools.count(1)


def make_link(clinic, patient, *, days: int = 30, actor=None) -> CheckInLink:
    with tenant_context(clinic):
        return services.checkin_link_create(actor=actor, patient=patient, days=days)


def link_path(clinic, link: CheckInLink) -> str:
    with tenant_context(clinic):
        return checkin_link_path(link)


def psychiatrist_in(clinic):
    from clinic.tenancy.models import Membership
    from tests.conftest import make_member

    found = Membership.objects.filter(clinic=clinic, roles__contains=[Role.PSYCHIATRIST.value]).first()
    if found is not None:
        return found.user
    return make_member(clinic, Role.PSYCHIATRIST, email=f"psy{next(_serial)}@{clinic.slug}.example.org")


def active_plan(clinic, patient, *, started_days_ago: int = 3, regimen=None):
    """An approved, active diazepam taper whose first reduction step is in force today."""
    from taper.services import PlanInput
    from tests.taper.factories import create_plan

    psychiatrist = psychiatrist_in(clinic)
    with tenant_context(clinic):
        today = local_day(datetime.datetime.now(datetime.UTC), clinic)
        data = PlanInput(
            regimen=regimen
            or [
                {"drug": "diazepam", "dose_mg": "10", "time_of_day": "08:00"},
                {"drug": "diazepam", "dose_mg": "10", "time_of_day": "21:00"},
            ],
            start_date=today - datetime.timedelta(days=started_days_ago),
            rate_percent=Decimal(10),
            interval_days=14,
            table="ashton",
            strategy="direct",
            high_dose_confirmation="20",
        )
        return create_plan(patient, psychiatrist, data, status="active")


def answers(**overrides: Any) -> dict[str, Any]:
    """A calm day, in the shape services.checkin_submit takes."""
    values: dict[str, Any] = {
        "dose_status": "taken_as_planned",
        "doses": {},
        "symptoms": {"tremor": 1, "sweating": 0, "heart": 0, "stomach": 0, "dizziness": 1},
        "red_flags": {},
        "sleep_hours": Decimal("6.5"),
        "sleep_quality": "fair",
        "anxiety": 3,
        "cravings": 2,
        "alcohol": False,
        "other_drugs": False,
        "other_drugs_text": "",
        "free_text": "",
    }
    values.update(overrides)
    return values


def form_data(*, with_plan: bool = True, **overrides: Any) -> dict[str, str]:
    """A calm day as the public form posts it."""
    from vitals.checkins.rules import symptom_form

    form = symptom_form()
    data = {f"sym_{item.id}": "0" for item in form.items}
    data.update({f"flag_{flag.id}": "no" for flag in form.red_flags})
    data.update(
        {
            "sleep_hours": "7",
            "sleep_quality": "good",
            "anxiety": "2",
            "cravings": "1",
            "alcohol": "no",
            "other_drugs": "no",
            "other_drugs_text": "",
            "free_text": "",
        }
    )
    if with_plan:
        data["dose_status"] = "taken_as_planned"
    data.update({key: str(value) for key, value in overrides.items()})
    return data


def checkin_in(clinic, patient=None, **overrides: Any) -> CheckIn:
    """A submitted check-in (no taper plan) of a new or given patient of `clinic`."""
    from tests.conftest import make_patient

    patient = patient or make_patient(
        clinic, first_name=f"Checkin{next(_serial)}", last_name="Probe", status="active"
    )
    link = make_link(clinic, patient)
    with tenant_context(clinic):
        return services.checkin_submit(link=link, answers=answers(dose_status="", **overrides))
