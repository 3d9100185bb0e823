"""What the taper browser views share: a plan by id (404 otherwise) and service errors onto a form."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.forms import Form
from django.shortcuts import get_object_or_404

from taper.models import TaperPlan


def _apply_errors(form: Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, problems in error.message_dict.items():
            form.add_error(field if field in form.fields else None, problems)
    else:
        form.add_error(None, error.messages)


def plan_or_404(plan_id) -> TaperPlan:
    return get_object_or_404(TaperPlan.objects.select_related("patient", "current_version"), pk=plan_id)
