"""Forms for consents, recipients, revocation, the may-disclose check and the clinic's notice text.

Field-level checks (lengths, dates, choices) live here; the §2.31 element rules live in rules.validate and
are applied by the services, whose errors the views put back on these fields.
"""

from __future__ import annotations

from django import forms

from patients.consent import rules
from patients.consent.models import Consent, Recipient, RedisclosureNotice

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _choices(mapping: dict[str, str]) -> list[tuple[str, str]]:
    return list(mapping.items())


class RecipientForm(forms.ModelForm):
    class Meta:
        model = Recipient
        fields = ["name", "kind", "organization", "address", "phone", "fax", "email", "participants"]
        widgets = {
            "participants": forms.Textarea(attrs={"rows": 3}),
            "address": forms.Textarea(attrs={"rows": 2}),
        }


class RecipientChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Recipient) -> str:
        return f"{obj.name} — {obj.get_kind_display()}" + (
            f", {obj.organization}" if obj.organization else ""
        )


class ConsentForm(forms.Form):
    """The consent, element by element, in the order of §2.31(a)."""

    disclosing_party = forms.CharField(
        label="1. Who may disclose",
        max_length=200,
        required=False,
        help_text="Leave blank for this program (the clinic's name is used).",
    )
    recipients = RecipientChoiceField(
        label="2. Recipients (named)",
        queryset=Recipient.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Each person or organisation that may receive the information. An information exchange "
        "must "
        "be named with its participants.",
    )
    general_designation = forms.BooleanField(
        label=f"…or, for a TPO consent: “{rules.GENERAL_DESIGNATION_TEXT}”", required=False
    )
    purpose = forms.ChoiceField(
        label="3. Purpose", choices=_choices(rules.PURPOSES), widget=forms.RadioSelect
    )
    purpose_other = forms.CharField(label="Purpose (describe)", max_length=300, required=False)
    information_categories = forms.MultipleChoiceField(
        label="4. What information",
        choices=_choices(rules.CATEGORIES),
        widget=forms.CheckboxSelectMultiple,
        help_text="SUD counseling notes need a consent of their own: choose them alone.",
    )
    information_other = forms.CharField(label="Other information (describe)", max_length=500, required=False)
    expiry_kind = forms.ChoiceField(
        label="5. Expires", choices=_choices(rules.EXPIRY_KINDS), widget=forms.RadioSelect
    )
    expires_on = forms.DateField(label="Expiration date", required=False, widget=DATE)
    expiry_event = forms.CharField(
        label="Expiry event", max_length=200, required=False, help_text="For example “end of treatment”."
    )
    signed_on = forms.DateField(
        label="6. Date signed",
        required=False,
        widget=DATE,
        help_text="Leave blank to print the form for signature first; record the signature afterwards.",
    )
    signed_by = forms.ChoiceField(
        label="Signed by", choices=[("", "—"), *Consent.SignedBy.choices], required=False
    )
    representative_name = forms.CharField(label="Representative's name", max_length=200, required=False)
    representative_relationship = forms.CharField(
        label="Relationship / authority", max_length=100, required=False
    )
    signature_method = forms.ChoiceField(
        label="Signature", choices=[("", "—"), *Consent.SignatureMethod.choices], required=False
    )
    signature_name = forms.CharField(label="Typed e-signature", max_length=200, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["recipients"].queryset = Recipient.objects.filter(is_active=True).order_by("name", "id")

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("recipients", None)
        return data


class SignatureForm(forms.Form):
    signed_on = forms.DateField(label="Date signed", widget=DATE)
    signed_by = forms.ChoiceField(label="Signed by", choices=Consent.SignedBy.choices)
    representative_name = forms.CharField(label="Representative's name", max_length=200, required=False)
    representative_relationship = forms.CharField(
        label="Relationship / authority", max_length=100, required=False
    )
    signature_method = forms.ChoiceField(label="Signature", choices=Consent.SignatureMethod.choices)
    signature_name = forms.CharField(label="Typed e-signature", max_length=200, required=False)


class RevokeForm(forms.Form):
    revoked_on = forms.DateField(label="Date the patient revoked", widget=DATE)
    method = forms.ChoiceField(
        label="How", choices=Consent.RevocationMethod.choices, widget=forms.RadioSelect
    )
    reason = forms.CharField(
        label="Note (optional)", max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class ExpiryEventForm(forms.Form):
    occurred_on = forms.DateField(label="The event happened on", widget=DATE)


class CheckDisclosureForm(forms.Form):
    """The "may this go to this recipient for this purpose now?" question, asked from the patient panel."""

    recipient = forms.ModelChoiceField(label="Recipient", queryset=Recipient.objects.none())
    purpose = forms.ChoiceField(label="Purpose", choices=_choices(rules.PURPOSES))
    information = forms.MultipleChoiceField(
        label="Information", choices=_choices(rules.CATEGORIES), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["recipient"].queryset = Recipient.objects.filter(is_active=True).order_by("name", "id")


class AccountingPeriodForm(forms.Form):
    start = forms.DateField(label="From", widget=DATE, required=False)
    end = forms.DateField(label="To", widget=DATE, required=False)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("The start of the period is after its end.")
        return data


class NoticeForm(forms.Form):
    statement = forms.ChoiceField(
        label="Statement", choices=RedisclosureNotice.Statement.choices, widget=forms.RadioSelect
    )
    text = forms.CharField(label="Notice text", max_length=4000, widget=forms.Textarea(attrs={"rows": 10}))
    verified = forms.BooleanField(
        label="I checked this text word for word against the current eCFR 42 CFR 2.32", required=False
    )


class ApiClientDisclosureForm(forms.Form):
    is_outside_system = forms.TypedChoiceField(
        label="This system is",
        choices=[
            ("0", "Part of this program (e.g. our own EHR): reads are internal, not disclosures"),
            ("1", "An outside system: each patient-data read is a disclosure that needs consent"),
        ],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
    )
    recipient = forms.ModelChoiceField(
        label="Recipient it stands for", queryset=Recipient.objects.none(), required=False
    )
    disclosure_purpose = forms.ChoiceField(
        label="Purpose of its reads", choices=[("", "—"), *_choices(rules.PURPOSES)], required=False
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["recipient"].queryset = Recipient.objects.filter(is_active=True).order_by("name", "id")
