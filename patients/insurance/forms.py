"""Browser forms. They check shape; the services decide (and report business errors onto these fields)."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from patients.eligibility.inquiry import IOP_INQUIRY_SERVICE_TYPES
from patients.eligibility.x12 import spec_data as x12_spec
from patients.insurance.exchange import MAX_271_CHARS
from patients.insurance.models import (
    NOTES_MAX,
    Authorization,
    BenefitVerification,
    ClinicBillingProfile,
    Coverage,
)
from patients.insurance.services import (
    AUTHORIZATION_FIELDS,
    BILLING_PROFILE_FIELDS,
    COVERAGE_FIELDS,
    VERIFICATION_FIELDS,
)

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# Service types an IOP/PHP programme asks payers about (clinical reference §8b).
INQUIRY_SERVICE_TYPES = ("30", "MH", "AI", "AK", "CJ", "CH", "BB", "A8", "AJ")


class _NoUniqueCheck:
    def validate_unique(self) -> None:
        # The service checks clinic-wide rules (one active priority per patient) with field-level messages.
        return None


class CoverageForm(_NoUniqueCheck, forms.ModelForm):
    class Meta:
        model = Coverage
        fields = COVERAGE_FIELDS
        widgets = {
            "subscriber_date_of_birth": DATE,
            "effective_from": DATE,
            "effective_to": DATE,
            "member_id": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        }
        help_texts = {
            "payer_id": "The payer's electronic id (from your clearinghouse's payer list).",
            "subscriber_first_name": "Only when the patient is not the subscriber.",
            "effective_to": "Leave blank when open-ended.",
        }

    def clean(self):
        data = super().clean()
        start, end = data.get("effective_from"), data.get("effective_to")
        if start and end and end < start:
            self.add_error("effective_to", "The coverage cannot end before it starts.")
        return data


class VerificationForm(_NoUniqueCheck, forms.ModelForm):
    method = forms.ChoiceField(
        choices=[
            (BenefitVerification.Method.PHONE, "Phone"),
            (BenefitVerification.Method.PORTAL, "Payer portal"),
        ]
    )
    verified_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="When you spoke to the payer or read the portal.",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=NOTES_MAX)

    class Meta:
        model = BenefitVerification
        fields = VERIFICATION_FIELDS
        help_texts = {"reference_number": "The call reference the payer gave you."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound and not self.initial.get("verified_at"):
            self.initial["verified_at"] = timezone.localtime().strftime("%Y-%m-%dT%H:%M")


class AuthorizationForm(_NoUniqueCheck, forms.ModelForm):
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=NOTES_MAX)

    class Meta:
        model = Authorization
        fields = AUTHORIZATION_FIELDS
        widgets = {"start_date": DATE, "end_date": DATE, "next_review_date": DATE}

    def clean(self):
        data = super().clean()
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", "The authorization cannot end before it starts.")
        return data


class UsageForm(forms.Form):
    service_date = forms.DateField(label="Date of service", widget=DATE)
    units = forms.IntegerField(min_value=1, max_value=100, initial=1)
    note = forms.CharField(max_length=500, required=False)


class BillingProfileForm(_NoUniqueCheck, forms.ModelForm):
    class Meta:
        model = ClinicBillingProfile
        fields = BILLING_PROFILE_FIELDS


class EligibilityStartForm(forms.Form):
    service_types = forms.MultipleChoiceField(
        choices=[(code, f"{code} · {x12_spec.SERVICE_TYPES[code]}") for code in INQUIRY_SERVICE_TYPES],
        initial=list(IOP_INQUIRY_SERVICE_TYPES),
        widget=forms.CheckboxSelectMultiple,
        help_text="What to ask the payer about. Substance abuse (AI), drug addiction (AK), SA facility "
        "outpatient (CJ) and partial hospitalization (BB) cover IOP and PHP.",
    )


class ResponseUploadForm(forms.Form):
    response_file = forms.FileField(
        label="271 file", help_text="The eligibility response (271) your clearinghouse portal gave you."
    )

    def clean_response_file(self):
        upload = self.cleaned_data["response_file"]
        if upload.size > MAX_271_CHARS:
            raise forms.ValidationError(
                f"This file is {upload.size:,} bytes; a 271 for one patient is a few kilobytes. Wrong file?"
            )
        raw = upload.read()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise forms.ValidationError("This is not a text file; a 271 is plain text (X12).") from error
