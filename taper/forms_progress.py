"""Forms for the progress area: recording the dose a patient took, and the review queue's window."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django import forms

NEGATIVE = "The amount cannot be negative (enter 0 if none was taken)."
NOT_A_NUMBER = "Enter the amount as a number of mg, for example 7.5."


def _amount_field(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        min_value=Decimal(0),
        max_digits=9,
        decimal_places=3,
        error_messages={
            "min_value": NEGATIVE,
            "invalid": NOT_A_NUMBER,
            "max_digits": "That amount is too large; check the entry.",
            "max_decimal_places": "Use at most 3 decimal places.",
            "max_whole_digits": "That amount is too large; check the entry.",
        },
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any", "min": "0"}),
    )


class DoseForm(forms.Form):
    """Either "taken as planned" (the button named action=as_planned) or an amount per drug for a day."""

    day = forms.DateField(
        label="Day",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter a date, for example 2026-01-31.", "required": "Choose the day."},
    )
    other_drug = forms.CharField(
        label="Another medication (if taken)",
        required=False,
        max_length=60,
        widget=forms.TextInput(attrs={"list": "dose-drug-names", "autocomplete": "off"}),
    )
    other_mg = _amount_field("mg of it that day")
    note = forms.CharField(
        label="Note (optional)",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, drugs: list[str], today: datetime.date, as_planned: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.as_planned = as_planned
        self.drug_fields: list[tuple[str, str]] = []
        amounts = {}
        for i, drug in enumerate(drugs):
            name = f"mg_{i}"
            amounts[name] = _amount_field(f"{drug.capitalize()}: total mg taken that day")
            self.drug_fields.append((name, drug))
        # Amount fields first, in the order of the plan's drugs.
        self.fields = {
            "day": self.fields["day"],
            **amounts,
            **{k: v for k, v in self.fields.items() if k != "day"},
        }
        self.fields["day"].widget.attrs["max"] = today.isoformat()

    def amount_fields(self):
        return [self[name] for name, _ in self.drug_fields]

    def clean_day(self) -> datetime.date:
        day = self.cleaned_data["day"]
        if day > self.today:
            raise forms.ValidationError("You cannot record a dose for a day that has not happened yet.")
        return day

    def clean(self):
        data = super().clean()
        if self.as_planned:
            return data
        other, other_mg = (data.get("other_drug") or "").strip(), data.get("other_mg")
        if other and other_mg is None and "other_mg" not in self.errors:
            self.add_error("other_mg", "Enter how much of it was taken (mg).")
        if other_mg is not None and not other:
            self.add_error("other_drug", "Name the medication this amount is for.")
        entered = [data.get(name) for name, _ in self.drug_fields] + [other_mg]
        if all(v is None for v in entered) and not any(n in self.errors for n, _ in self.drug_fields):
            raise forms.ValidationError(
                "Enter how much was taken (0 if none), or use \u201cTaken as planned\u201d."
            )
        return data

    def mg_by_drug(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for name, drug in self.drug_fields:
            value = self.cleaned_data.get(name)
            if value is not None:
                out[drug] = value
        other = (self.cleaned_data.get("other_drug") or "").strip()
        if other and self.cleaned_data.get("other_mg") is not None:
            key = other.lower()
            out[key] = out.get(key, Decimal(0)) + self.cleaned_data["other_mg"]
        return out


class ReviewWindowForm(forms.Form):
    days = forms.TypedChoiceField(
        label="Steps due within",
        choices=[(3, "3 days"), (7, "7 days"), (14, "14 days"), (28, "28 days")],
        coerce=int,
        required=False,
        empty_value=7,
    )
