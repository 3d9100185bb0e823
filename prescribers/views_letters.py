"""Browser views for the letter to a prescriber: a preview for the care team (printed inside the clinic,
not a disclosure) and sending it through the Part 2 consent gate (prescribers.letters.letter_send)."""

from __future__ import annotations

import base64

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.forms import apply_errors
from clinic.pdf import pdf_response
from clinic.tenancy.access import require_perm
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.consent.services import DisclosureRefused
from patients.selectors import patient_get
from prescribers import letters
from prescribers.forms import LetterForm
from prescribers.models import Prescriber
from prescribers.views import GET_POST, audit_view, initial_prescriber


def _filename(patient, prescriber: Prescriber) -> str:
    return f"letter-{patient.mrn}-{prescriber.last_name}.pdf"


@require_perm(Perm.MEDICATION_RECORD)
@require_http_methods(GET_POST)
def letter_send_view(request: HttpRequest, patient_id) -> HttpResponse:
    """Choose the prescriber and purpose; the consent gate decides. Refused: the reasons, nothing recorded
    about the patient, and a link to record a consent naming this prescriber. Allowed: one accounting row,
    one coordination-log entry, and the exact recorded PDF offered for download."""
    patient = patient_get(patient_id=patient_id)
    form = LetterForm(request.POST if request.method == "POST" else None, initial=initial_prescriber(request))
    refused: list[str] = []
    refused_prescriber = None
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                sent = letters.letter_send(
                    actor=request.user,
                    patient=patient,
                    prescriber=data["prescriber"],
                    purpose=data["purpose"],
                    channel=data["channel"],
                    clinic=request.clinic,
                    today=clinic_today(),
                    printed_by=request.user.display_name,
                    note=data["note"],
                )
            except DisclosureRefused as error:
                refused = error.reasons
                refused_prescriber = Prescriber.objects.select_related("recipient").get(
                    pk=data["prescriber"].pk
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                context = {
                    "patient": patient,
                    "prescriber": data["prescriber"],
                    "disclosure": sent.disclosure,
                    "entry": sent.entry,
                    "recipient": sent.recipient,
                    "filename": _filename(patient, data["prescriber"]),
                    "pdf_data": base64.b64encode(sent.content).decode("ascii"),
                }
                return render(request, "prescribers/letter_sent.html", context)
    else:
        audit_view(request, patient, "letter to a prescriber")
    context = {
        "patient": patient,
        "form": form,
        "refused": refused,
        "refused_prescriber": refused_prescriber,
    }
    return render(request, "prescribers/letter_send.html", context, status=status)


@require_perm(Perm.MEDICATION_VIEW)
@require_GET
def letter_preview_view(request: HttpRequest, patient_id) -> HttpResponse:
    """The letter as it would read, marked PREVIEW and without the consent (nothing leaves the clinic)."""
    patient = patient_get(patient_id=patient_id)
    prescriber_id = initial_prescriber(request).get("prescriber")
    if prescriber_id is None:
        return redirect(clinic_reverse("prescribers:letter-send", patient_id=patient.pk))
    prescriber = Prescriber.objects.get(pk=prescriber_id)
    content = letters.render_letter(
        patient=patient,
        prescriber=prescriber,
        clinic=request.clinic,
        today=clinic_today(),
        printed_by=request.user.display_name,
    )
    audit(
        actor=request.user,
        action=AuditEvent.Action.PRINT,
        obj=patient,
        patient=patient,
        detail={"document": letters.LETTER_DOCUMENT, "preview": True, "prescriber": str(prescriber.pk)},
    )
    return pdf_response(content, "preview-" + _filename(patient, prescriber))
