"""Forms for the setup pages. They parse shapes (numbers, dates, times, choices of this clinic); the services
decide the rest (level hours, who may facilitate, clashes) and the views put their refusals back on these
fields (clinic.forms.apply_errors)."""

from __future__ import annotations

from django import forms

from clinic.tenancy.roles import role_labels
from scheduling import levels, services
from scheduling.availability import WEEKDAYS
from scheduling.models import Program, Room, SessionSeries, SessionType

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M")
WEEKDAY_CHOICES = [(str(n), name) for n, name in enumerate(WEEKDAYS)]
INTERVAL_CHOICES = [
    ("1", "Every week"),
    ("2", "Every 2 weeks"),
    ("3", "Every 3 weeks"),
    ("4", "Every 4 weeks"),
]
GROUP_CAPACITY = 8


class ServiceModelForm(forms.ModelForm):
    """Parses only: the service validates the whole row, in its own words (one set of messages)."""

    def _post_clean(self) -> None:
        return None


# --- programs --------------------------------------------------------------------------------------------
class ProgramForm(ServiceModelForm):
    class Meta:
        model = Program
        fields = list(services.PROGRAM_FIELDS)
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        labels = {"is_active": "Active (offered for new enrolments and series)"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("hours_min", "hours_below"):
            self.fields[name].widget.attrs.update({"inputmode": "decimal", "step": "0.5", "min": "0"})
        level = self["level"].value() or self.instance.level
        audience = self["audience"].value() or self.instance.audience or "adult"
        if (level, audience) in levels.table():
            ref = levels.level_hours(level, audience)
            self.fields["hours_min"].help_text = _hours_help("at least", ref.hours_min, ref)
            self.fields["hours_below"].help_text = _hours_help("fewer than", ref.hours_below, ref)


def _hours_help(words: str, value, ref: levels.LevelHours) -> str:
    who = "adolescents" if ref.audience == "adolescent" else "adults"
    if value is None:
        bound = "sets no minimum" if words == "at least" else "sets no ceiling"
        return f"{ref.label} for {who} {bound}; leave empty or narrow it."
    return f"{ref.label} for {who}: {words} {value.normalize():f} hours a week."


def program_initial(level: str, audience: str) -> dict:
    """A new program's form starts from its level's weekly hours."""
    if (level, audience) not in levels.table():
        level, audience = "iop", "adult"
    return {"level": level, "audience": audience, **services.program_defaults(level, audience)}


# --- rooms -----------------------------------------------------------------------------------------------
class RoomForm(ServiceModelForm):
    telehealth_url = forms.URLField(label="Video link", required=False, max_length=500, assume_scheme="https")

    class Meta:
        model = Room
        fields = list(services.ROOM_FIELDS)
        labels = {
            "capacity": "Seats",
            "is_telehealth": "Telehealth (a video link, not a physical room)",
            "is_active": "Active (offered for new series)",
        }
        help_texts = {"capacity": "How many people fit; leave empty if it does not matter."}


# --- series ----------------------------------------------------------------------------------------------
class StaffChoiceField(forms.ModelChoiceField):
    """A staff member, shown with their roles (who may facilitate what depends on the role)."""

    def __init__(self, *args, roles: dict | None = None, **kwargs) -> None:
        self.roles = roles or {}
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj) -> str:
        roles = ", ".join(role_labels(self.roles.get(obj.pk, [])))
        return f"{obj.display_name} ({roles})" if roles else obj.display_name


class SessionTypeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: SessionType) -> str:
        return f"{obj.name} ({obj.get_kind_display().lower()}, {obj.default_minutes} min)"


def _staff_field(staff, memberships, **kwargs) -> StaffChoiceField:
    roles = {m.user_id: m.roles for m in memberships}
    return StaffChoiceField(queryset=staff, roles=roles, empty_label="Choose a person", **kwargs)


class SeriesForm(forms.Form):
    session_type = SessionTypeChoiceField(
        queryset=SessionType.objects.none(), label="Session type", empty_label="Choose a session type"
    )
    title = forms.CharField(
        max_length=120, required=False, help_text="Leave empty to use the session type's name."
    )
    program = forms.ModelChoiceField(
        queryset=Program.objects.none(), required=False, empty_label="Not part of a program"
    )
    facilitator = StaffChoiceField(queryset=None)
    room = forms.ModelChoiceField(queryset=Room.objects.none(), required=False, empty_label="No room")
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAY_CHOICES, coerce=int, widget=forms.CheckboxSelectMultiple, label="Days"
    )
    start_time = forms.TimeField(widget=TIME, label="Starts at")
    minutes = forms.IntegerField(
        min_value=5,
        max_value=720,
        required=False,
        label="Length (minutes)",
        help_text="Leave empty for the session type's usual length.",
    )
    interval = forms.TypedChoiceField(choices=INTERVAL_CHOICES, coerce=int, initial="1", label="Repeats")
    starts_on = forms.DateField(widget=DATE, label="First day")
    ends_on = forms.DateField(
        widget=DATE, required=False, label="Last day", help_text="Leave empty to keep it running."
    )
    capacity = forms.IntegerField(
        min_value=1,
        max_value=200,
        required=False,
        label="Places",
        help_text=f"Leave empty: {GROUP_CAPACITY} for a group, 1 for an individual session.",
    )

    def __init__(self, *args, staff, memberships, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["session_type"].queryset = SessionType.objects.filter(is_active=True)
        self.fields["program"].queryset = Program.objects.filter(is_active=True)
        self.fields["room"].queryset = Room.objects.filter(is_active=True)
        self.fields["facilitator"] = _staff_field(staff, memberships, label="Facilitator")

    def clean(self) -> dict:
        data = super().clean()
        kind: SessionType | None = data.get("session_type")
        if kind is not None:
            data["title"] = (data.get("title") or "").strip() or kind.name
            if data.get("minutes") is None:
                data["minutes"] = kind.default_minutes
            if data.get("capacity") is None:
                data["capacity"] = 1 if kind.kind == SessionType.Kind.INDIVIDUAL else GROUP_CAPACITY
        room: Room | None = data.get("room")
        data["telehealth_url"] = room.telehealth_url if room is not None and room.is_telehealth else ""
        return data


class SeriesFollowingForm(forms.Form):
    """ "Change this and following": the series as it is, from a date on, with a new time, length, room or
    facilitator. Starts filled in with the series' current values."""

    from_date = forms.DateField(widget=DATE, label="From")
    start_time = forms.TimeField(widget=TIME, label="Starts at")
    minutes = forms.IntegerField(min_value=5, max_value=720, label="Length (minutes)")
    room = forms.ModelChoiceField(queryset=Room.objects.none(), required=False, empty_label="No room")
    facilitator = StaffChoiceField(queryset=None)

    def __init__(self, *args, series: SessionSeries, staff, memberships, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.series = series
        rooms = Room.objects.filter(is_active=True)
        if series.room_id:
            rooms = Room.objects.filter(pk=series.room_id) | rooms
        self.fields["room"].queryset = rooms.order_by("name")
        self.fields["facilitator"] = _staff_field(staff, memberships, label="Facilitator")

    def changes(self) -> dict:
        """The fields that differ from the series now (the service is told only those)."""
        data, series = self.cleaned_data, self.series
        changed = {}
        for name in ("start_time", "minutes", "room", "facilitator"):
            if data.get(name) != getattr(series, name):
                changed[name] = data.get(name)
        if "room" in changed:
            room = changed["room"]
            changed["telehealth_url"] = room.telehealth_url if room is not None and room.is_telehealth else ""
        return changed

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors and not self.changes():
            raise forms.ValidationError(
                "Nothing is different from the series now: change the time, length, room or facilitator."
            )
        return data


class SeriesEndForm(forms.Form):
    last_day = forms.DateField(
        widget=DATE, label="Last day", help_text="Sessions after this day are removed."
    )


# --- availability ----------------------------------------------------------------------------------------
class AvailabilityForm(forms.Form):
    staff = StaffChoiceField(queryset=None)
    weekday = forms.TypedChoiceField(choices=WEEKDAY_CHOICES, coerce=int, label="Day")
    start_time = forms.TimeField(widget=TIME, label="From")
    end_time = forms.TimeField(widget=TIME, label="Until")

    def __init__(self, *args, staff, memberships, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["staff"] = _staff_field(staff, memberships, label="Staff member")
