"""Reads of intake assessments inside the current clinic (the scoped manager enforces it)."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from patients.intake.models import AssessmentAmendment, IntakeAssessment


def assessments_for_patient(*, patient_id) -> QuerySet[IntakeAssessment]:
    """One query, whatever the number of assessments (people joined, amendments counted)."""
    return (
        IntakeAssessment.objects.filter(patient_id=patient_id)
        .select_related("assessed_by", "signed_by")
        .annotate(amendment_count=Count("amendments"))
        .order_by("-assessed_on", "-created_at")
    )


def assessment_get(*, assessment_id) -> IntakeAssessment:
    """An assessment with its patient, people and amendments (in order, with their authors)."""
    queryset = IntakeAssessment.objects.select_related(
        "patient", "assessed_by", "signed_by"
    ).prefetch_related(
        Prefetch(
            "amendments",
            queryset=AssessmentAmendment.objects.select_related("author").order_by("sequence"),
        )
    )
    return get_object_or_404(queryset, pk=assessment_id)
