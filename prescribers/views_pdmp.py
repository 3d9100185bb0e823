"""PDMP report import in the browser: upload, preview (nothing written), then import all or nothing.

The preview page carries the uploaded file back in a hidden field, so nothing of the report is stored
before the clinician commits (a display-only state never has it stored at all); the commit parses and
checks it again from scratch.
"""

from __future__ import annotations

import base64
import binascii

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.selectors import patient_get
from prescribers import pdmp_import
from prescribers.models import PdmpImport, PdmpStatePolicy

FORMAT_CHOICES = [
    ("fhir", "FHIR bundle from the PDMP ($pdmp-history), .json"),
    ("csv", "CSV report export, .csv"),
    ("pdf", "PDF report, .pdf"),
]


class PdmpUploadForm(forms.Form):
    state = forms.ChoiceField(label="State PDMP", choices=())
    format = forms.ChoiceField(label="What you have", choices=FORMAT_CHOICES, widget=forms.RadioSelect)
    file = forms.FileField(label="Report file", required=False)
    queried_at = forms.DateTimeField(
        label="When the PDMP was queried",
        required=False,
        help_text="Leave empty to use the report's own time.",
    )
    transaction_id = forms.CharField(label="Gateway transaction id", required=False, max_length=200)
    note = forms.CharField(
        label="Note", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
    # Set by the preview page: the file as uploaded, and the name it had.
    content = forms.CharField(required=False, widget=forms.HiddenInput)
    filename = forms.CharField(required=False, widget=forms.HiddenInput, max_length=255)
    identity_confirmed = forms.BooleanField(
        label="I have checked that this report is about this patient", required=False
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        states = list(PdmpStatePolicy.objects.order_by("state").values_list("state", "storage"))
        labels = dict(PdmpStatePolicy.Storage.choices)
        self.fields["state"].choices = [("", "Choose a state")] + [
            (state, f"{state} — {labels[storage].split(' (')[0]}") for state, storage in states
        ]

    def data_bytes(self) -> bytes:
        upload = self.cleaned_data.get("file")
        if upload is not None:
            if upload.size > pdmp_import.MAX_BYTES:
                raise ValidationError({"file": ["The file is larger than 10 MB."]})
            return upload.read()
        encoded = self.cleaned_data.get("content") or ""
        if not encoded:
            raise ValidationError({"file": ["Choose the report file."]})
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as error:
            raise ValidationError({"file": ["The file did not come through; choose it again."]}) from error

    def filename_of(self) -> str:
        upload = self.cleaned_data.get("file")
        return (upload.name if upload is not None else self.cleaned_data.get("filename") or "")[:255]


@require_perm(Perm.MEDICATION_RECORD)
@require_http_methods(["GET", "POST"])
def pdmp_import_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    form = PdmpUploadForm(request.POST or None, request.FILES or None)
    context = {"patient": patient, "form": form, "policies_missing": len(form.fields["state"].choices) == 1}
    if request.method == "GET":
        return render(request, "prescribers/pdmp_import.html", context)
    status = 400
    if form.is_valid():
        try:
            data = form.data_bytes()
            if "commit" in request.POST:
                row = pdmp_import.commit(
                    actor=request.user,
                    patient=patient,
                    state=form.cleaned_data["state"],
                    format=form.cleaned_data["format"],
                    data=data,
                    filename=form.filename_of(),
                    queried_at=form.cleaned_data.get("queried_at"),
                    transaction_id=form.cleaned_data.get("transaction_id", ""),
                    note=form.cleaned_data.get("note", ""),
                    identity_confirmed=form.cleaned_data.get("identity_confirmed", False),
                )
                messages.success(request, _imported_message(row))
                return redirect(clinic_reverse("prescribers:patient-medications", patient_id=patient.pk))
            preview = pdmp_import.preview(
                patient=patient,
                state=form.cleaned_data["state"],
                format=form.cleaned_data["format"],
                data=data,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            audit(
                actor=request.user,
                action=AuditEvent.Action.VIEW,
                obj=patient,
                patient=patient,
                detail={"view": "PDMP report preview", "state": preview.state, "fills": len(preview.new)},
            )
            context.update(
                preview=preview,
                content=base64.b64encode(data).decode("ascii"),
                filename=form.filename_of(),
            )
            status = 200
    return render(request, "prescribers/pdmp_import.html", context, status=status)


def _imported_message(row: PdmpImport) -> str:
    if row.format == PdmpImport.Format.VIEWED:
        return f"Recorded that the {row.state} PDMP report was reviewed (the state allows display only)."
    if row.format == PdmpImport.Format.PDF:
        return f"The {row.state} PDMP report PDF is kept with the record."
    if row.new_fill_count:
        return (
            f"Imported {row.new_fill_count} new fill(s) from the {row.state} PDMP "
            f"({row.fill_count - row.new_fill_count} already on file). Co-prescription checks run now."
        )
    return f"All {row.fill_count} fills of this report were already on file; nothing added."


@require_perm(Perm.MEDICATION_VIEW)
def pdmp_import_detail(request: HttpRequest, import_id) -> HttpResponse:
    row = PdmpImport.objects.filter(pk=import_id).defer("pdf").select_related("patient").first()
    if row is None:
        raise Http404
    patient = row.patient
    fills = list(row.dispensations.select_related("prescriber", "pharmacy").order_by("-filled_on", "id"))
    audit(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        obj=row,
        patient=patient,
        detail={"fills": len(fills)},
    )
    return render(
        request, "prescribers/pdmp_import_detail.html", {"patient": patient, "row": row, "fills": fills}
    )


@require_perm(Perm.MEDICATION_VIEW)
def pdmp_import_pdf(request: HttpRequest, import_id) -> HttpResponse:
    row = PdmpImport.objects.filter(pk=import_id).exclude(pdf=None).select_related("patient").first()
    if row is None:
        raise Http404
    patient = row.patient
    audit(actor=request.user, action=AuditEvent.Action.EXPORT, obj=row, patient=patient, detail={"pdf": True})
    response = HttpResponse(bytes(row.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="pdmp-{row.state}-{row.created_at:%Y%m%d}.pdf"'
    return response
