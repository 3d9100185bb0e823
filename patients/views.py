"""Browser views for the patient record. Thin: selectors read, services write, audit records."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.forms import PatientForm
from patients.models import Patient
from patients.selectors import patient_get, patient_list, patients_named_like
from patients.services import patient_create, patient_update

PAGE_SIZE = 25


@require_perm(Perm.PATIENT_VIEW)
def patient_list_view(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")[:100]
    status = request.GET.get("status", "")
    if status not in Patient.Status.values:
        status = ""
    page = Paginator(patient_list(search=search, status=status), PAGE_SIZE).get_page(request.GET.get("page"))
    audit(
        actor=request.user,
        action=AuditEvent.Action.LIST,
        object_type="patients.patient",
        detail={"search": search, "status": status, "page": page.number, "shown": len(page.object_list)},
    )
    context = {"page": page, "search": search, "status": status, "statuses": Patient.Status.choices}
    template = "patients/_patient_rows.html" if request.htmx and not request.htmx.boosted else "patients/list.html"
    return render(request, template, context)


def _save_form(request: HttpRequest, form: PatientForm, patient: Patient | None) -> Patient | None:
    if not form.is_valid():
        return None
    try:
        if patient is None:
            return patient_create(actor=request.user, fields=form.cleaned_data)
        return patient_update(actor=request.user, patient=patient, fields=form.cleaned_data)
    except ValidationError as error:
        for field, problems in error.message_dict.items():
            form.add_error(field if field in form.fields else None, problems)
        return None


@require_perm(Perm.PATIENT_CREATE)
def patient_create_view(request: HttpRequest) -> HttpResponse:
    # Bound on every POST, even an empty one, so missing fields are reported rather than ignored.
    form = PatientForm(request.POST if request.method == "POST" else None)
    duplicates = []
    if request.method == "POST":
        if form.is_valid() and not request.POST.get("confirm_duplicate"):
            data = form.cleaned_data
            duplicates = list(
                patients_named_like(
                    first_name=data["first_name"], last_name=data["last_name"], date_of_birth=data["date_of_birth"]
                )[:5]
            )
        if not duplicates:
            patient = _save_form(request, form, None)
            if patient is not None:
                messages.success(request, f"{patient.display_name} was added with MRN {patient.mrn}.")
                return redirect(clinic_reverse("patients:detail", patient_id=patient.pk))
    return render(request, "patients/form.html", {"form": form, "duplicates": duplicates, "patient": None})


@require_perm(Perm.PATIENT_VIEW)
def patient_detail_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=patient, patient=patient)
    return render(request, "patients/detail.html", {"patient": patient})


@require_perm(Perm.PATIENT_EDIT)
def patient_edit_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    if request.method != "POST":
        audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=patient, patient=patient)
    data = request.POST if request.method == "POST" else None
    form = PatientForm(data, instance=Patient.objects.get(pk=patient.pk))
    if request.method == "POST":
        saved = _save_form(request, form, patient)
        if saved is not None:
            messages.success(request, "Changes saved.")
            return redirect(clinic_reverse("patients:detail", patient_id=patient.pk))
    return render(request, "patients/form.html", {"form": form, "patient": patient, "duplicates": []})
