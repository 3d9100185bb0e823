"""Helpers for the taper browser-view tests: logged-in clients, URLs, a builder form body, and plans made
through the services at dates relative to the clinic's today."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from clinic.tenancy.context import tenant_context
from taper import selectors
from taper.models import TaperPlan
from tests.dates import clinic_date
from tests.taper.factories import make_taper_plan


def url(clinic, tail: str) -> str:
    return f"/c/{clinic.slug}/taper/{tail}"


# The builder refuses a start in the past: a Monday one to two weeks ahead, whatever the clinic's time zone.
FIRST_STEP = clinic_date() + datetime.timedelta(days=14 - clinic_date().weekday())


def builder_body(
    *, lines: list[tuple[str, str, str]] | None = None, holds=(), **fields: Any
) -> dict[str, str]:
    """A POST body for the builder: regimen lines (drug, mg, time), optional holds (date, days), fields."""
    lines = [("diazepam", "10", "08:00"), ("diazepam", "10", "21:00")] if lines is None else lines
    body = {
        "line-TOTAL_FORMS": str(len(lines)),
        "line-INITIAL_FORMS": "0",
        "hold-TOTAL_FORMS": str(len(holds)),
        "hold-INITIAL_FORMS": "0",
        "start_date": FIRST_STEP.isoformat(),
        "high_dose_confirmation": "20",  # diazepam 10 mg twice a day: 20 mg DE, the guideline's high band
        "liquid": "cap",
        "strategy": "direct",
        "rate_percent": "10",
        "interval_days": "14",
        "table": "ashton",
        "target_de_mg": "",
        "slow_rate_percent": "",
        "slow_below_de_mg": "",
        "substitution_interval_days": "",
        "reason": "",
    }
    for i, (drug, mg, time) in enumerate(lines):
        body.update({f"line-{i}-drug": drug, f"line-{i}-dose_mg": mg, f"line-{i}-time_of_day": time})
    for i, (on_date, days) in enumerate(holds):
        body.update({f"hold-{i}-on_date": on_date, f"hold-{i}-days": days})
    body.update({k: str(v) for k, v in fields.items()})
    return body


def today(clinic) -> datetime.date:
    with tenant_context(clinic):
        return selectors.clinic_today()


def make_plan(
    clinic, patient, psychiatrist, *, status: str = "draft", days_ago: int = 20, **changes
) -> TaperPlan:
    """A plan through the services; `status` draft|proposed|approved|active. Active plans started
    `days_ago` days before the clinic's today, so today falls inside the schedule."""
    start = today(clinic) - datetime.timedelta(days=days_ago)
    changes.setdefault("start_date", start)
    return make_taper_plan(clinic, patient, psychiatrist, status=status, **changes)


def reload(clinic, plan: TaperPlan) -> TaperPlan:
    with tenant_context(clinic):
        return TaperPlan.objects.select_related("current_version").get(pk=plan.pk)


def count(clinic, model, **filters) -> int:
    with tenant_context(clinic):
        return model.objects.filter(**filters).count()


__all__ = ["Decimal", "builder_body", "count", "make_plan", "reload", "today", "url"]
