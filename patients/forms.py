from __future__ import annotations

from django import forms
from django.utils import timezone

from patients.codes import DIAGNOSIS_CODES, normalise_code
from patients.levels_of_care import CHOICES as LEVEL_CHOICES
from patients.models import (
    Allergy,
    Diagnosis,
    ExternalIdentifier,
    Patient,
    PatientContact,
    ReportedMedication,
    SubstanceUse,
)
from patients.services import EDITABLE_FIELDS, ENTRY_FIELDS

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = EDITABLE_FIELDS
        widgets = {
            "date_of_birth": DATE,
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
            "email": forms.EmailInput(attrs={"autocomplete": "off"}),
            "zip_code": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        }
        help_texts = {"mrn": "Leave blank to assign the next clinic number."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mrn"].required = False
        self.fields["first_name"].widget.attrs["autofocus"] = True

    def validate_unique(self) -> None:
        # The service validates the full record (clinic + MRN uniqueness) once the MRN is known.
        return None


class EntryForm(forms.ModelForm):
    """A record entry form: the service validates and saves; the form only parses and explains."""

    # Wide fields take the whole row of the two-column grid.
    wide_fields: tuple[str, ...] = ("notes",)

    def __init__(self, *args, patient: Patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.patient = patient
        if self.instance.pk is None:
            self.instance.patient = patient
        first = next(iter(self.fields.values()), None)
        if first is not None:
            first.widget.attrs.setdefault("autofocus", True)
        for field in self.fields.values():
            if isinstance(field.widget, forms.Textarea):
                field.widget.attrs["rows"] = 3

    def validate_unique(self) -> None:
        return None  # the service reports duplicates on the right field with a clearer message


class ContactForm(EntryForm):
    class Meta:
        model = PatientContact
        fields = ENTRY_FIELDS[PatientContact]
        widgets = {"phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"})}


class IdentifierForm(EntryForm):
    wide_fields = ("system",)

    class Meta:
        model = ExternalIdentifier
        fields = ENTRY_FIELDS[ExternalIdentifier]
        widgets = {"system": forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"})}


class AllergyForm(EntryForm):
    class Meta:
        model = Allergy
        fields = ENTRY_FIELDS[Allergy]
        widgets = {"noted_on": DATE}


class DiagnosisForm(EntryForm):
    class Meta:
        model = Diagnosis
        fields = ENTRY_FIELDS[Diagnosis]
        widgets = {
            "onset_on": DATE,
            "resolved_on": DATE,
            "code": forms.TextInput(
                attrs={"list": "icd10-codes", "autocomplete": "off", "spellcheck": "false", "size": 10}
            ),
        }
        help_texts = {"code": "ICD-10-CM, e.g. F13.20. Start typing a code to see the list."}

    code_choices = sorted(DIAGNOSIS_CODES.values(), key=lambda code: code.code)

    def clean_code(self) -> str:
        # Accept "f1320" or "F13.20 "; the model's validator then names an unknown code.
        return normalise_code(self.cleaned_data.get("code") or "")

    def _post_clean(self) -> None:
        # Validate the normalised code, not what was typed.
        if "code" in self.cleaned_data:
            self.instance.code = self.cleaned_data["code"]
        super()._post_clean()


class SubstanceUseForm(EntryForm):
    class Meta:
        model = SubstanceUse
        fields = ENTRY_FIELDS[SubstanceUse]
        widgets = {
            "last_used_on": DATE,
            "daily_amount": forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
        }
        help_texts = {"benzodiazepine": "Only for the benzodiazepine category."}


class MedicationForm(EntryForm):
    class Meta:
        model = ReportedMedication
        fields = ENTRY_FIELDS[ReportedMedication]
        widgets = {"reported_on": DATE}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.initial.setdefault("reported_on", timezone.localdate())


class LevelOfCareForm(forms.Form):
    """Step a patient down (or up) to another level of care, or discharge them."""

    CHANGE, DISCHARGE = "change", "discharge"
    action = forms.ChoiceField(
        choices=[(CHANGE, "Move to another level of care"), (DISCHARGE, "Discharge from the program")],
        widget=forms.RadioSelect,
        initial=CHANGE,
    )
    level = forms.ChoiceField(label="New level of care", choices=[("", "—"), *LEVEL_CHOICES], required=False)
    effective_on = forms.DateField(label="Effective date", widget=DATE)
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the level changes (up to 500 characters).",
    )

    def __init__(self, *args, patient: Patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.patient = patient
        self.initial.setdefault("effective_on", timezone.localdate())

    def clean_effective_on(self):
        value = self.cleaned_data["effective_on"]
        if value > timezone.localdate():
            raise forms.ValidationError("The change cannot take effect in the future; record it on the day.")
        if value < self.patient.date_of_birth:
            raise forms.ValidationError("This date is before the patient's date of birth.")
        return value

    def clean(self):
        data = super().clean()
        if data.get("action") == self.CHANGE and not data.get("level"):
            self.add_error("level", "Choose the new level of care.")
        return data
