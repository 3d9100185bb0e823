"""Browser views for the patient record. Thin: selectors read, services write, audit records."""

from __future__ import annotations

import copy

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch
from django.utils import timezone

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.pdf import pdf_response, render_pdf
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.forms import LevelOfCareForm, PatientForm
from patients.models import Patient
from patients.sections import SECTIONS, Section
from patients.selectors import (
    current_episode,
    entry_get,
    patient_get,
    patient_list,
    patient_record,
    patients_named_like,
)
from patients.services import (
    care_episode_end,
    care_episode_start,
    entry_can_close,
    patient_create,
    patient_update,
    record_entry_add,
    record_entry_close,
    record_entry_update,
)

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
    template = (
        "patients/_patient_rows.html" if request.htmx and not request.htmx.boosted else "patients/list.html"
    )
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
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    date_of_birth=data["date_of_birth"],
                )[:5]
            )
        if not duplicates:
            patient = _save_form(request, form, None)
            if patient is not None:
                messages.success(request, f"{patient.display_name} was added with MRN {patient.mrn}.")
                return redirect(clinic_reverse("patients:detail", patient_id=patient.pk))
    return render(request, "patients/form.html", {"form": form, "duplicates": duplicates, "patient": None})


@require_perm(Perm.PATIENT_EDIT)
def patient_edit_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    if request.method != "POST":
        audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=patient, patient=patient)
    data = request.POST if request.method == "POST" else None
    # The form writes into its instance while validating; the service compares against the untouched one.
    form = PatientForm(data, instance=copy.copy(patient))
    if request.method == "POST":
        saved = _save_form(request, form, patient)
        if saved is not None:
            messages.success(request, "Changes saved.")
            return redirect(clinic_reverse("patients:detail", patient_id=patient.pk))
    return render(request, "patients/form.html", {"form": form, "patient": patient, "duplicates": []})


# --- the patient record page and its sections ------------------------------------------------------------
PANELS = (
    # (URL name, permission the panel's own view requires, heading shown while it loads)
    ("intake:patient-panel", Perm.CLINICAL_VIEW, "Intake assessment"),
    ("insurance:patient-panel", Perm.INSURANCE_VIEW, "Insurance"),
    ("consent:patient-panel", Perm.CONSENT_VIEW, "Consent"),
    ("vitals:patient-panel", Perm.VITALS_VIEW, "Vitals & scores"),
    ("taper:patient-panel", Perm.TAPER_VIEW, "Taper plan"),
    ("prescribers:patient-panel", Perm.MEDICATION_VIEW, "Medications & prescribers"),
    ("checkins:patient-panel", Perm.VITALS_VIEW, "Daily check-ins"),
    ("scheduling:patient-panel", Perm.SCHEDULE_VIEW, "Schedule"),
    ("safety:patient-panel", Perm.ALERT_VIEW, "Safety alerts"),
)


def _panels(request: HttpRequest, patient: Patient) -> list[dict[str, str]]:
    """The sub-apps' lazy panels this person may see; a sub-app not built yet is skipped silently."""
    found = []
    for name, perm, heading in PANELS:
        if not request.membership.allows(perm):
            continue
        try:
            url = clinic_reverse(name, patient_id=patient.pk)
        except NoReverseMatch:
            continue
        found.append({"url": url, "heading": heading, "id": name.split(":")[0] + "-panel"})
    return found


def _record_context(request: HttpRequest, patient: Patient, clinical: bool) -> dict:
    entries = patient._prefetched_objects_cache
    sections = []
    for section in SECTIONS:
        if not request.membership.allows(section.view_perm):
            continue
        rows = list(entries[section.model._meta.get_field("patient").remote_field.related_name])
        sections.append(
            {
                "section": section,
                "entries": rows,
                "open": [row for row in rows if not row.is_closed],
                "closed": [row for row in rows if row.is_closed],
                "can_edit": request.membership.allows(section.edit_perm),
            }
        )
    allergies = [row for row in entries["allergies"] if not row.is_closed]
    return {
        "patient": patient,
        "sections": sections,
        "active_allergies": allergies,
        "episodes": list(entries["care_episodes"]),
        "current_episode": current_episode(patient),
        "clinical": clinical,
        "panels": _panels(request, patient),
    }


@require_perm(Perm.PATIENT_VIEW)
def patient_detail_view(request: HttpRequest, patient_id) -> HttpResponse:
    clinical = request.membership.allows(Perm.CLINICAL_VIEW)
    patient = patient_record(patient_id=patient_id, clinical=clinical)
    audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=patient, patient=patient)
    return render(request, "patients/detail.html", _record_context(request, patient, clinical))


@require_perm(Perm.PATIENT_VIEW)
def face_sheet_view(request: HttpRequest, patient_id) -> HttpResponse:
    clinical = request.membership.allows(Perm.CLINICAL_VIEW)
    patient = patient_record(patient_id=patient_id, clinical=clinical)
    context = _record_context(request, patient, clinical)
    context.update(
        clinic=request.clinic,
        coverages=_coverages(patient) if request.membership.allows(Perm.INSURANCE_VIEW) else None,
        printed_at=timezone.localtime(),
        printed_by=request.user.display_name,
    )
    content = render_pdf("pdf/face_sheet.html", context)
    audit(
        actor=request.user,
        action=AuditEvent.Action.PRINT,
        obj=patient,
        patient=patient,
        detail={"document": "face_sheet", "clinical_sections": clinical},
    )
    return pdf_response(content, f"face-sheet-{patient.mrn}.pdf")


def _coverages(patient: Patient) -> list | None:
    """The insurance app's coverages, when that app provides them (it is built alongside this one)."""
    try:
        from patients.insurance.selectors import coverages_for_patient
    except ImportError:
        return None
    return coverages_for_patient(patient=patient)


@require_perm(Perm.PATIENT_EDIT)
def level_of_care_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_record(patient_id=patient_id, clinical=False)
    current = current_episode(patient)
    form = LevelOfCareForm(request.POST if request.method == "POST" else None, patient=patient)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["action"] == form.DISCHARGE:
                if current is None:
                    raise ValidationError({"action": "The patient has no open episode of care to end."})
                care_episode_end(
                    actor=request.user, patient=patient, ended_on=data["effective_on"], reason=data["reason"]
                )
                messages.success(request, f"{patient.display_name} was discharged.")
            else:
                episode = care_episode_start(
                    actor=request.user,
                    patient=patient,
                    level=data["level"],
                    started_on=data["effective_on"],
                    reason=data["reason"],
                )
                messages.success(request, f"{patient.display_name} is now in {episode.get_level_display()}.")
            return redirect(clinic_reverse("patients:detail", patient_id=patient.pk) + "#level-of-care")
        except ValidationError as error:
            _add_errors(form, error)
    context = {
        "patient": patient,
        "form": form,
        "current": current,
        "episodes": list(patient.care_episodes.all()),
    }
    return render(request, "patients/level_of_care.html", context)


def _add_errors(form, error: ValidationError) -> None:
    renamed = {"started_on": "effective_on", "ended_on": "effective_on"}
    problems = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for field, messages_ in problems.items():
        field = renamed.get(field, field)
        form.add_error(field if field in form.fields else None, messages_)


def _entry_page(request, *, section: Section, patient: Patient, form, entry=None) -> HttpResponse:
    context = {"section": section, "patient": patient, "form": form, "entry": entry}
    if section.key == "diagnoses":
        context["code_choices"] = form.code_choices
    return render(request, "patients/entry_form.html", context)


def _back_to(section: Section, patient_id) -> str:
    return clinic_reverse("patients:detail", patient_id=patient_id) + f"#{section.key}"


def _section_views(section: Section) -> dict[str, object]:
    """The list, add, edit and close views of one record section, each guarded by the section's
    permission (the role matrix reads it off the view)."""

    @require_perm(section.view_perm)
    def list_view(request: HttpRequest, patient_id) -> HttpResponse:
        patient = patient_get(patient_id=patient_id)
        entries = list(section.model.objects.filter(patient=patient))
        audit(
            actor=request.user,
            action=AuditEvent.Action.LIST,
            object_type=section.model._meta.label_lower,
            patient=patient,
            detail={"shown": len(entries)},
        )
        context = {
            "section": section,
            "patient": patient,
            "entries": entries,
            "can_edit": request.membership.allows(section.edit_perm),
        }
        return render(request, "patients/section_list.html", context)

    @require_perm(section.edit_perm)
    def add_view(request: HttpRequest, patient_id) -> HttpResponse:
        patient = patient_get(patient_id=patient_id)
        form = section.form(request.POST if request.method == "POST" else None, patient=patient)
        if request.method == "POST" and form.is_valid():
            try:
                record_entry_add(
                    actor=request.user, patient=patient, model=section.model, fields=form.cleaned_data
                )
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, f"{section.title}: added.")
                return redirect(_back_to(section, patient.pk))
        return _entry_page(request, section=section, patient=patient, form=form)

    @require_perm(section.edit_perm)
    def edit_view(request: HttpRequest, **kwargs) -> HttpResponse:
        entry = entry_get(model=section.model, entry_id=kwargs[section.kwarg])
        if request.method != "POST":
            audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=entry, patient=entry.patient_id)
        data = request.POST if request.method == "POST" else None
        form = section.form(data, instance=copy.copy(entry), patient=entry.patient)
        if request.method == "POST" and form.is_valid():
            try:
                record_entry_update(actor=request.user, entry=entry, fields=form.cleaned_data)
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, f"{section.title}: changes saved.")
                return redirect(_back_to(section, entry.patient_id))
        return _entry_page(request, section=section, patient=entry.patient, form=form, entry=entry)

    views = {"list": list_view, "add": add_view, "edit": edit_view}
    if section.close_label:

        @require_perm(section.edit_perm)
        def close_view(request: HttpRequest, **kwargs) -> HttpResponse:
            entry = entry_get(model=section.model, entry_id=kwargs[section.kwarg])
            if request.method == "POST":
                if entry_can_close(entry):
                    record_entry_close(actor=request.user, entry=entry)
                    messages.success(
                        request, f"{section.title}: “{entry}” — {section.close_label.lower()} done."
                    )
                return redirect(_back_to(section, entry.patient_id))
            audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=entry, patient=entry.patient_id)
            context = {"section": section, "patient": entry.patient, "entry": entry}
            return render(request, "patients/entry_close.html", context)

        views["close"] = close_view
    for name, view in views.items():
        view.__name__ = view.__qualname__ = f"{section.noun.replace('-', '_')}_{name}_view"
    return views


SECTION_VIEWS = {section.key: _section_views(section) for section in SECTIONS}
