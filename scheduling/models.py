"""Programs per level of care, session types, rooms, recurring session series and their materialised
occurrences, enrolments, bookings with attendance, and the signed group/individual notes.

Rows are written only by scheduling.services. Occurrences are real rows for a rolling horizon (a roster, a
cancellation or a moved session is a row, not a rule exception). Postgres refuses double booking itself:
exclusion constraints over half-open `tstzrange(starts_at, ends_at, '[)')` for the facilitator, the room and
the patient, so back-to-back sessions are fine and a race between two bookings cannot slip through.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, RangeBoundary, RangeOperators
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Func, Q

from clinic.tenancy.models import TenantModel
from patients.models import LEVEL_CHOICES, CareEpisode, Patient

HOURS = {"max_digits": 4, "decimal_places": 1, "null": True, "blank": True}


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = models.DateTimeField()  # only used inside the constraint expression


def _span() -> TsTzRange:
    return TsTzRange("starts_at", "ends_at", RangeBoundary())  # '[)': back-to-back does not clash


class Audience(models.TextChoices):
    ADULT = "adult", "Adults"
    ADOLESCENT = "adolescent", "Adolescents"


class Program(TenantModel):
    """A track at one level of care ("IOP evening") with its weekly hours requirement: at least
    `hours_min` and fewer than `hours_below` hours a week (either may be unset)."""

    name = models.CharField(max_length=120)
    level = models.CharField(max_length=8, choices=LEVEL_CHOICES)
    audience = models.CharField(max_length=12, choices=Audience.choices, default=Audience.ADULT)
    hours_min = models.DecimalField("At least (hours a week)", **HOURS)
    hours_below = models.DecimalField("Fewer than (hours a week)", **HOURS)
    description = models.TextField(blank=True, max_length=2000)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["level", "name"]
        constraints = [models.UniqueConstraint(fields=["clinic", "name"], name="program_name_unique")]
        # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
        indexes = [models.Index(fields=["clinic", "level", "name", "id"], name="program_clinic_order")]

    def __str__(self) -> str:
        return self.name


class SessionType(TenantModel):
    """A kind of session (DBT skills group, individual therapy…), installed per clinic from
    scheduling/data/session_types.json and editable by the clinic."""

    class Kind(models.TextChoices):
        GROUP = "group", "Group"
        INDIVIDUAL = "individual", "Individual"

    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    default_minutes = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(5), MaxValueValidator(720)]
    )
    billing_hint = models.CharField(max_length=300, blank=True)
    facilitator_roles = ArrayField(models.CharField(max_length=20), default=list)
    counts_toward_hours = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["clinic", "code"], name="sessiontype_code_unique")]

    def __str__(self) -> str:
        return self.name


class Room(TenantModel):
    name = models.CharField(max_length=80)
    capacity = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(500)])
    is_telehealth = models.BooleanField(default=False)
    telehealth_url = models.URLField(blank=True, max_length=500)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["clinic", "name"], name="room_name_unique")]

    def __str__(self) -> str:
        return self.name


class Availability(TenantModel):
    """When a clinician is available for sessions, per weekday (local time)."""

    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    weekday = models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)])  # 0 = Monday
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["weekday", "start_time"]
        indexes = [models.Index(fields=["clinic", "staff", "weekday"], name="availability_staff")]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=models.F("start_time")), name="availability_order"
            )
        ]


class SessionSeries(TenantModel):
    """A weekly pattern (RRULE) in the clinic's time zone; its occurrences are materialised ahead."""

    program = models.ForeignKey(
        Program, null=True, blank=True, on_delete=models.PROTECT, related_name="series"
    )
    session_type = models.ForeignKey(SessionType, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=120)
    facilitator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(Room, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    telehealth_url = models.URLField(blank=True, max_length=500)
    weekdays = ArrayField(models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)]))
    start_time = models.TimeField()
    minutes = models.PositiveSmallIntegerField(validators=[MinValueValidator(5), MaxValueValidator(720)])
    interval = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(4)]
    )
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    # The Monday the interval counts from, kept when a series is split so every-2-weeks stays in phase.
    phase_from = models.DateField(null=True, blank=True)
    rrule = models.CharField(max_length=200)  # RFC 5545, derived: for iCal and the API
    capacity = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(200)])
    materialised_through = models.DateField(null=True, blank=True)
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next"
    )  # "this and following" edits end a series and start its continuation

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "session series"
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="series_clinic_created"),
            models.Index(fields=["clinic", "materialised_through"], name="series_horizon"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")), name="series_dates"
            )
        ]

    def __str__(self) -> str:
        return self.title


class Occurrence(TenantModel):
    """One session at one time: a materialised occurrence of a series, or a one-off (individual) session."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        CANCELLED = "cancelled", "Cancelled"

    series = models.ForeignKey(
        SessionSeries, null=True, blank=True, on_delete=models.PROTECT, related_name="occurrences"
    )
    # The series' own start for this occurrence: materialising twice finds it (unique), and a moved
    # occurrence is still "the Monday 6 pm of 4 January".
    series_slot = models.DateTimeField(null=True, blank=True)
    program = models.ForeignKey(Program, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    session_type = models.ForeignKey(SessionType, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=120)
    facilitator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(Room, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    telehealth_url = models.URLField(blank=True, max_length=500)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    local_date = models.DateField()  # in the clinic's zone: day and week views, hours per week
    capacity = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(200)])
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    cancel_reason = models.CharField(max_length=300, blank=True)
    detached = models.BooleanField(default=False)  # edited on its own: a series edit leaves it alone

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["clinic", "starts_at", "id"], name="occurrence_time"),
            models.Index(fields=["clinic", "facilitator", "starts_at"], name="occurrence_facilitator"),
            models.Index(fields=["clinic", "room", "starts_at"], name="occurrence_room"),
            models.Index(fields=["clinic", "program", "starts_at"], name="occurrence_program"),
            models.Index(fields=["clinic", "series", "starts_at"], name="occurrence_series"),
            models.Index(fields=["clinic", "updated_at", "id"], name="occurrence_updated"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="occurrence_order"),
            models.UniqueConstraint(
                fields=["clinic", "series", "series_slot"],
                condition=Q(series__isnull=False),
                name="occurrence_series_slot",
            ),
            ExclusionConstraint(
                name="occurrence_no_facilitator_clash",
                expressions=[
                    ("clinic", RangeOperators.EQUAL),
                    ("facilitator", RangeOperators.EQUAL),
                    (_span(), RangeOperators.OVERLAPS),
                ],
                condition=Q(status="scheduled"),
                violation_error_code="facilitator_clash",
            ),
            ExclusionConstraint(
                name="occurrence_no_room_clash",
                expressions=[
                    ("clinic", RangeOperators.EQUAL),
                    ("room", RangeOperators.EQUAL),
                    (_span(), RangeOperators.OVERLAPS),
                ],
                condition=Q(status="scheduled", room__isnull=False),
                violation_error_code="room_clash",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def is_group(self) -> bool:
        return self.session_type.kind == SessionType.Kind.GROUP

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


class Enrolment(TenantModel):
    """A patient in a program from a date, with the planned step-down; one open enrolment per patient."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="enrolments")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="enrolments")
    episode = models.ForeignKey(
        CareEpisode, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    starts_on = models.DateField()
    planned_step_down_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-starts_on", "-created_at"]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="enrolment_clinic_created"),
            models.Index(fields=["clinic", "program", "starts_on"], name="enrolment_program"),
            models.Index(fields=["clinic", "patient", "starts_on"], name="enrolment_patient"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "patient"], condition=Q(ended_on__isnull=True), name="enrolment_one_open"
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("starts_on")),
                name="enrolment_dates",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program} from {self.starts_on}"


class SeriesMember(TenantModel):
    """A patient on a series' roster from a date: materialising books members into new occurrences."""

    series = models.ForeignKey(SessionSeries, on_delete=models.PROTECT, related_name="members")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    enrolment = models.ForeignKey(
        Enrolment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_date = models.DateField()
    until_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["from_date"]
        indexes = [models.Index(fields=["clinic", "series", "from_date"], name="member_series")]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "series", "patient"],
                condition=Q(until_date__isnull=True),
                name="member_one_open",
            )
        ]


class Attendance(models.TextChoices):
    PRESENT = "present", "Present"
    LATE = "late", "Late"
    LEFT_EARLY = "left_early", "Left early"
    ABSENT = "absent", "Absent"
    EXCUSED = "excused", "Excused"
    CANCELLED_BY_CLINIC = "clinic_cancelled", "Cancelled by clinic"


ATTENDED = (Attendance.PRESENT, Attendance.LATE, Attendance.LEFT_EARLY)


class Booking(TenantModel):
    """A patient in one occurrence: booked or waitlisted, then their attendance and their own note line."""

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        WAITLISTED = "waitlisted", "Waitlisted"
        CANCELLED = "cancelled", "Cancelled"

    occurrence = models.ForeignKey(Occurrence, on_delete=models.PROTECT, related_name="bookings")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="bookings")
    enrolment = models.ForeignKey(
        Enrolment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOOKED)
    waitlisted_at = models.DateTimeField(null=True, blank=True)
    # The occurrence's time, copied so Postgres can refuse a patient in two places at once.
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    attendance = models.CharField(max_length=16, choices=Attendance.choices, blank=True)
    minutes_attended = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(720)]
    )
    note_line = models.TextField(blank=True, max_length=4000)  # individualised: never a copy of another's
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(null=True, blank=True)
    # The day-before reminder: a call from the front desk, or a message by the configured transport.
    reminded_at = models.DateTimeField(null=True, blank=True)
    reminded_via = models.CharField(max_length=12, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["clinic", "patient", "starts_at"], name="booking_patient"),
            models.Index(fields=["clinic", "occurrence", "status"], name="booking_occurrence"),
            models.Index(fields=["clinic", "updated_at", "id"], name="booking_updated"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "occurrence", "patient"], name="booking_once"),
            ExclusionConstraint(
                name="booking_no_patient_clash",
                expressions=[
                    ("clinic", RangeOperators.EQUAL),
                    ("patient", RangeOperators.EQUAL),
                    (_span(), RangeOperators.OVERLAPS),
                ],
                condition=Q(status="booked"),
                violation_error_code="patient_clash",
            ),
        ]

    @property
    def attended(self) -> bool:
        return self.attendance in ATTENDED


class SessionNote(TenantModel):
    """The facilitator's note for one occurrence (the group summary); with each participant's own line on
    their booking. Signed once, then locked: changes are amendments."""

    occurrence = models.OneToOneField(Occurrence, on_delete=models.PROTECT, related_name="note")
    summary = models.TextField(blank=True, max_length=8000)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    # What was signed (summary and every participant's line and attendance), as signed.
    signed_content = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["clinic", "signed_at"], name="sessionnote_signed")]

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None


class NoteAmendment(TenantModel):
    """Appended to a signed note; never edited."""

    note = models.ForeignKey(SessionNote, on_delete=models.PROTECT, related_name="amendments")
    booking = models.ForeignKey(Booking, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(max_length=4000)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["clinic", "note", "created_at"], name="amendment_note")]


class CalendarFeed(TenantModel):
    """A staff member's private iCal subscription to the sessions they facilitate (/feeds/<token>.ics).

    The URL's token is shown once when the feed is made; only its SHA-256 is kept (as for API tokens), so a
    database copy cannot be turned into working feed links. The token starts with the clinic's id, which
    the feed view enters before it looks the hash up (row-level security). Revoked feeds answer 404."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    token_hash = models.CharField(max_length=64, editable=False)
    token_prefix = models.CharField(max_length=16, editable=False)  # to tell feeds apart in a list
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="calendarfeed_clinic_created"),
            models.Index(fields=["clinic", "user", "revoked_at"], name="calendarfeed_user"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "token_hash"], name="calendarfeed_token_unique")
        ]

    def __str__(self) -> str:
        return f"Calendar feed {self.token_prefix}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
