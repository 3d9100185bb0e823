"""A clinic's "Today" page, open to every member; patient figures only for roles that may see them."""

from __future__ import annotations

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.access import require_member
from clinic.tenancy.roles import Perm, role_labels
from patients.models import Patient
from patients.selectors import patient_census, patient_list
from patients.tasks import census_cache_key

RECENT_PATIENTS = 6


@require_member
def dashboard(request: HttpRequest) -> HttpResponse:
    context: dict = {"roles": role_labels(request.membership.roles)}
    if request.membership.allows(Perm.PATIENT_VIEW):
        census = cache.get(census_cache_key(request.clinic.pk)) or patient_census()
        labels = dict(Patient.Status.choices)
        context["census"] = [
            {"status": status, "label": labels.get(status, status), "count": count}
            for status, count in census.items()
        ]
        context["census_total"] = sum(census.values())
        recent = list(patient_list().order_by("-updated_at")[:RECENT_PATIENTS])
        audit(
            actor=request.user,
            action=AuditEvent.Action.LIST,
            object_type="patients.patient",
            detail={"view": "dashboard.recent", "shown": len(recent)},
        )
        context["recent_patients"] = recent
    return render(request, "dashboard.html", context)
