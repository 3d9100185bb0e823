"""Browser views for coordinating with a patient's prescribers: the prescribers of record (naming the
benzodiazepine prescriber of record opens a consolidation task for every other prescriber of an active
benzodiazepine), the coordination log (append-only: calls, faxes, letters, replies) and coordination tasks.
Thin: the services decide and audit; reads of patient data are audited here."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.selectors import patient_get
from prescribers import selectors, services
from prescribers.forms import EndForm, EntryForm, OfRecordForm, TaskCloseForm, TaskForm
from prescribers.models import CoordinationTask, PatientPrescriber
from prescribers.views import GET_POST, audit_view, form_status, in_clinic_time, initial_prescriber

VIEW = AuditEvent.Action.VIEW


# --- prescribers of record ------------------------------------------------------------------------------
@require_perm(Perm.MEDICATION_VIEW)
@require_GET
def of_record_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    links = list(
        PatientPrescriber.objects.filter(patient=patient)
        .select_related("prescriber", "set_by")
        .order_by("until", "role", "-since", "id")
    )
    current = [link for link in links if link.until is None]
    benzo = next((link for link in current if link.role == PatientPrescriber.Role.BENZODIAZEPINE), None)
    audit_view(request, patient, "prescribers of record", shown=len(links))
    context = {
        "patient": patient,
        "current": current,
        "past": [link for link in links if link.until is not None],
        "benzo": benzo,
        "consolidation_tasks": selectors.tasks_opened_for(benzo) if benzo else [],
        "today": clinic_today(),
    }
    return render(request, "prescribers/of_record.html", context)


@require_perm(Perm.MEDICATION_RECORD)
@require_http_methods(GET_POST)
def of_record_set_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    may_name_benzo = request.membership.allows(Perm.TAPER_APPROVE)
    form = OfRecordForm(
        request.POST if request.method == "POST" else None,
        initial={
            **initial_prescriber(request),
            "role": request.GET.get("role")
            if request.GET.get("role") in PatientPrescriber.Role.values
            else "other",
        },
        may_name_benzo=may_name_benzo,
    )
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                link = services.prescriber_of_record_set(
                    actor=request.user,
                    patient=patient,
                    prescriber=data["prescriber"],
                    role=data["role"],
                    since=data["since"],
                    note=data["note"],
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                opened = selectors.tasks_opened_for(link) if link.role == link.Role.BENZODIAZEPINE else []
                message = f"{link.prescriber.display_name} is now {link.get_role_display().lower()}."
                if opened:
                    plural = "s" if len(opened) != 1 else ""
                    message += (
                        f" {len(opened)} coordination task{plural} opened to ask the other prescribers to "
                        "consolidate."
                    )
                messages.success(request, message)
                return redirect(clinic_reverse("prescribers:patient-prescribers", patient_id=patient.pk))
    else:
        audit_view(request, patient, "set prescriber of record")
    context = {"form": form, "patient": patient, "may_name_benzo": may_name_benzo}
    return render(request, "prescribers/of_record_form.html", context, status=form_status(form))


@require_perm(Perm.MEDICATION_RECORD)
@require_http_methods(GET_POST)
def of_record_end_view(request: HttpRequest, of_record_id) -> HttpResponse:
    link = get_object_or_404(
        PatientPrescriber.objects.select_related("patient", "prescriber"), pk=of_record_id
    )
    patient = link.patient
    form = EndForm(request.POST if request.method == "POST" else None, initial={"until": clinic_today()})
    if request.method == "POST":
        if form.is_valid():
            try:
                services.prescriber_of_record_end(
                    actor=request.user, link=link, until=form.cleaned_data["until"]
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(
                    request, f"{link.prescriber.display_name} is no longer {link.get_role_display().lower()}."
                )
                return redirect(clinic_reverse("prescribers:patient-prescribers", patient_id=patient.pk))
    else:
        audit(actor=request.user, action=VIEW, obj=link, patient=patient, detail={"view": "end"})
    context = {"form": form, "patient": patient, "link": link}
    return render(request, "prescribers/of_record_end.html", context, status=form_status(form))


# --- the coordination log and tasks ---------------------------------------------------------------------
@require_perm(Perm.MEDICATION_VIEW)
@require_GET
@in_clinic_time
def coordination_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    entries, tasks = selectors.coordination(patient)
    audit_view(request, patient, "coordination log", entries=len(entries), tasks=len(tasks))
    context = {
        "patient": patient,
        "entries": entries,
        "open_tasks": [t for t in tasks if t.status == CoordinationTask.Status.OPEN],
        "closed_tasks": [t for t in tasks if t.status != CoordinationTask.Status.OPEN],
        "today": clinic_today(),
    }
    return render(request, "prescribers/coordination.html", context)


def _to_log(patient) -> HttpResponse:
    return redirect(clinic_reverse("prescribers:coordination", patient_id=patient.pk))


@require_perm(Perm.MEDICATION_RECORD)
@require_http_methods(GET_POST)
@in_clinic_time
def entry_create_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    now = timezone.localtime().replace(second=0, microsecond=0)
    form = EntryForm(
        request.POST if request.method == "POST" else None, initial={"at": now, **initial_prescriber(request)}
    )
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.coordination_entry_add(
                    actor=request.user,
                    patient=patient,
                    kind=data["kind"],
                    direction=data["direction"],
                    at=data["at"],
                    prescriber=data["prescriber"],
                    summary=data["summary"],
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, "Added to the coordination log.")
                return _to_log(patient)
    else:
        audit_view(request, patient, "log contact")
    context = {"form": form, "patient": patient}
    return render(request, "prescribers/entry_form.html", context, status=form_status(form))


@require_perm(Perm.MEDICATION_RECORD)
@require_http_methods(GET_POST)
def task_create_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    form = TaskForm(
        request.POST if request.method == "POST" else None,
        initial={"due_on": clinic_today() + datetime.timedelta(days=2), **initial_prescriber(request)},
    )
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.coordination_task_create(
                    actor=request.user,
                    patient=patient,
                    title=data["title"],
                    due_on=data["due_on"],
                    prescriber=data["prescriber"],
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, f"Task added, due {data['due_on']:%b} {data['due_on'].day}.")
                return _to_log(patient)
    else:
        audit_view(request, patient, "add coordination task")
    context = {"form": form, "patient": patient}
    return render(request, "prescribers/task_form.html", context, status=form_status(form))


@require_perm(Perm.MEDICATION_RECORD)
@require_http_methods(GET_POST)
def task_close_view(request: HttpRequest, task_id) -> HttpResponse:
    task = get_object_or_404(CoordinationTask.objects.select_related("patient", "prescriber"), pk=task_id)
    patient = task.patient
    form = TaskCloseForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.coordination_task_close(
                    actor=request.user,
                    task=task,
                    status=form.cleaned_data["status"],
                    outcome=form.cleaned_data["outcome"],
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, "Task closed.")
                if request.POST.get("next") == "today":
                    return redirect(clinic_reverse("clinic-dashboard"))
                return _to_log(patient)
    else:
        audit(actor=request.user, action=VIEW, obj=task, patient=patient, detail={"view": "close task"})
    nxt = request.POST.get("next") or request.GET.get("next", "")
    context = {"form": form, "patient": patient, "task": task, "next": "today" if nxt == "today" else ""}
    return render(request, "prescribers/task_close.html", context, status=form_status(form))
