"""Browser views for Part 2 consents, recipients and the accounting of disclosures. Thin: selectors read,
services write (and audit), the pure rules decide."""

from __future__ import annotations

import uuid
import zoneinfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.forms import apply_errors
from clinic.pdf import pdf_response, render_pdf
from clinic.tenancy.access import require_perm
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.consent import forms as consent_forms
from patients.consent import rules
from patients.consent.gate import may_disclose
from patients.consent.models import Consent, Recipient, RedisclosureNotice
from patients.consent.selectors import (
    consent_get,
    consents_for_patient,
    default_accounting_period,
    disclosures_for_patient,
    recipient_list,
)
from patients.consent.services import (
    consent_create,
    consent_record_expiry_event,
    consent_revoke,
    consent_sign,
    current_notice,
    notice_update,
    recipient_create,
)
from patients.selectors import patient_get

GET_POST = ["GET", "POST"]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _fragment_or_page(request: HttpRequest, fragment: str, context: dict) -> HttpResponse:
    """htmx asks for the bare fragment; a plain request (no JS, or opened in a tab) gets a whole page."""
    if request.htmx and not request.htmx.boosted:
        return render(request, fragment, context)
    return render(request, "consent/fragment_page.html", {**context, "fragment": fragment})


# --- patient panel ----------------------------------------------------------------------------------------
@require_perm(Perm.CONSENT_VIEW)
@require_GET
def patient_panel_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    today = clinic_today()
    consents = list(consents_for_patient(patient_id=patient.pk))
    groups: dict[str, list[Consent]] = {
        "active": [],
        "draft": [],
        "pending": [],
        "expired": [],
        "revoked": [],
    }
    for consent in consents:
        groups[consent.status_on(today)].append(consent)
    check_form = consent_forms.CheckDisclosureForm(request.GET if "recipient" in request.GET else None)
    decision = None
    if check_form.is_bound and check_form.is_valid():
        data = check_form.cleaned_data
        decision = may_disclose(
            patient=patient,
            recipient=data["recipient"],
            purpose=data["purpose"],
            information=data["information"],
        )
    audit(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        object_type="consent.consent",
        patient=patient,
        detail={"page": "consent_panel", "checked": decision is not None},
    )
    context = {
        "patient": patient,
        "groups": groups,
        "check_form": check_form,
        "decision": decision,
        "today": today,
        "notice": current_notice(),
    }
    return _fragment_or_page(request, "consent/_panel.html", context)


# --- consents ---------------------------------------------------------------------------------------------
@require_perm(Perm.CONSENT_MANAGE)
@require_http_methods(GET_POST)
def consent_create_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    initial = {"disclosing_party": request.clinic.name, "expiry_kind": "date", "signed_by": "patient"}
    # `?recipient=<id>` (e.g. from a letter the gate refused) starts the form with that recipient named.
    named = [r for r in request.GET.getlist("recipient") if _is_uuid(r)]
    if named:
        initial["recipients"] = list(Recipient.objects.filter(pk__in=named, is_active=True))
    form = consent_forms.ConsentForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            consent = consent_create(
                actor=request.user,
                patient=patient,
                fields=form.service_fields(),
                recipients=list(form.cleaned_data["recipients"]),
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request,
                "Consent recorded."
                if consent.is_signed
                else "Consent saved as unsigned: print it for signature, then record the signature.",
            )
            return redirect(clinic_reverse("consent:detail", consent_id=consent.pk))
    context = {"form": form, "patient": patient, "designation": rules.GENERAL_DESIGNATION_TEXT}
    return render(request, "consent/consent_form.html", context)


@require_perm(Perm.CONSENT_VIEW)
@require_GET
def consent_detail_view(request: HttpRequest, consent_id) -> HttpResponse:
    consent = consent_get(consent_id=consent_id)
    audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=consent, patient=consent.patient_id)
    context = {
        "consent": consent,
        "patient": consent.patient,
        "status": consent.status_on(clinic_today()),
        "notice": current_notice(),
        "sign_form": consent_forms.SignatureForm(initial={"signed_on": clinic_today()}),
        "event_form": consent_forms.ExpiryEventForm(),
    }
    return render(request, "consent/consent_detail.html", context)


def _consent_pdf_context(request: HttpRequest, consent: Consent) -> dict:
    return {
        "consent": consent,
        "patient": consent.patient,
        "clinic": request.clinic,
        "notice": current_notice(),
        "designation": rules.GENERAL_DESIGNATION_TEXT,
        "printed_on": clinic_today(),
    }


@require_perm(Perm.CONSENT_VIEW)
@require_GET
def consent_pdf_view(request: HttpRequest, consent_id) -> HttpResponse:
    consent = consent_get(consent_id=consent_id)
    content = render_pdf("pdf/consent.html", _consent_pdf_context(request, consent))
    audit(
        actor=request.user,
        action=AuditEvent.Action.PRINT,
        obj=consent,
        patient=consent.patient_id,
        detail={"document": "consent_form"},
    )
    return pdf_response(content, f"consent-{consent.patient.mrn}-{consent.pk.hex[:8]}.pdf")


@require_perm(Perm.CONSENT_MANAGE)
@require_POST
def consent_sign_view(request: HttpRequest, consent_id) -> HttpResponse:
    consent = consent_get(consent_id=consent_id)
    form = consent_forms.SignatureForm(request.POST)
    if form.is_valid():
        try:
            consent_sign(actor=request.user, consent=consent, fields=form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "Signature recorded; the consent is now in force.")
            return redirect(clinic_reverse("consent:detail", consent_id=consent.pk))
    context = {
        "consent": consent,
        "patient": consent.patient,
        "status": consent.status_on(clinic_today()),
        "notice": current_notice(),
        "sign_form": form,
        "event_form": consent_forms.ExpiryEventForm(),
    }
    return render(request, "consent/consent_detail.html", context, status=400)


@require_perm(Perm.CONSENT_MANAGE)
@require_POST
def consent_expiry_event_view(request: HttpRequest, consent_id) -> HttpResponse:
    consent = consent_get(consent_id=consent_id)
    form = consent_forms.ExpiryEventForm(request.POST)
    if form.is_valid():
        try:
            consent_record_expiry_event(
                actor=request.user, consent=consent, occurred_on=form.cleaned_data["occurred_on"]
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "Recorded: the consent has expired.")
            return redirect(clinic_reverse("consent:detail", consent_id=consent.pk))
    context = {
        "consent": consent,
        "patient": consent.patient,
        "status": consent.status_on(clinic_today()),
        "notice": current_notice(),
        "sign_form": consent_forms.SignatureForm(),
        "event_form": form,
    }
    return render(request, "consent/consent_detail.html", context, status=400)


@require_perm(Perm.CONSENT_MANAGE)
@require_http_methods(GET_POST)
def consent_revoke_view(request: HttpRequest, consent_id) -> HttpResponse:
    consent = consent_get(consent_id=consent_id)
    form = consent_forms.RevokeForm(
        request.POST if request.method == "POST" else None,
        initial={"revoked_on": clinic_today(), "method": "written"},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            consent_revoke(
                actor=request.user,
                consent=consent,
                revoked_on=data["revoked_on"],
                method=data["method"],
                reason=data["reason"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "Revocation recorded. Disclosures already made stay in the accounting.")
            return redirect(clinic_reverse("consent:detail", consent_id=consent.pk))
    return render(
        request, "consent/revoke.html", {"form": form, "consent": consent, "patient": consent.patient}
    )


# --- recipients -------------------------------------------------------------------------------------------
@require_perm(Perm.CONSENT_VIEW)
@require_GET
def recipient_list_view(request: HttpRequest) -> HttpResponse:
    recipients = list(recipient_list())
    return render(request, "consent/recipients.html", {"recipients": recipients})


@require_perm(Perm.CONSENT_MANAGE)
@require_http_methods(GET_POST)
def recipient_create_view(request: HttpRequest) -> HttpResponse:
    form = consent_forms.RecipientForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            recipient = recipient_create(actor=request.user, fields=form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"{recipient.name} added.")
            next_url = request.POST.get("next", "")
            if next_url.startswith(f"/c/{request.clinic.slug}/") and "//" not in next_url:
                return redirect(next_url)
            return redirect(clinic_reverse("consent:recipients"))
    return render(request, "consent/recipient_form.html", {"form": form, "next": request.GET.get("next", "")})


# --- accounting of disclosures ----------------------------------------------------------------------------
def _accounting(request: HttpRequest, patient_id):
    patient = patient_get(patient_id=patient_id)
    form = consent_forms.AccountingPeriodForm(request.GET or None)
    start, end = default_accounting_period(clinic_today())
    if form.is_bound and form.is_valid():
        start = form.cleaned_data.get("start") or start
        end = form.cleaned_data.get("end") or end
    rows = list(
        disclosures_for_patient(
            patient_id=patient.pk, start=start, end=end, tz=zoneinfo.ZoneInfo(request.clinic.timezone)
        )
    )
    return patient, form, start, end, rows


@require_perm(Perm.DISCLOSURE_VIEW)
@require_GET
def accounting_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient, form, start, end, rows = _accounting(request, patient_id)
    audit(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        object_type="consent.disclosure",
        patient=patient,
        detail={"page": "accounting_of_disclosures", "shown": len(rows)},
    )
    context = {"patient": patient, "form": form, "start": start, "end": end, "rows": rows}
    return render(request, "consent/accounting.html", context)


@require_perm(Perm.DISCLOSURE_VIEW)
@require_GET
def accounting_pdf_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient, _form, start, end, rows = _accounting(request, patient_id)
    content = render_pdf(
        "pdf/disclosure_accounting.html",
        {
            "patient": patient,
            "clinic": request.clinic,
            "start": start,
            "end": end,
            "rows": rows,
            "printed_on": clinic_today(),
        },
    )
    audit(
        actor=request.user,
        action=AuditEvent.Action.PRINT,
        object_type="consent.disclosure",
        patient=patient,
        detail={
            "document": "accounting_of_disclosures",
            "start": str(start),
            "end": str(end),
            "rows": len(rows),
        },
    )
    return pdf_response(content, f"disclosures-{patient.mrn}.pdf")


# --- the clinic's redisclosure notice ---------------------------------------------------------------------
@require_perm(Perm.CLINIC_SETTINGS)
@require_http_methods(GET_POST)
def notice_view(request: HttpRequest) -> HttpResponse:
    notice = current_notice()
    form = consent_forms.NoticeForm(
        request.POST if request.method == "POST" else None,
        initial={"statement": notice.statement, "text": notice.text},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            notice = notice_update(
                actor=request.user, statement=data["statement"], text=data["text"], verified=data["verified"]
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request, "Notice saved." + ("" if notice.is_verified else " It is not marked verified.")
            )
            return redirect(clinic_reverse("consent:notice"))
    from patients.consent import notice as defaults

    context = {
        "form": form,
        "notice": notice,
        "ecfr_url": defaults.ECFR_URL,
        "statement_2_2018": defaults.STATEMENT_2_2018,
        "statements": RedisclosureNotice.Statement,
    }
    return render(request, "consent/notice.html", context)
