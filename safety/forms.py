"""Forms of the alert inbox, the alert actions and the clinic's alert settings. Field checks only; the
lifecycle rules are the services' (their errors are put back on these forms by the views)."""

from __future__ import annotations

from django import forms

from safety import rules_catalogue
from safety.models import Alert, SafetySettings
from safety.services import MAX_NOTE

STATUS_FILTERS = [
    ("active", "Needs action (open or acknowledged)"),
    ("open", "Open (not acknowledged)"),
    ("acknowledged", "Acknowledged"),
    ("resolved", "Resolved"),
    ("dismissed", "Dismissed"),
    ("all", "Any status"),
]


class InboxFilterForm(forms.Form):
    status = forms.ChoiceField(label="Status", choices=STATUS_FILTERS, required=False)
    severity = forms.ChoiceField(
        label="Severity", choices=[("", "Any severity"), *reversed(Alert.Severity.choices)], required=False
    )
    rule = forms.ChoiceField(label="Rule", required=False)
    mine = forms.BooleanField(label="Assigned to me", required=False)
    patient = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rule"].choices = [("", "Any rule")] + [
            (rule.id, rule.title) for rule in rules_catalogue.all_rules()
        ]

    def cleaned_or_defaults(self) -> dict:
        """Bad filter values (a hand-edited URL) fall back to the defaults instead of an error page."""
        data = {"status": "active", "severity": "", "rule": "", "mine": False, "patient": None}
        if self.is_bound and self.is_valid():
            data.update({key: value for key, value in self.cleaned_data.items() if value not in (None, "")})
        return data


class AssignForm(forms.Form):
    assigned_to = forms.ModelChoiceField(
        label="Assign to", queryset=None, required=False, empty_label="Nobody (unassign)"
    )

    def __init__(self, *args, staff: list, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from django.contrib.auth import get_user_model

        self.fields["assigned_to"].queryset = get_user_model().objects.filter(pk__in=[u.pk for u in staff])
        self.fields["assigned_to"].label_from_instance = lambda user: user.display_name


class ResolveForm(forms.Form):
    note = forms.CharField(
        label="What was done",
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required. For example: “Called the patient; BP 142/88 on recheck; psychiatrist informed.”",
        error_messages={"required": "Say what was done: a resolved alert needs a note."},
    )


class DismissForm(forms.Form):
    reason = forms.CharField(
        label="Why no action is needed",
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required. For example: “Reading typed in error; correct reading 128/82.”",
        error_messages={"required": "Say why: a dismissed alert needs a reason."},
    )


class SafetySettingsForm(forms.Form):
    escalate_after_minutes = forms.IntegerField(
        label=SafetySettings._meta.get_field("escalate_after_minutes").verbose_name.capitalize(),
        min_value=rules_catalogue.defaults().escalate_min,
        max_value=rules_catalogue.defaults().escalate_max,
        help_text=SafetySettings._meta.get_field("escalate_after_minutes").help_text,
    )
    checkin_cutoff = forms.TimeField(
        label="Daily check-in cut-off",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=SafetySettings._meta.get_field("checkin_cutoff").help_text,
    )
    missed_sessions_in_a_row = forms.IntegerField(
        label="Missed sessions in a row",
        required=False,  # left blank: kept as it is
        min_value=rules_catalogue.defaults().missed_sessions_min,
        max_value=rules_catalogue.defaults().missed_sessions_max,
        help_text=SafetySettings._meta.get_field("missed_sessions_in_a_row").help_text,
    )
    on_call_users = forms.TypedMultipleChoiceField(
        label="On-call staff",
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="They are emailed about every new high or critical alert, and again when one escalates.",
    )
    on_call_emails = forms.CharField(
        label="Other email addresses",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, e.g. an on-call pager mailbox. Emails never contain patient names.",
    )

    def __init__(self, *args, members: list, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["on_call_users"].choices = [
            (user.pk, f"{user.display_name} ({user.email})") for user in members
        ]

    def emails(self) -> list[str]:
        raw = self.cleaned_data.get("on_call_emails", "")
        return [line.strip() for line in raw.replace(",", "\n").splitlines() if line.strip()]
