"""Taper plans for tests, made through the services the way a clinic makes them.

A plan that started in the past is built as it was on its first day (`today=` the start), since the builder
refuses a start in the past; approval sends the digest of the warnings shown (services.warnings_digest).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from clinic.tenancy.context import clinic_today, tenant_context
from taper import services
from taper.models import TaperPlan

START = datetime.date(2026, 1, 5)


def plan_input(**changes: Any) -> services.PlanInput:
    """Diazepam 10 mg twice a day (20 mg DE, the guideline's high band, hence the confirmation), 10% every
    14 days from START."""
    values: dict[str, Any] = dict(
        regimen=[
            {"drug": "diazepam", "dose_mg": "10", "time_of_day": "08:00"},
            {"drug": "diazepam", "dose_mg": "10", "time_of_day": "21:00"},
        ],
        start_date=START,
        rate_percent=Decimal(10),
        interval_days=14,
        table="ashton",
        strategy="direct",
        high_dose_confirmation="20",
    )
    values.update(changes)
    return services.PlanInput(**values)


def approve(plan: TaperPlan, actor: Any, note: str = "") -> TaperPlan:
    """Approve as a psychiatrist who was shown the version's warnings (inside the clinic's tenant context)."""
    plan = TaperPlan.objects.select_related("current_version").get(pk=plan.pk)
    digest = services.warnings_digest(plan.current_version)
    return services.plan_approve(actor=actor, plan=plan, note=note, warnings_seen=digest)


def create_plan(patient, psychiatrist, data: services.PlanInput, *, status: str = "draft", reason: str = ""):
    """Inside a tenant context: a plan in `status` (draft|proposed|approved|active), created as of its start
    date when that is in the past."""
    plan = services.plan_create(
        actor=psychiatrist,
        patient=patient,
        data=data,
        reason=reason,
        today=min(data.start_date, clinic_today()),
    )
    if status == "proposed":
        services.plan_propose(actor=psychiatrist, plan=plan)
    if status in ("approved", "active"):
        plan = approve(plan, psychiatrist)
    if status == "active":
        plan = services.plan_activate(actor=psychiatrist, plan=plan)
    return TaperPlan.objects.select_related("current_version", "patient").get(pk=plan.pk)


def make_taper_plan(
    clinic, patient, psychiatrist, *, status: str = "active", data=None, **changes
) -> TaperPlan:
    """The same, entering the clinic's tenant context; `changes` go to plan_input."""
    with tenant_context(clinic):
        return create_plan(patient, psychiatrist, data or plan_input(**changes), status=status)
