"""Putting a service's refusal on the form that asked, so the page shows it next to the field at fault."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.forms import BaseForm


def apply_errors(
    form: BaseForm, error: ValidationError, *, field_for: Callable[[str, str], str | None] | None = None
) -> None:
    """Add `error` to `form`: per field where the service named one the form has, else at the top.

    `field_for(field, message)` lets a view point a service field at a different form field (e.g. a
    per-drug dose input); it returns the form field, or None for the top of the form.
    """
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, problems in error.message_dict.items():
        if field_for is None:
            form.add_error(field if field in form.fields else None, problems)
            continue
        for problem in problems:
            target = field_for(field, problem)
            form.add_error(target if target in form.fields else None, problem)
