"""Assessment, sign and amendment forms. Field rules come from the model; cross-field rules from services."""

from __future__ import annotations

from typing import Any

from django import forms

from patients.intake import asam, content
from patients.intake.models import NOTES_MAX, IntakeAssessment
from patients.intake.services import recommendation_errors, suggestion_for

TEXTAREA_ROWS = {"rationale": 4, "departure_reason": 3}


class AssessmentForm(forms.ModelForm):
    """Create or edit a draft; also the base of the amendment form (same fields, same rules)."""

    class Meta:
        model = IntakeAssessment
        fields = content.EDITABLE_FIELDS
        widgets = {
            "assessed_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            **{f"d{n}_rating": forms.RadioSelect for n in asam.DIMENSION_NUMBERS},
            "daily_dose_mg": forms.NumberInput(attrs={"step": "0.25", "min": "0", "inputmode": "decimal"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if isinstance(field.widget, forms.Textarea):
                field.widget.attrs.update(rows=TEXTAREA_ROWS.get(name, 3), maxlength=NOTES_MAX)
            if name.endswith("_rating"):
                # No blank choice: a rating must be picked explicitly.
                field.choices = [choice for choice in field.choices if choice[0] != ""]
        self.fields["rationale"].required = True
        self.fields[
            "daily_dose_mg"
        ].help_text = "Milligrams per day of the current benzodiazepine, as assessed."
        self.fields[
            "departure_reason"
        ].help_text = "Required only when the recommended level differs from the suggested level."

    def dimension_rows(self) -> list[tuple[asam.Dimension, forms.BoundField, forms.BoundField]]:
        return [(d, self[f"d{d.number}_rating"], self[f"d{d.number}_notes"]) for d in asam.DIMENSIONS]

    def group(self, names: tuple[str, ...]) -> list[forms.BoundField]:
        return [self[name] for name in names]

    def withdrawal_fields(self) -> list[forms.BoundField]:
        return self.group(content.WITHDRAWAL_FIELDS)

    def co_occurring_flags(self) -> list[forms.BoundField]:
        return self.group(content.CO_OCCURRING_FLAGS)

    def medication_fields(self) -> list[forms.BoundField]:
        return self.group(content.MEDICATION_FIELDS)

    def suggestion(self) -> asam.Suggestion | None:
        """The rules' suggestion for the ratings entered so far (None until every rating is valid)."""
        data = getattr(self, "cleaned_data", None) if self.is_bound else self.initial
        try:
            return suggestion_for(data or {})
        except (asam.InvalidRatings, TypeError):
            return None

    def validate_unique(self) -> None:
        return None

    def _post_clean(self) -> None:
        # The service validates the instance; the form's own field checks already ran.
        return None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if all(isinstance(data.get(f"d{n}_rating"), int) for n in asam.DIMENSION_NUMBERS):
            for name, problems in recommendation_errors(data, suggestion_for(data)).items():
                if name in self.fields and name not in self.errors:
                    self.add_error(name, problems)
        return data


class SignForm(forms.Form):
    confirm = forms.BooleanField(
        label="I assessed this patient (or supervise the assessment) and sign this assessment as complete. "
        "Once signed it is locked; later changes are amendments.",
        error_messages={"required": "Tick the box to confirm you are signing."},
    )


class AmendmentForm(AssessmentForm):
    reason = forms.CharField(
        label="Reason for the amendment",
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": NOTES_MAX}),
        max_length=NOTES_MAX,
        error_messages={"required": "Say why the assessment is being amended."},
    )

    def __init__(self, *args: Any, effective: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, initial=effective, **kwargs)
