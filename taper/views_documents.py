"""Browser views for taper documents: the patient's calendar PDF, the clinical summary PDF, and sending the
summary outside the clinic (through the Part 2 consent gate). Thin: taper.documents builds, the consent
service decides and records, these views audit prints and show the answer."""

from __future__ import annotations

import base64

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.pdf import pdf_response
from clinic.tenancy.access import require_perm
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm
from patients.consent import rules
from patients.consent.models import Disclosure, Recipient
from patients.consent.services import DisclosureRefused
from taper import documents
from taper.models import TaperPlan

# How staff will get the PDF to the recipient: the app has no fax or e-mail transport.
SEND_CHANNELS = [
    (Disclosure.Channel.PDF.value, "I will hand over or upload the PDF"),
    (Disclosure.Channel.FAX.value, "I will fax the PDF"),
    (Disclosure.Channel.MAIL.value, "I will print and mail it"),
]


def _plan(plan_id) -> TaperPlan:
    plan = TaperPlan.objects.select_related("patient", "current_version").filter(pk=plan_id).first()
    if plan is None or plan.current_version_id is None:
        raise Http404("No such taper plan")
    return plan


def _filename(kind: str, plan: TaperPlan) -> str:
    return f"taper-{kind}-{plan.patient.mrn}-v{plan.current_version.number}.pdf"


@require_perm(Perm.TAPER_VIEW)
@require_GET
def calendar_pdf_view(request: HttpRequest, plan_id) -> HttpResponse:
    plan = _plan(plan_id)
    content = documents.render_calendar(plan, clinic=request.clinic, printed_on=clinic_today())
    audit(
        actor=request.user,
        action=AuditEvent.Action.PRINT,
        obj=plan,
        patient=plan.patient,
        detail={"document": documents.CALENDAR_DOCUMENT, "version": plan.current_version.number},
    )
    return pdf_response(content, _filename("calendar", plan))


@require_perm(Perm.TAPER_VIEW)
@require_GET
def summary_pdf_view(request: HttpRequest, plan_id) -> HttpResponse:
    plan = _plan(plan_id)
    content = documents.render_summary(
        plan, clinic=request.clinic, today=clinic_today(), printed_by=request.user.display_name
    )
    audit(
        actor=request.user,
        action=AuditEvent.Action.PRINT,
        obj=plan,
        patient=plan.patient,
        detail={"document": documents.SUMMARY_DOCUMENT, "version": plan.current_version.number},
    )
    return pdf_response(content, _filename("summary", plan))


class SummarySendForm(forms.Form):
    recipient = forms.ModelChoiceField(
        label="Recipient", queryset=Recipient.objects.none(), empty_label="Choose a recipient"
    )
    purpose = forms.ChoiceField(
        label="Purpose", choices=[(k, v) for k, v in rules.PURPOSES.items()], initial="treatment"
    )
    channel = forms.ChoiceField(
        label="How you will send it",
        choices=SEND_CHANNELS,
        initial=Disclosure.Channel.PDF.value,
        help_text="Stepdown does not fax or e-mail: you download the PDF and send it yourself.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["recipient"].queryset = Recipient.objects.filter(is_active=True).order_by("name", "id")


@require_perm(Perm.TAPER_VIEW)
@require_http_methods(["GET", "POST"])
def summary_send_view(request: HttpRequest, plan_id) -> HttpResponse:
    """Choose a recipient and purpose; the consent gate decides. Refused: the reasons, nothing recorded.
    Allowed: one accounting-of-disclosures row, and the exact PDF that was recorded offered for download."""
    plan = _plan(plan_id)
    form = SummarySendForm(request.POST if request.method == "POST" else None)
    refused: list[str] = []
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                disclosure, content = documents.summary_send(
                    actor=request.user,
                    plan=plan,
                    recipient=data["recipient"],
                    purpose=data["purpose"],
                    channel=data["channel"],
                    clinic=request.clinic,
                    today=clinic_today(),
                    printed_by=request.user.display_name,
                )
            except DisclosureRefused as error:
                refused = error.reasons
            except ValidationError as error:
                for problem in error.messages:
                    form.add_error(None, problem)
            else:
                context = {
                    "plan": plan,
                    "patient": plan.patient,
                    "disclosure": disclosure,
                    "recipient": data["recipient"],
                    "filename": _filename("summary", plan),
                    "pdf_data": base64.b64encode(content).decode("ascii"),
                }
                return render(request, "taper/documents_sent.html", context)
    else:
        audit(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            obj=plan,
            patient=plan.patient,
            detail={"page": "taper_summary_send"},
        )
    context = {"plan": plan, "patient": plan.patient, "form": form, "refused": refused}
    return render(request, "taper/documents_send.html", context, status=status)
