"""Reads of patient data. Each runs inside the current clinic (the scoped manager enforces it)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from patients.models import Patient


def patient_list(*, search: str = "", status: str = "") -> QuerySet[Patient]:
    patients = Patient.objects.all()
    search = search.strip()
    if search:
        terms = search.split()
        for term in terms:
            patients = patients.filter(
                Q(last_name__icontains=term)
                | Q(first_name__icontains=term)
                | Q(preferred_name__icontains=term)
                | Q(mrn__iexact=term.upper())
            )
    if status:
        patients = patients.filter(status=status)
    return patients.order_by("last_name", "first_name", "id")


def patient_get(*, patient_id) -> Patient:
    return get_object_or_404(Patient.objects.all(), pk=patient_id)


def patient_census() -> dict[str, int]:
    counts = dict(Patient.objects.values_list("status").annotate(n=Count("id")).order_by())
    return {status: counts.get(status, 0) for status in Patient.Status.values}


def patients_named_like(*, first_name: str, last_name: str, date_of_birth) -> QuerySet[Patient]:
    """Possible duplicates: same date of birth and the same names, ignoring case."""
    return Patient.objects.filter(
        date_of_birth=date_of_birth, last_name__iexact=last_name.strip(), first_name__iexact=first_name.strip()
    )
