"""Browser forms for inquiries. Field rules come from the model and `substances.py`; the services check
everything again, so the API and these forms refuse the same things."""

from __future__ import annotations

from django import forms

from clinic.tenancy.context import clinic_today
from patients.admissions import stages
from patients.admissions.models import NOTE_MAX_LENGTH, Inquiry
from patients.admissions.selectors import assignable_staff
from patients.admissions.services import EDITABLE_FIELDS, MAX_BENZODIAZEPINES
from patients.admissions.substances import BENZODIAZEPINES, OTHER_SUBSTANCES, dose_error
from patients.levels_of_care import CHOICES as LEVEL_CHOICES

DATETIME_LOCAL = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# Fields that belong to a later stage: shown on the edit form only once the inquiry has reached it.
LATER_FIELDS = {"intake_at": stages.Stage.INTAKE_SCHEDULED, "level_of_care": stages.Stage.ASSESSED}


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.display_name if hasattr(obj, "display_name") else str(obj)


class InquiryForm(forms.ModelForm):
    other_substances = forms.MultipleChoiceField(
        choices=OTHER_SUBSTANCES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Other substances used",
    )

    class Meta:
        model = Inquiry
        fields = EDITABLE_FIELDS
        widgets = {
            "date_of_birth": DATE,
            "intake_at": DATETIME_LOCAL,
            "reason": forms.Textarea(attrs={"rows": 4}),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
            "contact_phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
            "email": forms.EmailInput(attrs={"autocomplete": "off"}),
            "contact_email": forms.EmailInput(attrs={"autocomplete": "off"}),
        }
        labels = {"first_name": "Prospective patient's first name", "last_name": "Last name"}
        help_texts = {"date_of_birth": "Needed before the inquiry can become a patient."}

    def __init__(self, *args, stage: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"] = StaffChoiceField(
            queryset=assignable_staff(), required=False, label="Assigned to", empty_label="Nobody yet"
        )
        reached = stages.PIPELINE.index(stages.Stage(stage)) if stage in stages.PIPELINE else 0
        for name, from_stage in LATER_FIELDS.items():
            if reached < stages.PIPELINE.index(from_stage):
                del self.fields[name]
        self.fields["referral_source"].widget.attrs["autofocus"] = True

    def validate_unique(self) -> None:
        return None  # nothing unique; the service validates the whole row


class BenzodiazepineRowForm(forms.Form):
    drug = forms.ChoiceField(choices=[("", "—"), *BENZODIAZEPINES], required=False, label="Benzodiazepine")
    daily_dose_mg = forms.DecimalField(
        label="Daily dose (mg)",
        required=False,
        max_digits=7,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )

    def clean(self) -> dict:
        data = super().clean()
        drug, dose = data.get("drug"), data.get("daily_dose_mg")
        if not drug and dose is None:
            return data
        if not drug:
            self.add_error("drug", "Choose which benzodiazepine this dose is for.")
        else:
            problem = dose_error(drug, dose)
            if problem and "daily_dose_mg" not in self.errors:
                self.add_error("daily_dose_mg", problem)
        return data


class BaseBenzodiazepineFormSet(forms.BaseFormSet):
    def rows(self) -> list[dict]:
        return [
            {"drug": form.cleaned_data["drug"], "daily_dose_mg": form.cleaned_data["daily_dose_mg"]}
            for form in self.forms
            if form.cleaned_data.get("drug")
        ]

    def clean(self) -> None:
        drugs = [form.cleaned_data.get("drug") for form in self.forms if hasattr(form, "cleaned_data")]
        drugs = [drug for drug in drugs if drug]
        if len(drugs) != len(set(drugs)):
            raise forms.ValidationError("List each benzodiazepine once, with its total daily dose.")


BenzodiazepineFormSet = forms.formset_factory(
    BenzodiazepineRowForm,
    formset=BaseBenzodiazepineFormSet,
    extra=0,
    min_num=3,
    max_num=MAX_BENZODIAZEPINES,
    validate_max=True,
)


def benzodiazepine_initial(inquiry: Inquiry | None) -> list[dict]:
    if inquiry is None:
        return []
    return [{"drug": b.drug, "daily_dose_mg": b.daily_dose_mg} for b in inquiry.benzodiazepines.all()]


class AdvanceForm(forms.Form):
    """What one move needs (see stages.REQUIREMENTS), plus an optional note for the history."""

    to_stage = forms.ChoiceField(choices=stages.CHOICES, widget=forms.HiddenInput)
    intake_at = forms.DateTimeField(label="Intake appointment", widget=DATETIME_LOCAL)
    level_of_care = forms.ChoiceField(label="Level of care", choices=[("", "—"), *LEVEL_CHOICES])
    admitted_on = forms.DateField(label="Admission date", widget=DATE)
    closed_reason = forms.ChoiceField(label="Reason", choices=[("", "—"), *Inquiry.ClosedReason.choices])
    closed_note = forms.CharField(
        label="Details", max_length=NOTE_MAX_LENGTH, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    note = forms.CharField(
        label="Note for the history",
        max_length=NOTE_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(),
        help_text="Optional.",
    )

    FIELDS_BY_STAGE = {
        stages.Stage.INTAKE_SCHEDULED: ("intake_at",),
        stages.Stage.ASSESSED: ("level_of_care",),
        stages.Stage.ADMITTED: ("level_of_care", "admitted_on"),
        stages.Stage.REFERRED_OUT: ("closed_reason", "closed_note"),
        stages.Stage.DECLINED: ("closed_reason", "closed_note"),
    }

    def __init__(self, *args, target: stages.Stage, inquiry: Inquiry, **kwargs) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("to_stage", target.value)
        if target == stages.Stage.ADMITTED:
            kwargs["initial"].setdefault("level_of_care", inquiry.level_of_care)
            kwargs["initial"].setdefault("admitted_on", clinic_today())
        if target == stages.Stage.INTAKE_SCHEDULED and inquiry.intake_at:
            kwargs["initial"].setdefault("intake_at", inquiry.intake_at)
        super().__init__(*args, **kwargs)
        keep = {"to_stage", "note", *self.FIELDS_BY_STAGE.get(target, ())}
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        if target == stages.Stage.ASSESSED:
            self.fields["level_of_care"].label = "Recommended level of care"

    def requirements(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if name not in ("to_stage", "note")}
