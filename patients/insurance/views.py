"""Browser views for coverages, verifications, eligibility checks and authorizations. Thin: selectors read,
services write, every read of patient data is audited."""

from __future__ import annotations

import copy

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.insurance import selectors, services
from patients.insurance.forms import (
    AuthorizationForm,
    BillingProfileForm,
    CoverageForm,
    EligibilityStartForm,
    ResponseUploadForm,
    UsageForm,
    VerificationForm,
)
from patients.insurance.models import Authorization, BenefitVerification, EligibilityCheck
from patients.selectors import patient_get

VIEW = AuditEvent.Action.VIEW


def _save(form: Form, write) -> object | None:
    """Run `write(cleaned_data)` when the form is valid; business errors land on the form."""
    if not form.is_valid():
        return None
    try:
        return write(form.cleaned_data)
    except ValidationError as error:
        apply_errors(form, error)
        return None


def _status(form: Form) -> int:
    return 400 if form.is_bound and form.errors else 200


# --- the patient page's panel -------------------------------------------------------------------------------
@require_perm(Perm.INSURANCE_VIEW)
def patient_panel(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    summaries = selectors.patient_insurance_panel(patient=patient)
    audit(actor=request.user, action=VIEW, obj=patient, patient=patient, detail={"view": "insurance panel"})
    context = {"patient": patient, "summaries": summaries, "fragment": bool(request.htmx)}
    template = "insurance/_panel.html" if request.htmx else "insurance/panel_page.html"
    return render(request, template, context)


# --- coverages ----------------------------------------------------------------------------------------------
@require_perm(Perm.INSURANCE_MANAGE)
def coverage_create(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    form = CoverageForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        coverage = _save(
            form, lambda data: services.coverage_create(actor=request.user, patient=patient, fields=data)
        )
        if coverage is not None:
            messages.success(request, f"Coverage with {coverage.payer_name} added.")
            return redirect(clinic_reverse("insurance:coverage-detail", coverage_id=coverage.pk))
    else:
        audit(actor=request.user, action=VIEW, obj=patient, patient=patient, detail={"view": "add coverage"})
    return render(
        request,
        "insurance/coverage_form.html",
        {"form": form, "patient": patient, "coverage": None},
        status=_status(form),
    )


@require_perm(Perm.INSURANCE_VIEW)
def coverage_detail(request: HttpRequest, coverage_id) -> HttpResponse:
    coverage = selectors.coverage_get(coverage_id=coverage_id)
    audit(actor=request.user, action=VIEW, obj=coverage, patient=coverage.patient_id)
    authorizations = [
        (auth, selectors.authorization_balance(auth))
        for auth in selectors.with_units_used(coverage.authorizations.order_by("-start_date"))
    ]
    context = {
        "coverage": coverage,
        "patient": coverage.patient,
        "verifications": selectors.verifications_for_coverage(coverage=coverage)[:50],
        "checks": selectors.eligibility_checks_for_coverage(coverage=coverage)[:20],
        "authorizations": authorizations,
    }
    return render(request, "insurance/coverage_detail.html", context)


@require_perm(Perm.INSURANCE_MANAGE)
def coverage_edit(request: HttpRequest, coverage_id) -> HttpResponse:
    coverage = selectors.coverage_get(coverage_id=coverage_id)
    if request.method == "POST":
        form = CoverageForm(request.POST, instance=copy.copy(coverage))
        saved = _save(
            form, lambda data: services.coverage_update(actor=request.user, coverage=coverage, fields=data)
        )
        if saved is not None:
            messages.success(request, "Coverage saved.")
            return redirect(clinic_reverse("insurance:coverage-detail", coverage_id=coverage.pk))
    else:
        form = CoverageForm(instance=coverage)
        audit(actor=request.user, action=VIEW, obj=coverage, patient=coverage.patient_id)
    context = {"form": form, "patient": coverage.patient, "coverage": coverage}
    return render(request, "insurance/coverage_form.html", context, status=_status(form))


# --- verifications ------------------------------------------------------------------------------------------
@require_perm(Perm.INSURANCE_MANAGE)
def verification_create(request: HttpRequest, coverage_id) -> HttpResponse:
    coverage = selectors.coverage_get(coverage_id=coverage_id)
    form = VerificationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        saved = _save(
            form,
            lambda data: services.verification_record(actor=request.user, coverage=coverage, fields=data),
        )
        if saved is not None:
            messages.success(request, "Verification of benefits recorded.")
            return redirect(clinic_reverse("insurance:coverage-detail", coverage_id=coverage.pk))
    else:
        audit(actor=request.user, action=VIEW, obj=coverage, patient=coverage.patient_id)
    context = {"form": form, "coverage": coverage, "patient": coverage.patient}
    return render(request, "insurance/verification_form.html", context, status=_status(form))


@require_perm(Perm.INSURANCE_VIEW)
def verification_detail(request: HttpRequest, verification_id) -> HttpResponse:
    verification = selectors.verification_get(verification_id=verification_id)
    coverage = verification.coverage
    audit(actor=request.user, action=VIEW, obj=verification, patient=coverage.patient_id)
    context = {"verification": verification, "coverage": coverage, "patient": coverage.patient}
    return render(request, "insurance/verification_detail.html", context)


# --- electronic eligibility ---------------------------------------------------------------------------------
@require_perm(Perm.INSURANCE_MANAGE)
def check_start(request: HttpRequest, coverage_id) -> HttpResponse:
    coverage = selectors.coverage_get(coverage_id=coverage_id)
    form = EligibilityStartForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        check = _save(
            form,
            lambda data: services.eligibility_check_start(
                actor=request.user, coverage=coverage, service_types=data["service_types"]
            ),
        )
        if check is not None:
            if check.status == EligibilityCheck.Status.ERROR:
                messages.error(request, check.error_message)
            else:
                messages.success(request, f"Inquiry {check.trace_number} sent to the payer.")
            return redirect(clinic_reverse("insurance:check-detail", check_id=check.pk))
    else:
        audit(actor=request.user, action=VIEW, obj=coverage, patient=coverage.patient_id)
    context = {
        "form": form,
        "coverage": coverage,
        "patient": coverage.patient,
        "profile": selectors.billing_profile(),
    }
    return render(request, "insurance/check_start.html", context, status=_status(form))


@require_perm(Perm.INSURANCE_VIEW)
def check_detail(request: HttpRequest, check_id) -> HttpResponse:
    check = selectors.eligibility_check_get(check_id=check_id)
    audit(actor=request.user, action=VIEW, obj=check, patient=check.coverage.patient_id)
    verification = BenefitVerification.objects.filter(eligibility_check=check).first()
    context = {
        "check": check,
        "coverage": check.coverage,
        "patient": check.coverage.patient,
        "verification": verification,
        "upload_form": ResponseUploadForm(),
    }
    return render(request, "insurance/check_detail.html", context)


@require_perm(Perm.INSURANCE_MANAGE)
def check_upload(request: HttpRequest, check_id) -> HttpResponse:
    check = selectors.eligibility_check_get(check_id=check_id)
    posted = request.method == "POST"
    form = ResponseUploadForm(request.POST if posted else None, request.FILES if posted else None)
    if request.method == "POST":
        received = _save(
            form,
            lambda data: services.eligibility_check_receive(
                check=check, text=data["response_file"], actor=request.user
            ),
        )
        if received is not None:
            if received.status == EligibilityCheck.Status.ERROR:
                # Recorded on the check (status error), and shown here so the person can pick another file.
                form.add_error("response_file", received.error_message)
                check = received
            else:
                messages.success(request, f"Response read: {received.get_status_display().lower()}.")
                return redirect(clinic_reverse("insurance:check-detail", check_id=check.pk))
    else:
        audit(actor=request.user, action=VIEW, obj=check, patient=check.coverage.patient_id)
    context = {"check": check, "coverage": check.coverage, "patient": check.coverage.patient, "form": form}
    return render(request, "insurance/check_upload.html", context, status=_status(form))


# --- authorizations -----------------------------------------------------------------------------------------
@require_perm(Perm.INSURANCE_MANAGE)
def authorization_create(request: HttpRequest, coverage_id) -> HttpResponse:
    coverage = selectors.coverage_get(coverage_id=coverage_id)
    form = AuthorizationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        auth = _save(
            form,
            lambda data: services.authorization_create(actor=request.user, coverage=coverage, fields=data),
        )
        if auth is not None:
            messages.success(request, "Authorization recorded.")
            return redirect(clinic_reverse("insurance:authorization-detail", authorization_id=auth.pk))
    else:
        audit(actor=request.user, action=VIEW, obj=coverage, patient=coverage.patient_id)
    context = {"form": form, "coverage": coverage, "patient": coverage.patient, "authorization": None}
    return render(request, "insurance/authorization_form.html", context, status=_status(form))


@require_perm(Perm.INSURANCE_VIEW)
def authorization_detail(request: HttpRequest, authorization_id) -> HttpResponse:
    auth = selectors.authorization_get(authorization_id=authorization_id)
    audit(actor=request.user, action=VIEW, obj=auth, patient=auth.coverage.patient_id)
    return _authorization_page(request, auth, UsageForm())


def _authorization_page(request: HttpRequest, auth: Authorization, usage_form: UsageForm) -> HttpResponse:
    context = {
        "authorization": auth,
        "balance": selectors.authorization_balance(auth),
        "usages": selectors.authorization_usages(authorization=auth)[:200],
        "coverage": auth.coverage,
        "patient": auth.coverage.patient,
        "usage_form": usage_form,
    }
    return render(request, "insurance/authorization_detail.html", context, status=_status(usage_form))


@require_perm(Perm.INSURANCE_MANAGE)
def authorization_edit(request: HttpRequest, authorization_id) -> HttpResponse:
    auth = selectors.authorization_get(authorization_id=authorization_id)
    if request.method == "POST":
        form = AuthorizationForm(request.POST, instance=copy.copy(auth))
        saved = _save(
            form,
            lambda data: services.authorization_update(actor=request.user, authorization=auth, fields=data),
        )
        if saved is not None:
            messages.success(request, "Authorization saved.")
            return redirect(clinic_reverse("insurance:authorization-detail", authorization_id=auth.pk))
    else:
        form = AuthorizationForm(instance=auth)
        audit(actor=request.user, action=VIEW, obj=auth, patient=auth.coverage.patient_id)
    context = {
        "form": form,
        "coverage": auth.coverage,
        "patient": auth.coverage.patient,
        "authorization": auth,
    }
    return render(request, "insurance/authorization_form.html", context, status=_status(form))


@require_perm(Perm.INSURANCE_MANAGE)
def usage_create(request: HttpRequest, authorization_id) -> HttpResponse:
    auth = selectors.authorization_get(authorization_id=authorization_id)
    form = UsageForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        usage = _save(
            form,
            lambda data: services.authorization_usage_add(
                actor=request.user,
                authorization=auth,
                service_date=data["service_date"],
                units=data["units"],
                note=data["note"],
            ),
        )
        if usage is not None:
            messages.success(request, f"{usage.units} recorded for {usage.service_date:%b %-d, %Y}.")
            return redirect(clinic_reverse("insurance:authorization-detail", authorization_id=auth.pk))
    else:
        audit(actor=request.user, action=VIEW, obj=auth, patient=auth.coverage.patient_id)
    return _authorization_page(request, auth, form)


# --- clinic settings ----------------------------------------------------------------------------------------
@require_perm(Perm.CLINIC_SETTINGS)
def billing_profile(request: HttpRequest) -> HttpResponse:
    profile = selectors.billing_profile()
    form = BillingProfileForm(request.POST if request.method == "POST" else None, instance=profile)
    if request.method == "POST":
        saved = _save(form, lambda data: services.billing_profile_save(actor=request.user, fields=data))
        if saved is not None:
            messages.success(request, "Insurance settings saved.")
            return redirect(clinic_reverse("insurance:settings"))
    return render(
        request, "insurance/settings.html", {"form": form, "profile": profile}, status=_status(form)
    )
