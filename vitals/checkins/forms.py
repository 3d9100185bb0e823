"""Forms: the patient's check-in (built from the symptom data and the day's plan) and the staff forms."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from vitals.checkins import rules
from vitals.checkins.models import CheckIn
from vitals.checkins.selectors import DayPlan
from vitals.checkins.services import LINK_DEFAULT_DAYS, LINK_MAX_DAYS

YES_NO = [("yes", "Yes"), ("no", "No")]
DOSE_CHOICES = [
    (CheckIn.DoseStatus.AS_PLANNED.value, "Yes, as planned"),
    (CheckIn.DoseStatus.LESS.value, "I took less"),
    (CheckIn.DoseStatus.MORE.value, "I took more"),
    (CheckIn.DoseStatus.MISSED.value, "I did not take it"),
]
SCALE_0_10 = [(str(n), str(n)) for n in range(11)]


def _yes(value: str) -> bool:
    return value == "yes"


class CheckInForm(forms.Form):
    """The patient's daily check-in. Field names: dose_status, dose_<drug>, sym_<item>, flag_<id>, …"""

    sleep_hours = forms.DecimalField(
        label="How many hours did you sleep last night?",
        min_value=0,
        max_value=24,
        max_digits=3,
        decimal_places=1,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.5", "min": "0", "max": "24"}),
        error_messages={"required": "Enter about how many hours you slept (for example 6 or 6.5)."},
    )
    sleep_quality = forms.ChoiceField(
        label="How well did you sleep?",
        choices=CheckIn.SleepQuality.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose how well you slept."},
    )
    anxiety = forms.TypedChoiceField(
        label="How anxious have you felt today?",
        help_text="0 = not at all, 10 = the worst you can imagine",
        choices=SCALE_0_10,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a number from 0 to 10."},
    )
    cravings = forms.TypedChoiceField(
        label="How strong have your cravings been today?",
        help_text="Cravings for benzodiazepines, alcohol or other drugs. 0 = none, 10 = the strongest",
        choices=SCALE_0_10,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a number from 0 to 10."},
    )
    alcohol = forms.TypedChoiceField(
        label="Did you drink any alcohol today?",
        choices=YES_NO,
        coerce=_yes,
        widget=forms.RadioSelect,
        error_messages={"required": "Answer yes or no."},
    )
    other_drugs = forms.TypedChoiceField(
        label="Did you use any other drugs or medicines that were not prescribed to you?",
        choices=YES_NO,
        coerce=_yes,
        widget=forms.RadioSelect,
        error_messages={"required": "Answer yes or no."},
    )
    other_drugs_text = forms.CharField(
        label="What did you use?",
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    free_text = forms.CharField(
        label="Anything else you want your care team to know?",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, plan: DayPlan | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.symptom_form = rules.symptom_form()
        fields: dict[str, forms.Field] = {}
        if plan is not None:
            fields["dose_status"] = forms.ChoiceField(
                label="Did you take today's dose?",
                choices=DOSE_CHOICES,
                widget=forms.RadioSelect,
                error_messages={"required": "Tell us whether you took today's dose."},
            )
            for drug, planned in plan.mg_by_drug.items():
                fields[f"dose_{drug}"] = forms.DecimalField(
                    label=f"How much {drug} did you take today in total (mg)?",
                    help_text=f"The plan for today is {format(planned.normalize(), 'f')} mg in total.",
                    required=False,
                    min_value=0,
                    max_value=1000,
                    max_digits=7,
                    decimal_places=3,
                    widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any", "min": "0"}),
                )
        scale = [(str(v.value), v.label) for v in self.symptom_form.scale]
        for item in self.symptom_form.items:
            fields[f"sym_{item.id}"] = forms.TypedChoiceField(
                label=item.label,
                choices=scale,
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": "Choose none, mild, moderate or severe."},
            )
        for flag in self.symptom_form.red_flags:
            fields[f"flag_{flag.id}"] = forms.TypedChoiceField(
                label=flag.question,
                choices=YES_NO,
                coerce=_yes,
                widget=forms.RadioSelect,
                error_messages={"required": "Answer yes or no."},
            )
        # Dose first, then symptoms, safety questions, then the rest in declaration order.
        self.fields = {**fields, **self.fields}

    # Groups for the template.
    def dose_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("dose_") and name != "dose_status"]

    def symptom_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("sym_")]

    def flag_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("flag_")]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        status = data.get("dose_status")
        if self.plan is not None and status in (CheckIn.DoseStatus.LESS, CheckIn.DoseStatus.MORE):
            for drug in self.plan.mg_by_drug:
                if data.get(f"dose_{drug}") is None and f"dose_{drug}" not in self.errors:
                    self.add_error(f"dose_{drug}", f"How much {drug} did you take today, in mg?")
        if data.get("other_drugs") and not (data.get("other_drugs_text") or "").strip():
            self.add_error("other_drugs_text", "Tell us what you used, so your team can help.")
        return data

    def answers(self) -> dict[str, Any]:
        """The cleaned answers in the shape services.checkin_submit takes."""
        data = self.cleaned_data
        doses: dict[str, Decimal] = {}
        if self.plan is not None:
            doses = {drug: data.get(f"dose_{drug}") for drug in self.plan.mg_by_drug}
        return {
            "dose_status": data.get("dose_status", ""),
            "doses": {drug: mg for drug, mg in doses.items() if mg is not None},
            "symptoms": {item.id: data[f"sym_{item.id}"] for item in self.symptom_form.items},
            "red_flags": {flag.id: data[f"flag_{flag.id}"] for flag in self.symptom_form.red_flags},
            "sleep_hours": data["sleep_hours"],
            "sleep_quality": data["sleep_quality"],
            "anxiety": data["anxiety"],
            "cravings": data["cravings"],
            "alcohol": data["alcohol"],
            "other_drugs": data["other_drugs"],
            "other_drugs_text": data.get("other_drugs_text", ""),
            "free_text": data.get("free_text", ""),
        }


class LinkCreateForm(forms.Form):
    days = forms.IntegerField(
        label="Link works for (days)",
        required=False,
        min_value=1,
        max_value=LINK_MAX_DAYS,
        initial=LINK_DEFAULT_DAYS,
        help_text=f"From 1 to {LINK_MAX_DAYS} days. You can turn it off at any time.",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


class LinkRevokeForm(forms.Form):
    reason = forms.CharField(
        label="Why (optional)",
        required=False,
        max_length=300,
        help_text="For example “lost phone” or “discharged”.",
    )


class CheckInSettingsForm(forms.Form):
    care_team_phone = forms.CharField(
        label="Care team phone",
        required=False,
        max_length=30,
        help_text="Patients are told to call this number when a check-in answer needs the team.",
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    care_team_hours = forms.CharField(
        label="When the team answers",
        required=False,
        max_length=200,
        help_text="For example “Mon–Fri 8am–6pm; after hours the on-call nurse answers”.",
    )
