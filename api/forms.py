"""Forms of the API-client admin pages. Shape only; api.services decides."""

from __future__ import annotations

from django import forms

from clinic.accounts.forms import RolesField


class ApiClientForm(forms.Form):
    name = forms.CharField(
        label="Name", max_length=100, help_text="Which system will use this token, e.g. “EHR sync”."
    )
    roles = RolesField(
        label="Roles", help_text="The token may do what these roles may do, in this clinic only."
    )
