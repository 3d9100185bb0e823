"""Browser views for a patient's medications: the medication list (every source, MME today, the timeline
chart, open co-prescription alerts, prescribers of record), its panel on the patient page and its PDF, and
adding, editing and stopping a medication.

The other prescriber pages have their own modules: the registry (`views_registry`), prescribers of record
and the coordination log and tasks (`views_coordination`), the letter (`views_letters`) and the clinic's
settings (`views_settings`). Thin: forms parse, `prescribers.services` decides and writes (and audits),
`prescribers.selectors` reads; every read of patient data is audited here.
"""

from __future__ import annotations

import datetime
import hashlib
import zoneinfo
from collections.abc import Callable, Sequence
from functools import wraps

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.forms import apply_errors
from clinic.pdf import pdf_response, render_pdf
from clinic.tenancy.access import require_perm
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.selectors import patient_get
from prescribers import drugs, selectors, services, timeline
from prescribers.forms import MedicationForm, StopForm
from prescribers.models import CoordinationTask, Medication, Prescriber
from prescribers.selectors import MedicationLine
from prescribers.signals import OrderWarning, medication_concerns, order_warnings

VIEW = AuditEvent.Action.VIEW
GET_POST = ["GET", "POST"]
TIMELINE_BEFORE_DAYS = 180
TIMELINE_AFTER_DAYS = 30
COMPACT_BEFORE_DAYS = 60


# --- shared helpers (the other view modules use these) ----------------------------------------------------
def in_clinic_time(view: Callable) -> Callable:
    """Parse and show times in the clinic's time zone (staff type the local time of a call)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        with timezone.override(zoneinfo.ZoneInfo(request.clinic.timezone)):
            return view(request, *args, **kwargs)

    return wrapped


def form_status(*forms: Form) -> int:
    return 400 if any(f.is_bound and f.errors for f in forms) else 200


def optional_url(name: str, **kwargs) -> str | None:
    """A route another part of the app provides (the PDMP import), if it exists in this build."""
    try:
        return clinic_reverse(name, **kwargs)
    except NoReverseMatch:
        return None


def initial_prescriber(request: HttpRequest) -> dict:
    """`?prescriber=<id>` preselects a prescriber of this clinic (another clinic's id is simply unknown)."""
    value = request.GET.get("prescriber", "")
    try:
        found = Prescriber.objects.filter(pk=value, is_active=True).first() if value else None
    except ValidationError:  # not a UUID
        found = None
    return {"prescriber": found.pk} if found else {}


def audit_view(request: HttpRequest, patient, page: str, **detail) -> None:
    audit(actor=request.user, action=VIEW, obj=patient, patient=patient, detail={"view": page, **detail})


# --- the list, its chart and its panel --------------------------------------------------------------------
def timeline_bars(lines: Sequence[MedicationLine]) -> list[timeline.Bar]:
    bars = []
    for line in lines:
        label = line.prescriber_label
        group = line.prescriber_key or (f"name:{label.strip().lower()}" if label else "")
        bars.append(
            timeline.Bar(
                id=f"{line.kind}:{line.id}",
                group=group,
                group_label=label,
                start=line.start,
                end=line.end,
                drug=line.drug_text,
                drug_class=line.drug_class,
                pharmacy=line.pharmacy_label,
                source=line.source_label,
                program=line.kind == "program",
            )
        )
    return bars


def timeline_svg(
    patient, lines: Sequence[MedicationLine], today: datetime.date, *, compact: bool = False
) -> str:
    """The page's (and the PDF's) timeline: 180 days back and 30 ahead; `compact` is the phone version, 60
    days back on a narrow canvas, so today is on screen without scrolling sideways."""
    bars = timeline_bars(lines)
    subject = f"Medication timeline of {patient.display_name}"
    if compact:
        svg = timeline.render_timeline(
            bars,
            today=today,
            subject=subject,
            before_days=COMPACT_BEFORE_DAYS,
            after_days=TIMELINE_AFTER_DAYS,
            width=400,
            label_width=96,
            chart_id="med-timeline-compact",
        )
    else:
        svg = timeline.render_timeline(
            bars,
            today=today,
            subject=subject,
            before_days=TIMELINE_BEFORE_DAYS,
            after_days=TIMELINE_AFTER_DAYS,
        )
    return mark_safe(svg)  # built from escaped text by prescribers.timeline


def _is_current(line: MedicationLine, today: datetime.date) -> bool:
    return line.end is None or line.end >= today


def list_context(request: HttpRequest, patient, *, full: bool = True) -> dict:
    """Everything the medication list shows, in a fixed number of queries whatever the number of rows."""
    today = clinic_today()
    lines = selectors.medication_list(patient)
    current = [line for line in lines if _is_current(line, today)]
    context = {
        "patient": patient,
        "today": today,
        "lines": lines,
        "current_lines": current,
        "past_lines": [line for line in lines if not _is_current(line, today)],
        "mme": selectors.current_mme(lines, today),
        "of_record": selectors.prescribers_of_record(patient),
        "concerns": medication_concerns(Medication, patient_id=patient.pk),
        "open_tasks": CoordinationTask.objects.filter(patient=patient, status=CoordinationTask.Status.OPEN)
        .select_related("prescriber")
        .order_by("due_on", "id"),
        "pdmp_import_url": optional_url("prescribers:pdmp-import", patient_id=patient.pk),
    }
    context["open_tasks"] = list(context["open_tasks"])
    if full:
        context["timeline_svg"] = timeline_svg(patient, lines, today)
        context["timeline_compact_svg"] = timeline_svg(patient, lines, today, compact=True)
    else:
        context["current_by_class"] = _count_by_class(current)
    return context


def _count_by_class(lines: Sequence[MedicationLine]) -> list[tuple[str, str, int]]:
    counts: dict[str, list] = {}
    for line in lines:
        entry = counts.setdefault(line.drug_class, [line.drug_class, line.class_label, 0])
        entry[2] += 1
    return [tuple(v) for v in counts.values()]


@require_perm(Perm.MEDICATION_VIEW)
@require_GET
def medication_list_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    context = list_context(request, patient)
    audit_view(request, patient, "medication list", rows=len(context["lines"]))
    return render(request, "prescribers/medications.html", context)


@require_perm(Perm.MEDICATION_VIEW)
@require_GET
def patient_panel_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    context = list_context(request, patient, full=False)
    audit_view(request, patient, "medication panel", rows=len(context["lines"]))
    if request.htmx and not request.htmx.boosted:
        return render(request, "prescribers/_panel.html", context)
    return render(request, "prescribers/panel_page.html", context)


@require_perm(Perm.MEDICATION_VIEW)
@require_GET
def medication_list_pdf_view(request: HttpRequest, patient_id) -> HttpResponse:
    """The medication list and its timeline for the chart (inside the clinic: a PRINT, not a disclosure)."""
    patient = patient_get(patient_id=patient_id)
    context = list_context(request, patient)
    context.update(clinic=request.clinic, printed_by=request.user.display_name)
    content = render_pdf("pdf/medication_list.html", context)
    audit(
        actor=request.user,
        action=AuditEvent.Action.PRINT,
        obj=patient,
        patient=patient,
        detail={"document": "medication_list", "rows": len(context["lines"])},
    )
    return pdf_response(content, f"medications-{patient.mrn}.pdf")


# --- add, edit, stop ----------------------------------------------------------------------------------------
def _medication(med_id) -> Medication:
    return get_object_or_404(
        Medication.objects.select_related("patient", "prescriber", "pharmacy"), pk=med_id
    )


def _back_to_list(patient) -> HttpResponse:
    return redirect(clinic_reverse("prescribers:patient-medications", patient_id=patient.pk))


def _order_fingerprint(warnings: Sequence[OrderWarning]) -> str:
    """What the clinician confirmed: these rules on these events. A changed order that raises something
    else asks again."""
    text = "|".join(sorted(f"{w.rule_id}:{w.event}" for w in warnings))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _medication_form_post(
    request: HttpRequest, form: MedicationForm, patient, medication: Medication | None
) -> tuple[HttpResponse | None, list[OrderWarning]]:
    """Validate, run the order check, save once the clinician has seen what it would raise.
    Returns (the redirect after saving, None while the form is shown again) and the warnings to show."""
    if not form.is_valid():
        return None, []
    fields = form.service_fields()
    try:
        proposed = services.medication_proposed(patient=patient, fields=fields, medication=medication)
    except ValidationError as error:
        apply_errors(form, error)
        return None, []
    warnings = order_warnings(request, patient=patient, proposed=selectors.medication_line(proposed))
    if warnings and request.POST.get("confirm_warnings") != _order_fingerprint(warnings):
        return None, warnings
    try:
        if medication is None:
            saved = services.medication_create(actor=request.user, patient=patient, fields=fields)
        else:
            saved = services.medication_update(actor=request.user, medication=medication, fields=fields)
    except ValidationError as error:
        apply_errors(form, error)
        return None, []
    verb = "added" if medication is None else "saved"
    messages.success(request, _saved(saved, verb))
    if warnings:
        audit(
            actor=request.user,
            action=AuditEvent.Action.UPDATE,
            obj=saved,
            patient=patient,
            detail={"order_check_confirmed": sorted(w.rule_id for w in warnings)},
        )
    return _back_to_list(patient), warnings


def _medication_form_page(request, form, patient, medication, warnings) -> HttpResponse:
    context = {
        "form": form,
        "patient": patient,
        "medication": medication,
        "warnings": warnings,
        "fingerprint": _order_fingerprint(warnings) if warnings else "",
    }
    return render(request, "prescribers/medication_form.html", context, status=form_status(form))


@require_perm(Perm.MEDICATION_RECORD)
@require_http_methods(GET_POST)
def medication_create_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    form = MedicationForm(
        request.POST if request.method == "POST" else None, initial={"start_on": clinic_today()}
    )
    warnings: list[OrderWarning] = []
    if request.method == "POST":
        done, warnings = _medication_form_post(request, form, patient, None)
        if done is not None:
            return done
    else:
        audit_view(request, patient, "add medication")
    return _medication_form_page(request, form, patient, None, warnings)


@require_perm(Perm.MEDICATION_RECORD)
@require_http_methods(GET_POST)
def medication_edit_view(request: HttpRequest, med_id) -> HttpResponse:
    medication = _medication(med_id)
    patient = medication.patient
    form = MedicationForm(request.POST if request.method == "POST" else None, instance=medication)
    warnings: list[OrderWarning] = []
    if request.method == "POST":
        done, warnings = _medication_form_post(request, form, patient, medication)
        if done is not None:
            return done
    else:
        audit(actor=request.user, action=VIEW, obj=medication, patient=patient, detail={"view": "edit"})
    return _medication_form_page(request, form, patient, medication, warnings)


def _saved(medication: Medication, verb: str) -> str:
    message = f"{medication.drug_text} {verb}"
    if medication.drug_class:
        message += f" ({medication.class_label})"
    else:
        message += (
            ". Not found in the drug table, so no class is shown; check the name or add the RxNorm code"
        )
    spec = drugs.classes().get(medication.drug_class)
    if spec is not None and spec.cns_depressant:
        message += ". Co-prescription checks run in a moment; any alert appears on this page"
    return message + "."


@require_perm(Perm.MEDICATION_RECORD)
@require_http_methods(GET_POST)
def medication_stop_view(request: HttpRequest, med_id) -> HttpResponse:
    medication = _medication(med_id)
    patient = medication.patient
    form = StopForm(
        request.POST if request.method == "POST" else None, initial={"stopped_on": clinic_today()}
    )
    if request.method == "POST":
        if form.is_valid():
            try:
                services.medication_stop(
                    actor=request.user,
                    medication=medication,
                    stopped_on=form.cleaned_data["stopped_on"],
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, f"{medication.drug_text} marked stopped.")
                return _back_to_list(patient)
    else:
        audit(actor=request.user, action=VIEW, obj=medication, patient=patient, detail={"view": "stop"})
    context = {"form": form, "patient": patient, "medication": medication}
    return render(request, "prescribers/medication_stop.html", context, status=form_status(form))
