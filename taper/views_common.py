"""What the taper browser views share: a plan by id (404 otherwise)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from taper.models import TaperPlan


def plan_or_404(plan_id) -> TaperPlan:
    return get_object_or_404(TaperPlan.objects.select_related("patient", "current_version"), pk=plan_id)
