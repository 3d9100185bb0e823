"""Browser views for the admissions pipeline. Thin: selectors read, services write, both audit.

Dates and times on these pages are the clinic's local time (an intake at "10:00" is 10:00 where the
clinic is), whatever the server's zone.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.access import require_perm
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.admissions import stages
from patients.admissions.forms import AdvanceForm, BenzodiazepineFormSet, InquiryForm, benzodiazepine_initial
from patients.admissions.models import Inquiry
from patients.admissions.selectors import (
    clinic_tz,
    closed_inquiries,
    inquiry_board,
    inquiry_get,
    reviews_due,
)
from patients.admissions.services import (
    PossibleDuplicate,
    inquiry_advance,
    inquiry_convert_to_patient,
    inquiry_create,
    inquiry_link_patient,
    inquiry_update,
)
from patients.models import Patient
from patients.selectors import patients_named_like

REVIEW_WINDOW_DAYS = 7
MAX_REVIEW_WINDOW_DAYS = 90


def clinic_local_time(view: Callable) -> Callable:
    """Parse and show datetimes in the clinic's time zone for the whole request."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        with timezone.override(clinic_tz()):
            return view(request, *args, **kwargs)

    return wrapped


def _add_errors(form, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, problems in error.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)


def _review_window(request: HttpRequest) -> int:
    try:
        days = int(request.GET.get("review_days", REVIEW_WINDOW_DAYS))
    except ValueError:
        return REVIEW_WINDOW_DAYS
    return min(max(days, 1), MAX_REVIEW_WINDOW_DAYS)


@require_perm(Perm.INQUIRY_VIEW)
@clinic_local_time
def board_view(request: HttpRequest) -> HttpResponse:
    closed_stage = request.GET.get("closed", "")
    if closed_stage not in {stage.value for stage in stages.CLOSED_STAGES}:
        closed_stage = ""
    search = request.GET.get("q", "")[:100]
    columns = inquiry_board()
    closed = closed_inquiries(stage=closed_stage, search=search)
    window = _review_window(request)
    reviews = reviews_due(within_days=window) if request.membership.allows(Perm.INSURANCE_VIEW) else []
    audit(
        actor=request.user,
        action=AuditEvent.Action.LIST,
        object_type="admissions.inquiry",
        detail={
            "open": sum(c.count for c in columns),
            "closed_shown": len(closed),
            "closed_filter": closed_stage,
        },
    )
    context = {
        "columns": columns,
        "open_total": sum(column.count for column in columns),
        "closed": closed,
        "closed_stage": closed_stage,
        "closed_choices": [
            (stage.value, stage.label)
            for stage in stages.PIPELINE + stages.CLOSING_STAGES
            if stage in stages.CLOSED_STAGES
        ],
        "search": search,
        "reviews": reviews,
        "review_days": window,
        "today": clinic_today(),
    }
    return render(request, "admissions/board.html", context)


def _save_inquiry(
    request: HttpRequest, form: InquiryForm, formset, inquiry: Inquiry | None
) -> Inquiry | None:
    if not (form.is_valid() and formset.is_valid()):
        return None
    try:
        if inquiry is None:
            return inquiry_create(
                actor=request.user, fields=form.cleaned_data, benzodiazepines=formset.rows()
            )
        return inquiry_update(
            actor=request.user, inquiry=inquiry, fields=form.cleaned_data, benzodiazepines=formset.rows()
        )
    except ValidationError as error:
        problems = dict(error.message_dict) if hasattr(error, "error_dict") else {None: error.messages}
        # Dose problems found by the service belong to the formset rows; show them at the top.
        benzodiazepine_problems = problems.pop("benzodiazepines", [])
        if benzodiazepine_problems:
            form.add_error(None, benzodiazepine_problems)
        for field, messages_ in problems.items():
            form.add_error(field if field in form.fields else None, messages_)
        return None


@require_perm(Perm.INQUIRY_MANAGE)
@clinic_local_time
def inquiry_create_view(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = InquiryForm(data)
    formset = BenzodiazepineFormSet(data, prefix="benzo")
    if request.method == "POST":
        inquiry = _save_inquiry(request, form, formset, None)
        if inquiry is not None:
            messages.success(request, f"Inquiry for {inquiry.display_name} added.")
            return redirect(clinic_reverse("admissions:detail", inquiry_id=inquiry.pk))
    return render(
        request, "admissions/inquiry_form.html", {"form": form, "formset": formset, "inquiry": None}
    )


@require_perm(Perm.INQUIRY_MANAGE)
@clinic_local_time
def inquiry_edit_view(request: HttpRequest, inquiry_id) -> HttpResponse:
    inquiry = inquiry_get(inquiry_id=inquiry_id)
    if not inquiry.is_open:
        messages.error(request, "This inquiry is closed; its record is kept as it was.")
        return redirect(clinic_reverse("admissions:detail", inquiry_id=inquiry.pk))
    if request.method != "POST":
        audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=inquiry, patient=inquiry.patient_id)
    data = request.POST if request.method == "POST" else None
    form = InquiryForm(data, instance=copy.copy(inquiry), stage=inquiry.stage)
    formset = BenzodiazepineFormSet(data, prefix="benzo", initial=benzodiazepine_initial(inquiry))
    if request.method == "POST":
        saved = _save_inquiry(request, form, formset, inquiry)
        if saved is not None:
            messages.success(request, "Changes saved.")
            return redirect(clinic_reverse("admissions:detail", inquiry_id=inquiry.pk))
    return render(
        request, "admissions/inquiry_form.html", {"form": form, "formset": formset, "inquiry": inquiry}
    )


@require_perm(Perm.INQUIRY_VIEW)
@clinic_local_time
def inquiry_detail_view(request: HttpRequest, inquiry_id) -> HttpResponse:
    inquiry = inquiry_get(inquiry_id=inquiry_id)
    audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=inquiry, patient=inquiry.patient_id)
    next_stages = stages.next_stages(inquiry.stage)
    context = {
        "inquiry": inquiry,
        "pipeline_next": [
            (s, stages.ACTION_LABELS[s]) for s in next_stages if s not in stages.CLOSING_STAGES
        ],
        "closing_next": [(s, stages.ACTION_LABELS[s]) for s in next_stages if s in stages.CLOSING_STAGES],
        "pipeline": stages.PIPELINE,
        "reached": stages.PIPELINE.index(inquiry.stage_enum) if inquiry.stage_enum in stages.PIPELINE else -1,
    }
    return render(request, "admissions/detail.html", context)


@require_perm(Perm.INQUIRY_MANAGE)
@clinic_local_time
def inquiry_advance_view(request: HttpRequest, inquiry_id) -> HttpResponse:
    inquiry = inquiry_get(inquiry_id=inquiry_id)
    detail_url = clinic_reverse("admissions:detail", inquiry_id=inquiry.pk)
    source = request.POST if request.method == "POST" else request.GET
    target = stages.parse(source.get("to_stage") or source.get("to"))
    move_error = stages.transition_errors(inquiry.stage, target or source.get("to_stage", ""), {}).get(
        "to_stage"
    )
    if target is None or move_error:
        messages.error(request, move_error or "Choose the next stage for this inquiry.")
        return redirect(detail_url)
    needs_patient = target == stages.Stage.ADMITTED and not inquiry.patient_id
    form = AdvanceForm(request.POST if request.method == "POST" else None, target=target, inquiry=inquiry)
    if request.method == "POST" and not needs_patient and form.is_valid():
        try:
            inquiry = inquiry_advance(
                actor=request.user,
                inquiry=inquiry,
                to_stage=target.value,
                note=form.cleaned_data.get("note", ""),
                **form.requirements(),
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            if target == stages.Stage.ADMITTED:
                messages.success(
                    request,
                    f"{inquiry.patient.display_name} admitted to {inquiry.get_level_of_care_display()}.",
                )
                return redirect(clinic_reverse("patients:detail", patient_id=inquiry.patient_id))
            messages.success(request, f"{inquiry.display_name} is now {target.label.lower()}.")
            return redirect(detail_url)
    context = {
        "inquiry": inquiry,
        "target": target,
        "action_label": stages.ACTION_LABELS[target],
        "form": form,
        "needs_patient": needs_patient,
        "closing": target in stages.CLOSING_STAGES,
    }
    return render(request, "admissions/advance.html", context)


def _posted_patient(request: HttpRequest) -> Patient | None:
    try:
        patient_id = uuid.UUID(request.POST.get("patient_id", ""))
    except ValueError:
        return None
    return Patient.objects.filter(pk=patient_id).first()  # scoped to this clinic


@require_perm(Perm.INQUIRY_MANAGE)
@clinic_local_time
def inquiry_convert_view(request: HttpRequest, inquiry_id) -> HttpResponse:
    """Turn the inquiry into a patient, or link it to the patient it turns out to be."""
    inquiry = inquiry_get(inquiry_id=inquiry_id)
    detail_url = clinic_reverse("admissions:detail", inquiry_id=inquiry.pk)
    if inquiry.patient_id or not inquiry.is_open:
        messages.info(
            request,
            "This inquiry is already linked to a patient."
            if inquiry.patient_id
            else "Only an open inquiry can become a patient.",
        )
        return redirect(detail_url)
    errors: list[str] = []
    if request.method == "POST":
        try:
            if request.POST.get("action") == "link":
                patient = _posted_patient(request)
                if patient is None:
                    raise ValidationError("Choose the existing patient to link.")
                inquiry_link_patient(actor=request.user, inquiry=inquiry, patient=patient)
                messages.success(request, f"Inquiry linked to {patient.display_name} ({patient.mrn}).")
            else:
                patient = inquiry_convert_to_patient(
                    actor=request.user,
                    inquiry=inquiry,
                    confirm_duplicate=bool(request.POST.get("confirm_duplicate")),
                )
                messages.success(request, f"{patient.display_name} is now a patient with MRN {patient.mrn}.")
            return redirect(detail_url)
        except PossibleDuplicate as duplicate:
            errors = duplicate.messages
        except ValidationError as error:
            errors = error.messages
    else:
        audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=inquiry)
    matches = []
    if inquiry.date_of_birth is not None:
        matches = list(
            patients_named_like(
                first_name=inquiry.first_name,
                last_name=inquiry.last_name,
                date_of_birth=inquiry.date_of_birth,
            )[:5]
        )
    return render(
        request, "admissions/convert.html", {"inquiry": inquiry, "matches": matches, "errors": errors}
    )
