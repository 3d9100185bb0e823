"""Helpers for the progress, dose and review view tests: an active plan that started a few weeks ago,
logged-in clients per role, and URLs."""

from __future__ import annotations

import datetime

from clinic.tenancy.context import tenant_context
from taper import selectors, services
from taper.models import TaperPlan
from tests.taper.factories import make_taper_plan

D = datetime.timedelta


def today_in(clinic) -> datetime.date:
    with tenant_context(clinic):
        return selectors.clinic_today()


def active_plan(clinic, patient, psychiatrist, *, days_ago: int = 20, **changes) -> TaperPlan:
    """An active plan (diazepam 10 mg twice a day, 10% every 14 days) that started `days_ago` days ago."""
    start = today_in(clinic) - D(days=days_ago)
    return make_taper_plan(clinic, patient, psychiatrist, status="active", start_date=start, **changes)


def record_doses(clinic, plan, actor, days: list[int], *, mg: str | None = None) -> None:
    """Dose records `days` days ago: as planned, or `mg` of diazepam."""
    with tenant_context(clinic):
        today = selectors.clinic_today()
        for n in days:
            services.dose_record(
                actor=actor,
                plan=plan,
                day=today - D(days=n),
                source="nurse",
                as_planned=None if mg else True,
                mg_by_drug={"diazepam": mg} if mg else None,
            )


def url(clinic, name: str, plan=None) -> str:
    base = f"/c/{clinic.slug}/taper"
    return {
        "progress": f"{base}/plans/{getattr(plan, 'pk', None)}/progress/",
        "dose": f"{base}/plans/{getattr(plan, 'pk', None)}/doses/",
        "review": f"{base}/review/",
    }[name]
