"""Browser views for intake assessments. Thin: selectors read, services write, every read is audited."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.pdf import pdf_response, render_pdf
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.intake import asam, content, presentation, services
from patients.intake.forms import AmendmentForm, AssessmentForm, SignForm
from patients.intake.models import IntakeAssessment
from patients.intake.selectors import assessment_get, assessments_for_patient
from patients.selectors import patient_get

RATING_SOURCE = f"Scale: {asam.RATING_SCALE_SOURCE} (status {asam.RATING_SCALE_STATUS}, for clinical review)."


def _detail_url(assessment: IntakeAssessment) -> str:
    return clinic_reverse("intake:detail", assessment_id=assessment.pk)


def _form_errors(form, error: ValidationError) -> None:
    for field, problems in error.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)


def _conflict(
    request: HttpRequest, assessment: IntakeAssessment, message: str, *, next_name: str, next_label: str
) -> HttpResponse:
    """A request the assessment's state forbids (edit a signed one, amend a draft): say so, change nothing."""
    context = {
        "assessment": assessment,
        "patient": assessment.patient,
        "message": message,
        "next_url": clinic_reverse(next_name, assessment_id=assessment.pk),
        "next_label": next_label,
    }
    return render(request, "intake/conflict.html", context, status=409)


@require_perm(Perm.CLINICAL_VIEW)
def patient_panel_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    assessments = list(assessments_for_patient(patient_id=patient.pk))
    audit(
        actor=request.user,
        action=AuditEvent.Action.LIST,
        object_type=IntakeAssessment._meta.label_lower,
        patient=patient,
        detail={"shown": len(assessments)},
    )
    context = {"patient": patient, "assessments": assessments, "levels": presentation.LEVELS}
    if request.htmx and not request.htmx.boosted:
        return render(request, "intake/_panel.html", context)
    return render(request, "intake/panel_page.html", context)


@require_perm(Perm.ASSESSMENT_SIGN)
def assessment_create_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    form = AssessmentForm(
        request.POST if request.method == "POST" else None, initial={"assessed_on": services.clinic_today()}
    )
    if request.method == "POST" and form.is_valid():
        try:
            assessment = services.assessment_create(
                actor=request.user, patient=patient, fields=form.cleaned_data
            )
        except ValidationError as error:
            _form_errors(form, error)
        else:
            messages.success(request, "Draft assessment saved. Review it, then sign it.")
            return redirect(_detail_url(assessment))
    if request.method != "POST":
        audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=patient, patient=patient)
    return render(
        request,
        "intake/form.html",
        {"form": form, "patient": patient, "assessment": None, "rating_source": RATING_SOURCE},
    )


@require_perm(Perm.ASSESSMENT_SIGN)
def assessment_edit_view(request: HttpRequest, assessment_id) -> HttpResponse:
    assessment = assessment_get(assessment_id=assessment_id)
    if assessment.is_signed:
        return _conflict(
            request, assessment, services.LOCKED, next_name="intake:amend", next_label="Amend it"
        )
    form = AssessmentForm(request.POST if request.method == "POST" else None, instance=assessment)
    if request.method == "POST" and form.is_valid():
        try:
            services.assessment_update(actor=request.user, assessment=assessment, fields=form.cleaned_data)
        except ValidationError as error:
            _form_errors(form, error)
        else:
            messages.success(request, "Draft saved.")
            return redirect(_detail_url(assessment))
    if request.method != "POST":
        audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=assessment, patient=assessment.patient)
    return render(
        request,
        "intake/form.html",
        {
            "form": form,
            "patient": assessment.patient,
            "assessment": assessment,
            "rating_source": RATING_SOURCE,
        },
    )


@require_perm(Perm.ASSESSMENT_SIGN)
def assessment_sign_view(request: HttpRequest, assessment_id) -> HttpResponse:
    assessment = assessment_get(assessment_id=assessment_id)
    if assessment.is_signed:
        return _conflict(
            request,
            assessment,
            "This assessment is already signed.",
            next_name="intake:detail",
            next_label="View it",
        )
    refusal = services.signer_refusal(
        user=request.user, assessment=assessment, roles=request.membership.roles
    )
    form = SignForm(request.POST if request.method == "POST" and not refusal else None)
    if request.method == "POST" and not refusal and form.is_valid():
        try:
            services.assessment_sign(actor=request.user, assessment=assessment)
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, "Assessment signed and locked.")
            return redirect(_detail_url(assessment))
    audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=assessment, patient=assessment.patient)
    suggestion = services.suggestion_for(assessment)
    context = {
        "assessment": assessment,
        "patient": assessment.patient,
        "form": form,
        "refusal": refusal,
        "suggestion": suggestion,
        "sections": presentation.sections(
            {name: getattr(assessment, name) for name in content.EDITABLE_FIELDS}
        ),
        "chosen_level": presentation.display("recommended_level", assessment.recommended_level),
        "suggested_level": presentation.display("suggested_level", suggestion.level),
        "differs": suggestion.level != assessment.recommended_level,
    }
    return render(request, "intake/sign.html", context)


def _detail_context(assessment: IntakeAssessment) -> dict:
    amendments = list(assessment.amendments.all())
    original = {name: getattr(assessment, name) for name in content.EDITABLE_FIELDS}
    effective = services.effective_values(assessment, amendments)
    effective_suggestion = services.suggestion_for(services.python_values(effective))
    return {
        "assessment": assessment,
        "patient": assessment.patient,
        "amendments": list(
            zip(amendments, presentation.amendment_changes(original, amendments), strict=True)
        ),
        "original_sections": presentation.sections(original),
        "effective_sections": presentation.sections(effective, presentation.amended_fields(amendments)),
        "suggestion": effective_suggestion,
        "suggested_level": presentation.display("suggested_level", effective_suggestion.level),
        "recorded_suggestion": presentation.display("suggested_level", assessment.suggested_level),
        "rating_scale": asam.RATINGS,
        "rating_scale_source": f"{asam.RATING_SCALE_SOURCE} ({asam.RATING_SCALE_STATUS})",
    }


@require_perm(Perm.CLINICAL_VIEW)
def assessment_detail_view(request: HttpRequest, assessment_id) -> HttpResponse:
    assessment = assessment_get(assessment_id=assessment_id)
    audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=assessment, patient=assessment.patient)
    context = _detail_context(assessment)
    context["may_sign"] = not services.signer_refusal(
        user=request.user, assessment=assessment, roles=request.membership.roles
    )
    return render(request, "intake/detail.html", context)


@require_perm(Perm.ASSESSMENT_SIGN)
def assessment_amend_view(request: HttpRequest, assessment_id) -> HttpResponse:
    assessment = assessment_get(assessment_id=assessment_id)
    if not assessment.is_signed:
        return _conflict(
            request, assessment, services.NOT_SIGNED, next_name="intake:edit", next_label="Edit the draft"
        )
    amendments = list(assessment.amendments.all())
    effective = services.python_values(services.effective_values(assessment, amendments))
    form = AmendmentForm(request.POST if request.method == "POST" else None, effective=effective)
    if request.method == "POST" and form.is_valid():
        fields = {name: value for name, value in form.cleaned_data.items() if name != "reason"}
        try:
            amendment = services.assessment_amend(
                actor=request.user, assessment=assessment, fields=fields, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            _form_errors(form, error)
        else:
            messages.success(request, f"Amendment {amendment.sequence} signed and added.")
            return redirect(_detail_url(assessment))
    if request.method != "POST":
        audit(actor=request.user, action=AuditEvent.Action.VIEW, obj=assessment, patient=assessment.patient)
    return render(
        request,
        "intake/amend.html",
        {
            "form": form,
            "patient": assessment.patient,
            "assessment": assessment,
            "rating_source": RATING_SOURCE,
        },
    )


@require_perm(Perm.CLINICAL_VIEW)
def assessment_pdf_view(request: HttpRequest, assessment_id) -> HttpResponse:
    assessment = assessment_get(assessment_id=assessment_id)
    audit(actor=request.user, action=AuditEvent.Action.PRINT, obj=assessment, patient=assessment.patient)
    context = {**_detail_context(assessment), "clinic": request.clinic}
    document = render_pdf("pdf/intake_assessment.html", context)
    return pdf_response(document, f"intake-assessment-{assessment.patient.mrn}-{assessment.assessed_on}.pdf")
