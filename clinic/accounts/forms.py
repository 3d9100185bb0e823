"""Forms for staff administration and invitation acceptance. Validation of rules lives in services."""

from __future__ import annotations

import zoneinfo

from django import forms

from clinic.tenancy.models import Clinic
from clinic.tenancy.roles import ROLE_CHOICES

COMMON_TIMEZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "Europe/London",
    "UTC",
]


class RolesField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("choices", ROLE_CHOICES)
        kwargs.setdefault("error_messages", {"required": "Choose at least one role."})
        super().__init__(**kwargs)


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="Email address", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    roles = RolesField(label="Roles")


class RolesForm(forms.Form):
    roles = RolesField(label="Roles")


class ClinicSettingsForm(forms.ModelForm):
    """Model validators (time zone name, 5 to 240 minutes) give the field errors."""

    class Meta:
        model = Clinic
        fields = ["name", "timezone", "require_mfa", "idle_timeout_minutes"]
        labels = {
            "name": "Clinic name",
            "timezone": "Time zone",
            "require_mfa": "Require two-factor authentication for all staff",
            "idle_timeout_minutes": "Sign out after inactivity (minutes)",
        }
        help_texts = {
            "timezone": "An IANA name such as America/Chicago. Used for schedules and printed dates.",
            "idle_timeout_minutes": "Between 5 and 240; staff are signed out after this long idle.",
        }
        widgets = {
            "timezone": forms.TextInput(attrs={"list": "timezone-options", "autocomplete": "off"}),
            "idle_timeout_minutes": forms.NumberInput(attrs={"min": 5, "max": 240}),
        }

    def clean_timezone(self) -> str:
        value = self.cleaned_data["timezone"].strip()
        if value not in zoneinfo.available_timezones():
            raise forms.ValidationError(f"“{value}” is not a known time zone (for example America/Chicago).")
        return value


class AcceptInvitationForm(forms.Form):
    full_name = forms.CharField(
        label="Your full name", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    password1 = forms.CharField(
        label="Choose a password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters; not a common password and not like your name or email.",
    )
    password2 = forms.CharField(
        label="Repeat the password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", "The two passwords do not match.")
        return data
