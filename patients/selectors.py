"""Reads of patient data. Each runs inside the current clinic (the scoped manager enforces it)."""

from __future__ import annotations

import uuid

from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from patients.models import CareEpisode, Patient


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
        date_of_birth=date_of_birth,
        last_name__iexact=last_name.strip(),
        first_name__iexact=first_name.strip(),
    )


def patient_record(*, patient_id, clinical: bool) -> Patient:
    """A patient with every section of the record loaded in a fixed number of queries (one per
    section, whatever the number of rows). Clinical sections only for roles that may read them."""
    sections = [
        "contacts",
        "external_identifiers",
        "allergies",
        Prefetch("care_episodes", queryset=CareEpisode.objects.order_by("-started_on", "-created_at")),
    ]
    if clinical:
        sections += ["diagnoses", "substance_uses", "reported_medications"]
    return get_object_or_404(Patient.objects.prefetch_related(*sections), pk=patient_id)


def current_episode(patient: Patient) -> CareEpisode | None:
    """The open episode, read from the prefetched history when there is one."""
    cache = getattr(patient, "_prefetched_objects_cache", {})
    episodes = cache["care_episodes"] if "care_episodes" in cache else patient.care_episodes.all()
    return next((episode for episode in episodes if episode.ended_on is None), None)


def entry_get(*, model, entry_id):
    """One contact / identifier / allergy / diagnosis / substance-use row / medication of this clinic."""
    return get_object_or_404(model.objects.select_related("patient"), pk=entry_id)


def patient_id_by_id_or_mrn(term: str) -> uuid.UUID | None:
    """A patient of this clinic by id or MRN (case-insensitive); None when there is none."""
    try:
        wanted = uuid.UUID(term)
    except ValueError:
        return Patient.objects.filter(mrn__iexact=term).values_list("id", flat=True).first()
    return Patient.objects.filter(pk=wanted).values_list("id", flat=True).first()


def patient_mrns(patient_ids) -> dict[uuid.UUID, str]:
    """MRNs for patient ids, or for a subquery of them, in one query."""
    return dict(Patient.objects.filter(pk__in=patient_ids).values_list("id", "mrn"))
