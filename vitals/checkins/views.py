"""Staff pages for daily check-ins: a patient's links and check-ins, creating and revoking links, and the
clinic's check-in settings. Thin: selectors read, services write (and audit)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.selectors import patient_get
from vitals.checkins import rules
from vitals.checkins.forms import CheckInSettingsForm, LinkCreateForm, LinkRevokeForm
from vitals.checkins.models import CheckIn, CheckInLink
from vitals.checkins.selectors import (
    PAGE_CHECKINS,
    PANEL_CHECKINS,
    checkin_get,
    checkin_link_path,
    checkin_settings_get,
    checkins_for_patient,
    guidance_shown,
    link_get,
    links_for_patient,
)
from vitals.checkins.services import (
    LINK_DEFAULT_DAYS,
    checkin_link_create,
    checkin_link_revoke,
    checkin_settings_save,
)

GET_POST = ["GET", "POST"]


def _link_rows(request: HttpRequest, links: list[CheckInLink], *, with_urls: bool) -> list[dict]:
    rows = []
    for link in links:
        url = request.build_absolute_uri(checkin_link_path(link)) if with_urls else ""
        rows.append({"link": link, "status": link.status, "url": url})
    return rows


def _checkin_rows(checkins: list[CheckIn]) -> list[dict]:
    form = rules.symptom_form()
    rows = []
    for checkin in checkins:
        rows.append(
            {
                "checkin": checkin,
                "guidance": guidance_shown(checkin),
                "symptoms": [
                    (item.label, form.label_of(checkin.symptoms.get(item.id, 0))) for item in form.items
                ],
                "red_flags": [
                    (flag.question, checkin.red_flags.get(flag.id, False)) for flag in form.red_flags
                ],
            }
        )
    return rows


def _context(request: HttpRequest, patient, *, full: bool) -> dict:
    manage = request.membership.allows(Perm.CHECKIN_MANAGE)
    links = links_for_patient(patient_id=patient.pk)
    rows = _link_rows(request, links, with_urls=manage)
    checkins = checkins_for_patient(patient_id=patient.pk, limit=PAGE_CHECKINS if full else PANEL_CHECKINS)
    return {
        "patient": patient,
        "active_links": [row for row in rows if row["status"] == "active"],
        "past_links": [row for row in rows if row["status"] != "active"],
        "rows": _checkin_rows(checkins),
        "full": full,
        "can_manage": manage,
        "create_form": LinkCreateForm(initial={"days": LINK_DEFAULT_DAYS}),
        "settings": checkin_settings_get(),
        "form_def": rules.symptom_form(),
    }


def _audit_read(request: HttpRequest, patient, page: str, shown: int) -> None:
    audit(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        object_type="checkins.checkin",
        patient=patient,
        detail={"page": page, "shown": shown},
    )


@require_perm(Perm.VITALS_VIEW)
@require_GET
def patient_panel_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    context = _context(request, patient, full=False)
    _audit_read(request, patient, "checkin_panel", len(context["rows"]))
    if request.htmx and not request.htmx.boosted:
        return render(request, "checkins/_panel.html", context)
    return render(request, "checkins/patient_page.html", context)


@require_perm(Perm.VITALS_VIEW)
@require_GET
def patient_checkins_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    context = _context(request, patient, full=True)
    _audit_read(request, patient, "checkin_history", len(context["rows"]))
    return render(request, "checkins/patient_page.html", context)


@require_perm(Perm.VITALS_VIEW)
@require_GET
def checkin_detail_view(request: HttpRequest, checkin_id) -> HttpResponse:
    checkin = checkin_get(checkin_id=checkin_id)
    audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=checkin, patient=checkin.patient_id)
    context = {"patient": checkin.patient, "row": _checkin_rows([checkin])[0]}
    return render(request, "checkins/detail.html", context)


@require_perm(Perm.CHECKIN_MANAGE)
@require_http_methods(GET_POST)
def link_create_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    form = LinkCreateForm(
        request.POST if request.method == "POST" else None, initial={"days": LINK_DEFAULT_DAYS}
    )
    if request.method == "POST" and form.is_valid():
        try:
            checkin_link_create(
                actor=request.user, patient=patient, days=form.cleaned_data["days"] or LINK_DEFAULT_DAYS
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request, "Check-in link created. Copy it below and send it to the patient by text or email."
            )
            return redirect(clinic_reverse("checkins:patient", patient_id=patient.pk) + "#checkin-links")
    status = 400 if form.is_bound else 200
    return render(request, "checkins/link_create.html", {"patient": patient, "form": form}, status=status)


@require_perm(Perm.CHECKIN_MANAGE)
@require_http_methods(GET_POST)
def link_revoke_view(request: HttpRequest, link_id) -> HttpResponse:
    link = link_get(link_id=link_id)
    form = LinkRevokeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        checkin_link_revoke(actor=request.user, link=link, reason=form.cleaned_data["reason"])
        messages.success(request, "The link is turned off. The patient can no longer check in with it.")
        return redirect(clinic_reverse("checkins:patient", patient_id=link.patient_id) + "#checkin-links")
    context = {"patient": link.patient, "link": link, "form": form}
    return render(request, "checkins/link_revoke.html", context, status=400 if form.is_bound else 200)


@require_perm(Perm.CLINIC_SETTINGS)
@require_http_methods(GET_POST)
def settings_view(request: HttpRequest) -> HttpResponse:
    current = checkin_settings_get()
    form = CheckInSettingsForm(
        request.POST if request.method == "POST" else None,
        initial={"care_team_phone": current.care_team_phone, "care_team_hours": current.care_team_hours},
    )
    if request.method == "POST" and form.is_valid():
        try:
            checkin_settings_save(actor=request.user, fields=form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "Check-in settings saved.")
            return redirect(clinic_reverse("checkins:settings"))
    status = 400 if form.is_bound else 200
    context = {"form": form, "guidance": rules.guidance_rules(), "form_def": rules.symptom_form()}
    return render(request, "checkins/settings.html", context, status=status)
