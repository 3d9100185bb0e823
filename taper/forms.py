"""Taper plan forms: they parse and explain; taper/services.py validates the plan and saves it.

The builder is one form plus two small formsets (the regimen lines and optional holds). Field names match
the service's ValidationError keys so an error from the engine lands on the field it is about.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.forms import formset_factory

from taper.catalogue import FormKind, Split, load_catalogue
from taper.dosing import Form
from taper.engine import LiquidUse, Strategy
from taper.engine_adapter import PlanInput
from taper.models import TABLE_CHOICES
from taper.policy import policy

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
REGIMEN_PREFIX = "line"
HOLD_PREFIX = "hold"
MAX_LINES = 8
MAX_HOLDS = 6

STRATEGY_CHOICES = [
    (Strategy.DIRECT.value, "Taper the current medication directly"),
    (Strategy.CROSS_TITRATE.value, "Switch to diazepam one dose at a time, then taper diazepam"),
]
LIQUID_CHOICES = [
    (LiquidUse.CAP.value, "Only where tablets cannot keep the guideline cap"),
    (LiquidUse.PACE.value, "Also where tablets cannot keep the requested pace"),
    (LiquidUse.NEVER.value, "Never: tablets or capsules only"),
]
FORM_CHOICES = [
    ("", "Tablets if possible"),
    (Form.TABLET.value, "Tablets / capsules"),
    (Form.LIQUID.value, "Oral liquid"),
]
LIMITS = policy().limits


def drug_choices() -> list[tuple[str, str]]:
    catalogue = load_catalogue()
    benzos = sorted(n for n, d in catalogue.drugs.items() if d.drug_class == "benzodiazepine")
    z_drugs = sorted(n for n, d in catalogue.drugs.items() if d.drug_class != "benzodiazepine")
    return [
        ("", "Choose…"),
        ("Benzodiazepines", [(n, n.capitalize()) for n in benzos]),
        ("Z-drugs", [(n, n.capitalize()) for n in z_drugs]),
    ]


def _percent(label: str, *, required: bool, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal(100),
        help_text=help_text,
        error_messages={
            "min_value": "The rate must be more than 0%%.",
            "max_value": "The rate is a percentage of the current dose: at most 100%%.",
            "invalid": "Enter the rate as a number, e.g. 10.",
            "max_digits": "Enter the rate as a number between 0 and 100.",
            "max_decimal_places": "Use at most two decimal places.",
        },
        widget=forms.NumberInput(attrs={"step": "0.5", "inputmode": "decimal"}),
    )


def _days(
    label: str, *, required: bool, help_text: str = "", bounds: tuple[int, int] = (1, 365)
) -> forms.IntegerField:
    low, high = bounds
    return forms.IntegerField(
        label=label,
        required=required,
        min_value=low,
        max_value=high,
        help_text=help_text,
        error_messages={
            "required": "Give the number of days.",
            "min_value": f"Give at least {low} day{'s' if low != 1 else ''}.",
            "max_value": f"Give at most {high} days.",
            "invalid": "Enter a whole number of days.",
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": low, "max": high}),
    )


def _mg(label: str, *, required: bool, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        max_digits=9,
        decimal_places=3,
        min_value=Decimal(0),
        help_text=help_text,
        error_messages={
            "min_value": "The dose cannot be negative.",
            "invalid": "Enter a number of mg, e.g. 2.5.",
            "max_digits": "That dose is too large; check the number.",
            "max_decimal_places": "Use at most three decimal places.",
        },
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )


class RegimenLineForm(forms.Form):
    """One dose the patient takes now: medication, mg, time of day."""

    drug = forms.ChoiceField(
        label="Medication", error_messages={"required": "Choose a medication.", "invalid_choice": "Choose a "
        "medication from the list."}
    )  # fmt: skip
    dose_mg = _mg("Dose (mg)", required=True)
    time_of_day = forms.TimeField(
        label="Time of day",
        widget=TIME,
        error_messages={"required": "Give the time of day.", "invalid": "Give the time like 08:00."},
    )
    form = forms.ChoiceField(
        label="Given as",
        required=False,
        choices=FORM_CHOICES,
        error_messages={"invalid_choice": "Choose tablets or oral liquid."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["drug"].choices = drug_choices()
        self.fields["dose_mg"].error_messages["required"] = "Give the dose in mg."

    def clean_dose_mg(self) -> Decimal:
        dose = self.cleaned_data["dose_mg"]
        if dose is not None and dose <= 0:
            raise forms.ValidationError("The dose must be more than 0 mg.")
        return dose


class HoldForm(forms.Form):
    """A planned pause: repeat the dose for some days from a date (e.g. around a known stressful event)."""

    on_date = forms.DateField(
        label="From", widget=DATE, error_messages={"required": "Give the date the hold starts."}
    )
    days = _days("Days", required=True, bounds=LIMITS.hold_days)


class BaseLines(forms.BaseFormSet):
    """A formset whose empty rows are ignored (a blank line is not an error)."""

    def rows(self) -> list[dict[str, Any]]:
        return [f.cleaned_data for f in self.forms if f.cleaned_data]


RegimenFormSet = formset_factory(
    RegimenLineForm, formset=BaseLines, extra=0, max_num=MAX_LINES, validate_max=True, absolute_max=MAX_LINES
)
HoldFormSet = formset_factory(
    HoldForm, formset=BaseLines, extra=0, max_num=MAX_HOLDS, validate_max=True, absolute_max=MAX_HOLDS
)


class PlanForm(forms.Form):
    """Everything but the regimen lines and holds. `psychiatrist` decides the per-plan table and the
    cap override; `editing` makes the reason required (it is kept with the new version)."""

    start_date = forms.DateField(
        label="First step on",
        widget=DATE,
        help_text="The regimen above is what the patient takes until this day.",
        error_messages={"required": "Give the date of the first step.", "invalid": "Give a date."},
    )
    strategy = forms.ChoiceField(
        label="Strategy",
        choices=STRATEGY_CHOICES,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a strategy.",
            "invalid_choice": "Choose one of the two strategies.",
        },
    )
    substitution_interval_days = _days(
        "Days per switch",
        required=False,
        bounds=LIMITS.substitution_interval_days,
        help_text="Cross-titration only: how long each switched dose settles before the next switch "
        "(empty = the step interval).",
    )
    min_switch_days = _days(
        "Spread the switch over at least (days)",
        required=False,
        bounds=(1, 56),
        help_text=f"Cross-titration only; empty = {policy().switch.min_switch_days} days. The guideline "
        "suggests switching over 1–2 weeks, not 1–2 days: a single daily dose is switched in portions.",
    )
    rate_percent = _percent("Reduce by (%)", required=True, help_text="Of the current daily dose, per step.")
    interval_days = _days("Every (days)", required=True, bounds=LIMITS.interval_days)
    liquid = forms.ChoiceField(
        label="Move a dose to the oral liquid",
        choices=LIQUID_CHOICES,
        initial=LiquidUse.CAP.value,
        error_messages={"invalid_choice": "Choose when the oral liquid may be used."},
        help_text="Stocked liquids only. The move is shown on its step; the dose then stays liquid.",
    )
    slow_rate_percent = _percent(
        "Slower rate (%)", required=False, help_text="Optional: a gentler rate for the last part."
    )
    slow_below_de_mg = _mg(
        "…once the daily dose is at or below (mg diazepam-equivalent)",
        required=False,
    )
    target_de_mg = _mg(
        "Target (mg diazepam-equivalent per day)",
        required=False,
        help_text="Empty or 0 tapers to zero; otherwise the plan ends on a maintenance dose.",
    )
    table = forms.ChoiceField(
        label="Equivalence table",
        choices=TABLE_CHOICES,
        error_messages={"invalid_choice": "Choose one of the listed equivalence tables."},
        help_text="Published tables disagree; a psychiatrist may choose a different one for this plan.",
    )
    override_steps = forms.CharField(
        label="Steps accepted over the cap",
        required=False,
        max_length=200,
        help_text="The step numbers, e.g. 6, 7. Only these steps may cut more than the guideline allows.",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    override_reason = forms.CharField(
        label="Why these steps may cut more than the guideline allows",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept with the plan and shown to whoever approves or reads it.",
    )
    high_dose_confirmation = forms.CharField(
        label="Confirm a high dose: type the daily diazepam-equivalent dose",
        required=False,
        max_length=40,
        help_text="Needed only above 15 mg diazepam-equivalent a day; the preview says what to type.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    reason = forms.CharField(
        label="Note",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, psychiatrist: bool, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.psychiatrist = psychiatrist
        if not psychiatrist:
            del self.fields["override_reason"]
            del self.fields["override_steps"]
            self.fields["table"].disabled = True
            self.fields[
                "table"
            ].help_text = (
                "The clinic's default table; a psychiatrist may choose a different one for this plan."
            )
        if editing:
            self.fields["reason"].label = "Why are you changing the plan?"
            self.fields["reason"].required = True
            self.fields["reason"].error_messages["required"] = "Say why: it is kept with the new version."
        else:
            self.fields["reason"].help_text = "Optional, kept with the first version."

    def clean_override_steps(self) -> list[int]:
        text = self.cleaned_data.get("override_steps") or ""
        parts = [p for p in re.split(r"[\s,;]+", text) if p]
        if not all(p.isdigit() and int(p) >= 1 for p in parts):
            raise forms.ValidationError("List step numbers separated by commas, e.g. 6, 7.")
        return sorted({int(p) for p in parts})

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("override_steps") and not (data.get("override_reason") or "").strip():
            self.add_error("override_reason", "Say why these steps may cut more than the guideline allows.")
        if (data.get("slow_rate_percent") is None) != (data.get("slow_below_de_mg") is None):
            message = "Give both the slower rate and the dose below which it applies, or neither."
            field = "slow_below_de_mg" if data.get("slow_rate_percent") is not None else "slow_rate_percent"
            if field not in self.errors:
                self.add_error(field, message)
        return data


def plan_input(form: PlanForm, lines: RegimenFormSet, holds: HoldFormSet) -> PlanInput:
    """The service's input from three valid forms."""
    data = form.cleaned_data
    return PlanInput(
        regimen=[
            {
                "drug": r["drug"],
                "dose_mg": r["dose_mg"],
                "time_of_day": r["time_of_day"],
                "form": r.get("form") or None,
            }
            for r in lines.rows()
        ],
        start_date=data["start_date"],
        rate_percent=data["rate_percent"],
        interval_days=data["interval_days"],
        table=data["table"],
        strategy=data["strategy"],
        substitution_interval_days=data.get("substitution_interval_days"),
        slow_rate_percent=data.get("slow_rate_percent"),
        slow_below_de_mg=data.get("slow_below_de_mg"),
        target_de_mg=data.get("target_de_mg") or Decimal(0),
        holds=[{"days": h["days"], "on_date": h["on_date"]} for h in holds.rows()],
        override_reason=data.get("override_reason") or "",
        override_steps=data.get("override_steps") or (),
        liquid=data.get("liquid") or LiquidUse.CAP.value,
        min_switch_days=data.get("min_switch_days"),
        high_dose_confirmation=data.get("high_dose_confirmation") or "",
    )


# --- actions on a plan --------------------------------------------------------------------------------------
class ApproveForm(forms.Form):
    note = forms.CharField(
        label="Note (optional)", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
    # The digest of the warnings shown above the button (version_fields.warnings_digest): the approval records
    # that they were shown, and a plan changed meanwhile is not approved unseen.
    warnings_seen = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)


def _reason_field(label: str = "Reason") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why: it is kept with the new version."},
    )


class HoldActionForm(forms.Form):
    UNTIL_RESUMED = "open"
    FOR_DAYS = "days"

    from_date = forms.DateField(
        label="Hold from", widget=DATE, error_messages={"required": "Give the date the hold starts."}
    )
    length = forms.ChoiceField(
        label="For how long",
        choices=[(FOR_DAYS, "A number of days"), (UNTIL_RESUMED, "Until a psychiatrist resumes it")],
        widget=forms.RadioSelect,
        initial=UNTIL_RESUMED,
        error_messages={
            "required": "Choose how long the hold lasts.",
            "invalid_choice": "Choose a number of days or until resumed.",
        },
    )
    days = _days(
        "Days",
        required=False,
        bounds=LIMITS.hold_days,
        help_text="The dose stays the same for this many days, then reductions continue.",
    )
    reason = _reason_field()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("length") == self.FOR_DAYS and data.get("days") is None and "days" not in self.errors:
            self.add_error("days", "Give the number of days, or choose to hold until resumed.")
        return data

    @property
    def hold_days(self) -> int | None:
        return self.cleaned_data["days"] if self.cleaned_data["length"] == self.FOR_DAYS else None


class ResumeForm(forms.Form):
    from_date = forms.DateField(
        label="Next reduction on", widget=DATE, error_messages={"required": "Give the date to resume."}
    )
    rate_percent = _percent("New rate (%)", required=False, help_text="Empty keeps the plan's rate.")
    interval_days = _days(
        "New interval (days)",
        required=False,
        bounds=LIMITS.interval_days,
        help_text="Empty keeps the interval.",
    )
    reason = _reason_field()


class PaceForm(forms.Form):
    from_date = forms.DateField(
        label="First reduction at the new pace on",
        widget=DATE,
        error_messages={"required": "Give the date the new pace starts."},
    )
    rate_percent = _percent("Reduce by (%)", required=True)
    interval_days = _days("Every (days)", required=True, bounds=LIMITS.interval_days)
    reason = _reason_field()


class CloseForm(forms.Form):
    outcome = forms.ChoiceField(
        label="Outcome",
        choices=[("completed", "Completed"), ("stopped", "Stopped")],
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose completed or stopped.",
            "invalid_choice": "Choose completed or stopped.",
        },
    )
    reason = _reason_field()


# --- clinic settings ----------------------------------------------------------------------------------------
class TaperSettingsForm(forms.Form):
    default_table = forms.ChoiceField(label="Default equivalence table", choices=TABLE_CHOICES)
    default_rate_percent = _percent("Default rate (%)", required=True)
    default_interval_days = _days("Default interval (days)", required=True, bounds=LIMITS.interval_days)
    tail_floor_de_mg = forms.DecimalField(
        label="End-of-taper floor (mg diazepam-equivalent a day)",
        required=False,  # empty keeps the clinic's current floor
        min_value=Decimal(0),
        max_value=Decimal(policy().tail.max_floor_de_mg.numerator)
        / policy().tail.max_floor_de_mg.denominator,
        max_digits=5,
        decimal_places=2,
        help_text="Steps that start at or below this dose may cut more than the guideline cap, because the "
        "smallest doses cannot be cut finer. Program policy, not a guideline number: a psychiatrist "
        "confirms it.",
        error_messages={
            "max_value": "At most %(limit_value)s mg: above it the cap would be waived too early.",
            "min_value": "The floor cannot be negative.",
            "invalid": "Enter a number of mg, e.g. 2.",
        },
    )


class FormularyAddForm(forms.Form):
    drug = forms.ChoiceField(label="Medication", error_messages={"invalid_choice": "Choose from the list."})
    kind = forms.ChoiceField(
        label="Kind",
        choices=[
            (FormKind.TABLET.value, "Tablet"),
            (FormKind.CAPSULE.value, "Capsule"),
            (FormKind.ORAL_LIQUID.value, "Oral liquid"),
        ],
    )
    strength_mg = _mg("Strength (mg per tablet/capsule)", required=False)
    split = forms.ChoiceField(
        label="May be split",
        required=False,
        choices=[
            (Split.NONE.value, "Not split"),
            (Split.HALVES.value, "In halves"),
            (Split.QUARTERS.value, "In quarters (and halves)"),
        ],
    )
    mg_per_ml = _mg("Concentration (mg per mL, liquids)", required=False)
    note = forms.CharField(label="Note", required=False, max_length=300)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["drug"].choices = drug_choices()


def default_start(today: datetime.date) -> datetime.date:
    """Next Monday: a step that starts on a clinic day can be explained face to face."""
    return today + datetime.timedelta(days=(7 - today.weekday()) or 7)
