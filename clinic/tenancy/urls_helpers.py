"""Reversing clinic URLs without repeating the clinic slug everywhere."""

from __future__ import annotations

from django.urls import reverse

from clinic.tenancy.context import require_clinic


def clinic_reverse(viewname: str, **kwargs) -> str:
    return reverse(viewname, kwargs={"clinic_slug": require_clinic().slug, **kwargs})
