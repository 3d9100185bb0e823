"""Forms of the calendar and booking pages. They check shapes (dates, numbers, choices of this clinic);
scheduling.services decides the rest and the views put its refusals back on these fields (apply_errors).
Querysets are set per request (the tenant manager needs the clinic in scope)."""

from __future__ import annotations

import datetime as dt
import uuid

from django import forms

from clinic.accounts.models import User
from clinic.tenancy.context import require_clinic
from scheduling import selectors_calendar as calendar
from scheduling.models import Occurrence, Program, Room, SessionSeries, SessionType

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M")
REASON = {"max_length": 300, "widget": forms.TextInput(attrs={"autocomplete": "off"})}


def when(occurrence: Occurrence) -> str:
    """'Mon Dec 7, 10:00 AM' in the clinic's time (the request runs in its zone)."""
    from django.utils import timezone

    local = timezone.localtime(occurrence.starts_at)
    return f"{local:%a %b} {local.day}, {local:%-I:%M %p}"


class ConfirmMixin(forms.Form):
    """`confirm` carries the fingerprint of the authorization warnings the person chose to book past."""

    confirm = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)


class CalendarFilterForm(forms.Form):
    facilitator = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Facilitator")
    room = forms.ChoiceField(required=False, label="Room")
    program = forms.ChoiceField(required=False, label="Program")

    def __init__(self, *args, choices: dict[str, list], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["facilitator"].choices = [("", "Everyone")] + [
            (u.pk, u.display_name) for u in choices["facilitators"]
        ]
        self.fields["room"].choices = [("", "Every room")] + [(str(r.pk), r.name) for r in choices["rooms"]]
        self.fields["program"].choices = [("", "Every program")] + [
            (str(p.pk), p.name) for p in choices["programs"]
        ]

    def selected(self) -> calendar.CalendarFilter:
        if not self.is_valid():  # an unknown id in the URL shows everything rather than failing
            return calendar.CalendarFilter()
        data = self.cleaned_data
        return calendar.CalendarFilter(
            facilitator=data["facilitator"], room=data["room"] or None, program=data["program"] or None
        )


class PatientChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.last_name}, {obj.first_name} ({obj.mrn})"


class BookForm(ConfirmMixin):
    """Any bookable patient validates; the list shows only `offered` (the search's matches) and the
    patient already chosen, so the page never lists the clinic's census."""

    patient = PatientChoiceField(queryset=None, label="Patient", empty_label="Choose a patient")

    def __init__(self, *args, occurrence: Occurrence, offered: list, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["patient"]
        field.queryset = calendar.bookable_patients(occurrence)
        chosen = self.data.get(self.add_prefix("patient")) if self.is_bound else None
        shown = list(offered)
        if chosen and all(str(p.pk) != str(chosen) for p in shown):
            shown = list(field.queryset.filter(pk=chosen)) + shown if _is_uuid(chosen) else shown
        field.widget.choices = [("", field.empty_label)] + [
            (p.pk, field.label_from_instance(p)) for p in shown
        ]
        self.offered = shown


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


class OccurrenceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Occurrence) -> str:
        room = f" · {obj.room.name}" if obj.room_id else ""
        full = " · full (waitlist)" if obj.n_booked >= obj.capacity else ""
        return f"{when(obj)} · {obj.title}{room} · {obj.n_booked}/{obj.capacity} booked{full}"


class PatientBookForm(ConfirmMixin):
    occurrence = OccurrenceChoiceField(queryset=None, label="Session")

    def __init__(self, *args, patient, today: dt.date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["occurrence"].queryset = calendar.upcoming_for_booking(patient, today)


class BookingCancelForm(forms.Form):
    reason = forms.CharField(label="Reason", help_text="For example: the patient called to cancel.", **REASON)


class MoveForm(forms.Form):
    date = forms.DateField(widget=DATE, label="New date")
    time = forms.TimeField(widget=TIME, label="Start time", help_text="Clinic time.")
    minutes = forms.IntegerField(min_value=5, max_value=720, label="Length (minutes)")
    room = forms.ModelChoiceField(
        queryset=None, required=False, label="Room", empty_label="No room (telehealth or elsewhere)"
    )

    def __init__(self, *args, today: dt.date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["room"].queryset = Room.objects.filter(is_active=True)

    def clean_date(self) -> dt.date:
        day = self.cleaned_data["date"]
        if day < self.today:
            raise forms.ValidationError("Choose today or a later date.")
        return day


class OccurrenceCancelForm(forms.Form):
    reason = forms.CharField(
        label="Why is the session cancelled?", help_text="Participants may be told this.", **REASON
    )


class SeriesChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: SessionSeries) -> str:
        days = ", ".join(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[d] for d in sorted(obj.weekdays))
        return f"{obj.program.name}: {obj.title} ({days}, {obj.start_time:%-I:%M %p})"


class EnrolForm(ConfirmMixin):
    program = forms.ModelChoiceField(queryset=None, label="Program")
    starts_on = forms.DateField(widget=DATE, label="Start date")
    planned_step_down_on = forms.DateField(widget=DATE, required=False, label="Planned step-down")
    series = SeriesChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Sessions to join",
        help_text="Leave all unticked to join every session of the program.",
    )

    def __init__(self, *args, today: dt.date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.filter(is_active=True)
        self.fields["series"].queryset = calendar.series_choices(today)

    def clean(self) -> dict:
        data = super().clean()
        program, chosen = data.get("program"), data.get("series")
        if program and chosen:
            other = [s.title for s in chosen if s.program_id != program.pk]
            if other:
                self.add_error("series", f"Not sessions of {program.name}: {', '.join(other)}.")
        return data


class EnrolmentEndForm(forms.Form):
    ended_on = forms.DateField(widget=DATE, label="Last day in the program")
    reason = forms.CharField(label="Reason", help_text="For example: stepped down to outpatient.", **REASON)


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.display_name


class NewSessionForm(ConfirmMixin):
    """A one-off session for one patient (an individual therapy hour, a psychiatry visit)."""

    session_type = forms.ModelChoiceField(queryset=None, label="Kind of session")
    facilitator = StaffChoiceField(queryset=None, label="With")
    date = forms.DateField(widget=DATE, label="Date")
    time = forms.TimeField(widget=TIME, label="Start time", help_text="Clinic time.")
    minutes = forms.IntegerField(
        min_value=5,
        max_value=720,
        required=False,
        label="Length (minutes)",
        help_text="Leave empty for the usual length of this kind of session.",
    )
    room = forms.ModelChoiceField(
        queryset=None, required=False, label="Room", empty_label="No room (telehealth or elsewhere)"
    )

    def __init__(self, *args, today: dt.date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["session_type"].queryset = SessionType.objects.filter(
            is_active=True, kind=SessionType.Kind.INDIVIDUAL
        ).order_by("name")
        self.fields["facilitator"].queryset = User.objects.filter(
            memberships__clinic=require_clinic(), memberships__is_active=True
        ).order_by("full_name", "email")
        self.fields["room"].queryset = Room.objects.filter(is_active=True)

    def clean_date(self) -> dt.date:
        day = self.cleaned_data["date"]
        if day < self.today:
            raise forms.ValidationError("Choose today or a later date.")
        return day
