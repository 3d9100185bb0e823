"""Browser forms. They check shape; vitals.services (through the pure modules) decides, and reports
impossible or unusual values back onto these fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from vitals.models import KIND_TO_DATA, KINDS, NOTE_MAX, VitalReading
from vitals.scoring import InstrumentDefinition
from vitals.thresholds import Thresholds, default_thresholds, vital_specs

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]

# Form field per kind: (label, data-file vital). Units come from the data file.
KIND_LABELS = {
    "systolic_bp": "Systolic",
    "diastolic_bp": "Diastolic",
    "heart_rate": "Heart rate",
    "respiratory_rate": "Respiratory rate",
    "temperature": "Temperature",
    "spo2": "SpO₂",
    "weight": "Weight",
}


def _number_input(kind: str, unit: str, decimals: int) -> forms.TextInput:
    # type=text + inputmode: a browser number field silently drops what it cannot parse ("12O"); here the
    # server sees exactly what was typed and explains what is wrong with it.
    return forms.TextInput(
        attrs={
            "inputmode": "decimal" if decimals else "numeric",
            "autocomplete": "off",
            "class": "num",
            "size": 6,
            "aria-describedby": f"unit-{kind}",
            "data-unit": unit,
        }
    )


class VitalsForm(forms.Form):
    taken_at = forms.DateTimeField(label="Taken at", widget=DATETIME, input_formats=DATETIME_FORMATS)
    taken_by = forms.CharField(label="Taken by", max_length=200, help_text="Who took the measurements.")
    systolic_bp = forms.CharField(required=False, max_length=12)
    diastolic_bp = forms.CharField(required=False, max_length=12)
    position = forms.ChoiceField(
        label="Position", choices=VitalReading.Position.choices, initial="sitting", required=False
    )
    heart_rate = forms.CharField(required=False, max_length=12)
    respiratory_rate = forms.CharField(required=False, max_length=12)
    temperature = forms.CharField(required=False, max_length=12)
    spo2 = forms.CharField(required=False, max_length=12)
    on_oxygen = forms.ChoiceField(
        label="Air or oxygen",
        choices=[("", "Not recorded"), ("air", "Room air"), ("oxygen", "Supplemental oxygen")],
        required=False,
    )
    consciousness = forms.ChoiceField(
        label="Consciousness (ACVPU)",
        choices=[("", "Not assessed"), *VitalReading.Consciousness.choices],
        required=False,
    )
    weight = forms.CharField(required=False, max_length=12)
    note = forms.CharField(
        required=False, max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 2}), label="Note"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        specs = vital_specs()
        for kind in KINDS:
            spec = specs[KIND_TO_DATA[kind]]
            field = self.fields[kind]
            field.label = KIND_LABELS[kind]
            field.unit = spec.unit_display
            field.widget = _number_input(kind, spec.unit_display, spec.decimals)
        if not self.is_bound and not self.initial.get("taken_at"):
            self.initial["taken_at"] = timezone.localtime().strftime("%Y-%m-%dT%H:%M")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("systolic_bp") and not data.get("diastolic_bp"):
            data["position"] = ""  # the default position means nothing without a blood pressure
        return data

    def values(self) -> dict[str, str]:
        return {kind: self.cleaned_data[kind].strip() for kind in KINDS if self.cleaned_data.get(kind)}

    def signature(self) -> str:
        """What the person confirmed: the typed values, so changing any of them asks again."""
        return ";".join(f"{kind}={value}" for kind, value in sorted(self.values().items()))

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "taken_at": data["taken_at"],
            "taken_by": data["taken_by"],
            "values": self.values(),
            "position": data.get("position") or "",
            "on_oxygen": {"air": False, "oxygen": True}.get(data.get("on_oxygen") or ""),
            "consciousness": data.get("consciousness") or "",
            "note": data.get("note") or "",
        }


def instrument_form_class(definition: InstrumentDefinition) -> type[forms.Form]:
    """A form generated from the instrument's data: one radio group per item, its scale's options."""
    fields: dict[str, forms.Field] = {
        "completed_at": forms.DateTimeField(
            label="Completed at", widget=DATETIME, input_formats=DATETIME_FORMATS
        )
    }
    for item in definition.items:
        field = forms.TypedChoiceField(
            label=item.text,
            choices=[(o.value, o.label) for o in item.scale.options],
            coerce=int,
            widget=forms.RadioSelect,
            error_messages={"required": "Choose an answer.", "invalid_choice": "Choose one of the answers."},
        )
        field.item = item
        fields[f"item_{item.id}"] = field

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        forms.Form.__init__(self, *args, **kwargs)
        if not self.is_bound and not self.initial.get("completed_at"):
            self.initial["completed_at"] = timezone.localtime().strftime("%Y-%m-%dT%H:%M")

    def answers(self) -> dict[str, int]:
        return {item.id: self.cleaned_data[f"item_{item.id}"] for item in definition.items}

    def item_fields(self) -> list[forms.BoundField]:
        return [self[f"item_{item.id}"] for item in definition.items]

    return type(
        f"{definition.id.title()}Form",
        (forms.Form,),
        {**fields, "__init__": __init__, "answers": answers, "item_fields": item_fields},
    )


# --- clinic thresholds --------------------------------------------------------------------------------------
def check_field(check_id: str) -> str:
    return f"check__{check_id}"


def usual_field(vital: str, end: str) -> str:
    return f"usual__{vital}__{end}"


class ThresholdSettingsForm(forms.Form):
    """One optional field per overridable check and per usual-range edge; blank keeps the reference."""

    def __init__(self, *args: Any, current: Thresholds, overrides: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        defaults = default_thresholds()
        self.rows_checks = []
        for check in defaults.checks.values():
            name = check_field(check.id)
            if check.overridable:
                self.fields[name] = forms.CharField(
                    required=False,
                    max_length=12,
                    label=check.meaning,
                    widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 6, "class": "num"}),
                )
                saved = (overrides.get("checks") or {}).get(check.id, {}).get("value")
                if not self.is_bound and saved is not None:
                    self.initial[name] = saved
            self.rows_checks.append((check, current.checks[check.id], name if check.overridable else None))
        self.rows_usual = []
        specs = vital_specs()
        for vital, default in defaults.usual.items():
            names = []
            for end in ("min", "max"):
                name = usual_field(vital, end)
                self.fields[name] = forms.CharField(
                    required=False,
                    max_length=12,
                    label=f"{specs[vital].label} usual {end}",
                    widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 6, "class": "num"}),
                )
                saved = (overrides.get("usual") or {}).get(vital, {}).get(end)
                if not self.is_bound and saved is not None:
                    self.initial[name] = saved
                names.append(name)
            self.rows_usual.append((specs[vital], default, current.usual[vital], names))

    def bound(self, name: str | None) -> forms.BoundField | None:
        return self[name] if name else None

    def overrides(self) -> dict[str, Any]:
        data = self.cleaned_data
        checks = {}
        for check, _current, name in self.rows_checks:
            if name and data.get(name, "").strip():
                checks[check.id] = {"value": data[name].strip()}
        usual: dict[str, dict[str, str]] = {}
        for spec, _default, _current, names in self.rows_usual:
            for end, name in zip(("min", "max"), names, strict=True):
                if data.get(name, "").strip():
                    usual.setdefault(spec.name, {})[end] = data[name].strip()
        return {"checks": checks, "usual": usual}

    def field_for_error(self, key: str) -> str | None:
        """Map a service error key ("checks.<id>", "usual.<vital>[.min|.max]") to the field that shows it."""
        section, _, rest = key.partition(".")
        if section == "checks" and check_field(rest) in self.fields:
            return check_field(rest)
        if section == "usual":
            vital = rest.split(".")[0]
            data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
            for end in ("min", "max"):
                name = usual_field(vital, end)
                if name in self.fields and (data.get(name) or "").strip():
                    return name
        return None
