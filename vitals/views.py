"""Browser views for vitals and scores. Thin: selectors read, services write, every read of patient data is
audited. Times are entered and shown in the clinic's own time zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.selectors import patient_get
from vitals import selectors, services
from vitals.charts import flowsheet_charts
from vitals.forms import ThresholdSettingsForm, VitalsForm, instrument_form_class
from vitals.instruments_registry import available_definitions, definition_for
from vitals.models import Source
from vitals.presentation import reading_rows, result_answers
from vitals.thresholds import raw_data

VIEW = AuditEvent.Action.VIEW
FLOWSHEET_DAYS = (14, 30, 90, 180)


def in_clinic_time(view: Callable) -> Callable:
    """Parse and show times in the clinic's time zone (a nurse types the local time of the reading)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        with timezone.override(zoneinfo.ZoneInfo(request.clinic.timezone)):
            return view(request, *args, **kwargs)

    return wrapped


def _status(form: Form) -> int:
    return 400 if form.is_bound and form.errors else 200


# --- the patient page's panel and the patient's vitals page -------------------------------------------------
def _latest_scores(patient) -> list:
    latest: dict[str, object] = {}
    for result in selectors.results_for_patient(patient=patient)[:30]:
        latest.setdefault(result.instrument, result)
    return list(latest.values())


@require_perm(Perm.VITALS_VIEW)
@in_clinic_time
def patient_panel(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    readings = list(selectors.readings_for_patient(patient=patient)[:3])
    audit(actor=request.user, action=VIEW, obj=patient, patient=patient, detail={"view": "vitals panel"})
    context = {
        "patient": patient,
        "rows": reading_rows(readings),
        "latest_scores": _latest_scores(patient),
        "fragment": bool(request.htmx),
    }
    template = "vitals/_panel.html" if request.htmx else "vitals/panel_page.html"
    return render(request, template, context)


@require_perm(Perm.VITALS_VIEW)
@in_clinic_time
def patient_vitals(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    readings = list(selectors.readings_for_patient(patient=patient)[:50])
    results = list(selectors.results_for_patient(patient=patient)[:50])
    audit(actor=request.user, action=VIEW, obj=patient, patient=patient, detail={"view": "vitals and scores"})
    context = {
        "patient": patient,
        "rows": reading_rows(readings),
        "results": results,
        "instruments": available_definitions(),
    }
    return render(request, "vitals/patient.html", context)


# --- vital signs --------------------------------------------------------------------------------------------
@require_perm(Perm.VITALS_RECORD)
@in_clinic_time
def reading_create(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    unusual: dict[str, str] = {}
    signature = ""
    if request.method == "POST":
        form = VitalsForm(request.POST)
        if form.is_valid():
            signature = form.signature()
            confirmed = "confirm" in request.POST and request.POST.get("confirmed_values") == signature
            try:
                reading = services.vitals_record(
                    actor=request.user,
                    patient=patient,
                    source=Source.CLINIC,
                    confirm_unusual=confirmed,
                    **form.service_kwargs(),
                )
            except services.UnusualValues as exc:
                unusual = exc.unusual
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, _saved_message(reading))
                return redirect(clinic_reverse("vitals:patient", patient_id=patient.pk))
    else:
        form = VitalsForm(initial={"taken_by": request.user.full_name or request.user.email})
        audit(actor=request.user, action=VIEW, obj=patient, patient=patient, detail={"view": "record vitals"})
    context = {
        "form": form,
        "patient": patient,
        "unusual": [(form[kind], reason) for kind, reason in unusual.items()],
        "signature": signature,
        "bp_fields": [form["systolic_bp"], form["diastolic_bp"]],
        "other_fields": [
            form[k] for k in ("heart_rate", "respiratory_rate", "temperature", "spo2", "weight")
        ],
    }
    return render(request, "vitals/reading_form.html", context, status=_status(form))


def _saved_message(reading) -> str:
    parts = ["Vitals saved."]
    if reading.bp_category_label:
        parts.append(f"Blood pressure: {reading.bp_category_label}.")
    if reading.news2_score is not None:
        parts.append(f"NEWS2 {reading.news2_score} ({reading.news2_risk} risk).")
    return " ".join(parts)


@require_perm(Perm.VITALS_VIEW)
@in_clinic_time
def reading_detail(request: HttpRequest, reading_id) -> HttpResponse:
    reading = selectors.reading_get(reading_id=reading_id)
    audit(actor=request.user, action=VIEW, obj=reading, patient=reading.patient_id)
    checks = {c["id"]: c for c in raw_data()["threshold_checks"]}
    context = {
        "reading": reading,
        "patient": reading.patient,
        "row": reading_rows([reading])[0],
        "crossed": [checks.get(flag, {"id": flag, "meaning": flag}) for flag in reading.flags],
    }
    return render(request, "vitals/reading_detail.html", context)


# --- instruments --------------------------------------------------------------------------------------------
@require_perm(Perm.VITALS_RECORD)
@in_clinic_time
def result_create(request: HttpRequest, patient_id, instrument: str) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    definition = definition_for(instrument)
    if definition is None:
        raise Http404("No such instrument")
    form_class = instrument_form_class(definition)
    form = form_class(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            try:
                result = services.instrument_result_record(
                    actor=request.user,
                    patient=patient,
                    instrument=definition.id,
                    answers=form.answers(),
                    completed_at=form.cleaned_data["completed_at"],
                    source=Source.CLINIC,
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(
                    request, f"{result.instrument_name} saved: total {result.total:g}, {result.band_label}."
                )
                return redirect(clinic_reverse("vitals:result-detail", result_id=result.pk))
    else:
        audit(
            actor=request.user,
            action=VIEW,
            obj=patient,
            patient=patient,
            detail={"view": f"record {definition.short_name}"},
        )
    context = {
        "form": form,
        "patient": patient,
        "definition": definition,
        "unverified": definition.unverified_elements(),
    }
    return render(request, "vitals/result_form.html", context, status=_status(form))


@require_perm(Perm.VITALS_VIEW)
@in_clinic_time
def result_detail(request: HttpRequest, result_id) -> HttpResponse:
    result = selectors.result_get(result_id=result_id)
    audit(actor=request.user, action=VIEW, obj=result, patient=result.patient_id)
    definition = definition_for(result.instrument)
    context = {
        "result": result,
        "patient": result.patient,
        "definition": definition,
        "answers": result_answers(result, definition),
        "urgent": [f for f in result.flag_details if f.get("severity") in ("urgent", "high")],
        "info": [f for f in result.flag_details if f.get("severity") not in ("urgent", "high")],
    }
    return render(request, "vitals/result_detail.html", context)


# --- flowsheet ----------------------------------------------------------------------------------------------
@require_perm(Perm.VITALS_VIEW)
@in_clinic_time
def flowsheet(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    try:
        days = int(request.GET.get("days", 30))
    except ValueError:
        days = 30
    days = days if days in FLOWSHEET_DAYS else 30
    end = timezone.now()
    start = end - dt.timedelta(days=days)
    sheet = selectors.flowsheet(patient=patient, start=start, end=end, tz=timezone.get_current_timezone())
    audit(
        actor=request.user,
        action=VIEW,
        obj=patient,
        patient=patient,
        detail={"view": "flowsheet", "days": days},
    )
    context = {
        "patient": patient,
        "sheet": sheet,
        "charts": flowsheet_charts(sheet),
        "days": days,
        "day_choices": FLOWSHEET_DAYS,
        "rows": reading_rows(sheet.readings),
    }
    return render(request, "vitals/flowsheet.html", context)


# --- clinic thresholds --------------------------------------------------------------------------------------
@require_perm(Perm.ALERT_SETTINGS)
def threshold_settings(request: HttpRequest) -> HttpResponse:
    overrides = selectors.clinic_overrides()
    current = selectors.thresholds_from(overrides)
    if request.method == "POST":
        form = ThresholdSettingsForm(request.POST, current=current, overrides=overrides)
        if form.is_valid():
            try:
                services.vital_thresholds_save(actor=request.user, overrides=form.overrides())
            except ValidationError as error:
                for key, problems in error.message_dict.items():
                    form.add_error(form.field_for_error(key), problems)
            else:
                messages.success(request, "Vital-sign thresholds saved.")
                return redirect(clinic_reverse("vitals:settings"))
    else:
        form = ThresholdSettingsForm(current=current, overrides=overrides)
    checks = [(check, now, form.bound(name)) for check, now, name in form.rows_checks]
    usual = [(spec, d, now, [form[n] for n in names]) for spec, d, now, names in form.rows_usual]
    context = {"form": form, "checks": checks, "usual": usual}
    return render(request, "vitals/settings.html", context, status=_status(form))
