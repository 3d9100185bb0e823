"""The audit report's filters. Dates are whole days in the clinic's own time zone."""

from __future__ import annotations

from typing import Any

from django import forms

from clinic.audit.models import AuditEvent
from clinic.audit.selectors import AuditFilters, day_bounds, patient_id_for


class AuditFilterForm(forms.Form):
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    actor = forms.CharField(required=False, max_length=254, label="Who")
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *AuditEvent.Action.choices])
    patient = forms.CharField(required=False, max_length=64, label="Patient")
    object_type = forms.CharField(required=False, max_length=100, label="Object type")
    request_id = forms.CharField(required=False, max_length=64, label="Request id")

    def __init__(self, *args, timezone_name: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.timezone_name = timezone_name
        self.patient_id = None
        self.fields["object_type"].widget.attrs["placeholder"] = "patients.patient"
        self.fields["patient"].widget.attrs["placeholder"] = "MRN or id"

    def clean_patient(self) -> str:
        term = self.cleaned_data["patient"].strip()
        if term:
            self.patient_id = patient_id_for(term)
            if self.patient_id is None:
                raise forms.ValidationError(f"No patient with MRN or id “{term}” in this clinic.")
        return term

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and first > last:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filters(self) -> AuditFilters:
        """The validated filters; call after `is_valid()` returned True."""
        data = self.cleaned_data
        start, end = day_bounds(data.get("date_from"), data.get("date_to"), self.timezone_name)
        return AuditFilters(
            start=start,
            end=end,
            actor=data["actor"].strip(),
            action=data["action"],
            patient_id=self.patient_id,
            object_type=data["object_type"].strip(),
            request_id=data["request_id"].strip(),
        )

    def applied(self) -> dict[str, str]:
        """The filters in use, as text, for the audit event that records this read."""
        return {name: str(value) for name, value in self.cleaned_data.items() if value not in (None, "")}
