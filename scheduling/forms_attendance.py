"""Forms of the attendance page: one row per participant (prefixed by the booking), the group summary and
an amendment. They only parse; scheduling.attendance checks the rules (minutes, copied lines) and says why."""

from __future__ import annotations

from django import forms

from scheduling.models import Attendance

STATUS_CHOICES = [("", "Not recorded")] + [(v, label) for v, label in Attendance.choices]


class AttendanceRowForm(forms.Form):
    attendance = forms.ChoiceField(label="Attendance", choices=STATUS_CHOICES, required=False)
    minutes = forms.IntegerField(label="Minutes attended", required=False, min_value=0, max_value=720)
    note_line = forms.CharField(
        label="Note about this participant",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def row(self) -> dict:
        data = self.cleaned_data
        return {"attendance": data["attendance"], "minutes": data["minutes"], "note_line": data["note_line"]}


class SummaryForm(forms.Form):
    summary = forms.CharField(
        label="Group summary: what the session covered",
        required=False,
        max_length=8000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="About the session, not about any one participant; each participant's line is below.",
    )


class AmendForm(forms.Form):
    booking = forms.ChoiceField(label="About", required=False)
    text = forms.CharField(label="Amendment", max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, bookings=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["booking"].choices = [("", "The whole session")] + [
            (str(b.pk), b.patient.display_name) for b in bookings
        ]
