"""Browser views: the alert inbox, an alert's page and its actions, a patient's alert history, and the
clinic's alert settings. Thin: selectors read, services write (and audit)."""

from __future__ import annotations

import zoneinfo
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.selectors import patient_get
from safety import forms as safety_forms
from safety import rules_catalogue, selectors, services
from safety.models import Alert

PAGE_SIZE = 50
PANEL_LIMIT = 5


def _tz(request: HttpRequest):
    return zoneinfo.ZoneInfo(request.clinic.timezone)


# --- inbox ------------------------------------------------------------------------------------------------
def _inbox_context(request: HttpRequest) -> dict:
    form = safety_forms.InboxFilterForm(request.GET or None)
    data = form.cleaned_or_defaults()
    filters = selectors.InboxFilter(
        status=data["status"],
        severity=data["severity"],
        rule_id=data["rule"],
        assigned_to_id=request.user.pk if data["mine"] else None,
        patient_id=data["patient"],
    )
    page = Paginator(selectors.alert_inbox(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    patient = patient_get(patient_id=data["patient"]) if data["patient"] else None
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    audit(
        actor=request.user,
        action=AuditEvent.Action.LIST,
        object_type=Alert._meta.label_lower,
        patient=patient,
        detail={"filters": query, "page": page.number, "shown": len(page.object_list)},
    )
    return {
        "form": form,
        "page": page,
        "filters": data,
        "filter_patient": patient,
        "query": urlencode(query),
        "rules": rules_catalogue.catalogue().rules,
    }


@require_perm(Perm.ALERT_VIEW)
@require_GET
def inbox_view(request: HttpRequest) -> HttpResponse:
    context = _inbox_context(request)
    if request.htmx and not request.htmx.boosted:
        return render(request, "safety/_inbox_rows.html", context)
    return render(request, "safety/inbox.html", context)


@require_perm(Perm.ALERT_ACT)
@require_POST
def bulk_acknowledge_view(request: HttpRequest) -> HttpResponse:
    try:
        done = services.alerts_acknowledge_bulk(actor=request.user, alert_ids=request.POST.getlist("alert"))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        chosen = len(request.POST.getlist("alert"))
        skipped = chosen - len(done)
        text = f"Acknowledged {len(done)} alert{'s' if len(done) != 1 else ''}."
        if skipped:
            text += f" {skipped} already acknowledged or closed by someone else were left as they were."
        messages.success(request, text)
    query = request.POST.get("query", "")
    if request.htmx:
        # Re-render the rows (with the message) for the same filters, in place.
        request.GET = QueryDict(query)
        return render(request, "safety/_inbox_rows.html", _inbox_context(request))
    return redirect(clinic_reverse("safety:inbox") + (f"?{query}" if query else ""))


# --- one alert --------------------------------------------------------------------------------------------
def _detail_context(request: HttpRequest, alert: Alert, **forms) -> dict:
    staff = selectors.alert_staff() if request.membership.allows(Perm.ALERT_ACT) else []
    return {
        "alert": alert,
        "patient": alert.patient,
        "rule": alert.rule,
        "evidence": selectors.evidence_rows(alert, _tz(request)),
        "history": selectors.alert_history(alert=alert),
        "problems": {action: services.alert_problem(alert, action) for action in services.ACTIONS},
        "assign_form": forms.get("assign_form")
        or safety_forms.AssignForm(staff=staff, initial={"assigned_to": alert.assigned_to_id}),
        "resolve_form": forms.get("resolve_form") or safety_forms.ResolveForm(),
        "dismiss_form": forms.get("dismiss_form") or safety_forms.DismissForm(),
        "open_form": forms.get("open_form", ""),
    }


@require_perm(Perm.ALERT_VIEW)
@require_GET
def detail_view(request: HttpRequest, alert_id) -> HttpResponse:
    alert = selectors.alert_get(alert_id=alert_id)
    audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=alert, patient=alert.patient_id)
    return render(request, "safety/detail.html", _detail_context(request, alert))


def _after_action(request: HttpRequest, alert: Alert, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect(clinic_reverse("safety:detail", alert_id=alert.pk))


def _refused(request: HttpRequest, alert: Alert, error: ValidationError, **forms) -> HttpResponse:
    if isinstance(error, services.IllegalTransition):
        messages.error(request, error.plain)
        alert = selectors.alert_get(alert_id=alert.pk)  # someone else may just have changed it
        return render(request, "safety/detail.html", _detail_context(request, alert), status=409)
    return render(request, "safety/detail.html", _detail_context(request, alert, **forms), status=400)


@require_perm(Perm.ALERT_ACT)
@require_POST
def acknowledge_view(request: HttpRequest, alert_id) -> HttpResponse:
    alert = selectors.alert_get(alert_id=alert_id)
    try:
        services.alert_acknowledge(actor=request.user, alert=alert)
    except ValidationError as error:
        return _refused(request, alert, error)
    return _after_action(request, alert, "Acknowledged: the alert will not escalate.")


@require_perm(Perm.ALERT_ACT)
@require_POST
def assign_view(request: HttpRequest, alert_id) -> HttpResponse:
    alert = selectors.alert_get(alert_id=alert_id)
    form = safety_forms.AssignForm(request.POST, staff=selectors.alert_staff())
    if form.is_valid():
        assignee = form.cleaned_data["assigned_to"]
        try:
            services.alert_assign(actor=request.user, alert=alert, assignee=assignee)
        except ValidationError as error:
            apply_errors(form, error)
            return _refused(request, alert, error, assign_form=form, open_form="assign")
        who = assignee.display_name if assignee else "nobody"
        return _after_action(request, alert, f"Assigned to {who}.")
    return _refused(request, alert, ValidationError({}), assign_form=form, open_form="assign")


@require_perm(Perm.ALERT_ACT)
@require_POST
def resolve_view(request: HttpRequest, alert_id) -> HttpResponse:
    alert = selectors.alert_get(alert_id=alert_id)
    form = safety_forms.ResolveForm(request.POST)
    if form.is_valid():
        try:
            services.alert_resolve(actor=request.user, alert=alert, note=form.cleaned_data["note"])
        except ValidationError as error:
            apply_errors(form, error)
            return _refused(request, alert, error, resolve_form=form, open_form="resolve")
        return _after_action(request, alert, "Resolved. The note is in the alert's history.")
    return _refused(request, alert, ValidationError({}), resolve_form=form, open_form="resolve")


@require_perm(Perm.ALERT_ACT)
@require_POST
def dismiss_view(request: HttpRequest, alert_id) -> HttpResponse:
    alert = selectors.alert_get(alert_id=alert_id)
    form = safety_forms.DismissForm(request.POST)
    if form.is_valid():
        try:
            services.alert_dismiss(actor=request.user, alert=alert, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            apply_errors(form, error)
            return _refused(request, alert, error, dismiss_form=form, open_form="dismiss")
        return _after_action(request, alert, "Dismissed. The reason is in the alert's history.")
    return _refused(request, alert, ValidationError({}), dismiss_form=form, open_form="dismiss")


# --- a patient's alerts -----------------------------------------------------------------------------------
@require_perm(Perm.ALERT_VIEW)
@require_GET
def patient_alerts_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    page = Paginator(selectors.patient_alerts(patient_id=patient.pk), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    audit(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        object_type=Alert._meta.label_lower,
        patient=patient,
        detail={"page": "patient_alert_history", "shown": len(page.object_list)},
    )
    return render(request, "safety/patient_alerts.html", {"patient": patient, "page": page})


@require_perm(Perm.ALERT_VIEW)
@require_GET
def patient_panel_view(request: HttpRequest, patient_id) -> HttpResponse:
    """The "Safety alerts" panel of the patient record (loaded by htmx; a plain request gets a page)."""
    patient = patient_get(patient_id=patient_id)
    shown, active = selectors.patient_alert_summary(patient_id=patient.pk, limit=PANEL_LIMIT)
    audit(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        object_type=Alert._meta.label_lower,
        patient=patient,
        detail={"page": "patient_alert_panel", "shown": len(shown)},
    )
    context = {"patient": patient, "alerts": shown, "active_count": active}
    if request.htmx and not request.htmx.boosted:
        return render(request, "safety/_patient_panel.html", context)
    return render(request, "safety/patient_panel_page.html", context)


# --- settings ---------------------------------------------------------------------------------------------
@require_perm(Perm.ALERT_SETTINGS)
@require_http_methods(["GET", "POST"])
def settings_view(request: HttpRequest) -> HttpResponse:
    current = selectors.safety_settings()
    members = selectors.clinic_members()
    form = safety_forms.SafetySettingsForm(
        request.POST if request.method == "POST" else None,
        members=members,
        initial={
            "escalate_after_minutes": current.escalate_after_minutes,
            "checkin_cutoff": current.checkin_cutoff,
            "missed_sessions_in_a_row": current.missed_sessions_in_a_row,
            "on_call_users": current.on_call_user_ids,
            "on_call_emails": "\n".join(current.on_call_emails),
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.safety_settings_update(
                actor=request.user,
                escalate_after_minutes=data["escalate_after_minutes"],
                checkin_cutoff=data["checkin_cutoff"],
                missed_sessions_in_a_row=data["missed_sessions_in_a_row"],
                on_call_user_ids=data["on_call_users"],
                on_call_emails=form.emails(),
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "Alert settings saved.")
            return redirect(clinic_reverse("safety:settings"))
    status = 400 if request.method == "POST" else 200
    context = {
        "form": form,
        "current": current,
        "recipients": selectors.on_call_recipients(current),
        "rules": rules_catalogue.all_rules(),
        "defaults": rules_catalogue.defaults(),
    }
    return render(request, "safety/settings.html", context, status=status)
