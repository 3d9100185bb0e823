"""Scheduling over REST, for EHRs that show or book the program's sessions, and staff calendar feeds.

Writes go through scheduling.services (and scheduling.attendance), so the API refuses exactly what the pages
refuse and every write is audited there; reads are audited by the base class. Times are ISO 8601 with the
clinic's UTC offset (e.g. 2026-01-05T18:00:00-05:00); a time sent without an offset is refused, never
guessed. A refusal about a field is a 400 problem with `errors`; a refusal about the schedule itself (a
facilitator, a room or a patient already elsewhere at that time, a session already cancelled) is a 409
problem whose `errors.non_field_errors` says what is in the way.

* `/programs/` — the tracks per level of care: list, read.
* `/session-series/` — weekly groups: list, read, create (its sessions for the next 56 days are created
  with it, all or nothing: one clash refuses the whole series, naming the first).
* `/occurrences/` — single sessions: list (`from`/`to` clinic dates, `updated_since`, `facilitator`,
  `program`, `series`, `status`), read; `/occurrences/{id}/cancel/` and `/move/` answer GET with whether
  the change is possible now and make it on POST.
* `/enrolments/` — a patient in a program: list, read, create (books them into the program's series),
  `/enrolments/{id}/end/`.
* `/bookings/` — a patient in a session: list, read, create (a full session puts them on its waitlist:
  201 with `status: waitlisted`), `/bookings/{id}/cancel/` (the first on the waitlist takes the place)
  and `/bookings/{id}/attendance/`.
* `/calendar-feeds/` — private iCal links (/feeds/<token>.ics) to the sessions a person facilitates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.authentication import ApiPrincipal
from api.base import ClinicViewSet
from api.lookups import resolve_in_clinic
from api.pagination import StableCursorPagination, SyncCursorPagination
from clinic.tenancy.context import clinic_today, require_clinic
from clinic.tenancy.models import Membership
from clinic.tenancy.roles import Perm
from patients.models import Patient
from scheduling import attendance as attendance_service
from scheduling import feeds, services
from scheduling.models import (
    Attendance,
    Booking,
    CalendarFeed,
    Enrolment,
    Occurrence,
    Program,
    Room,
    SessionSeries,
    SessionType,
)

ATTENDANCE_CATEGORIES = ("attendance",)  # what a read of bookings discloses (Part 2 consent category)
MOVE_REACH = dt.timedelta(days=730)  # a session moved further than this is a typing mistake


class ScheduleConflict(serializers.ValidationError):
    """409: the schedule does not allow it (a clash, a cancelled session, an ended enrolment…)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "schedule_conflict"


@contextmanager
def refusals(*, conflict: bool = True):
    """A service's refusal as a problem: about fields → 400 on them; about the schedule itself → 409 (or a
    400 where the service's sentences are about the values sent, `conflict=False`)."""
    try:
        yield
    except DjangoValidationError as error:
        if hasattr(error, "error_dict"):
            raise serializers.ValidationError(error.message_dict) from error
        refusal = ScheduleConflict if conflict else serializers.ValidationError
        raise refusal({"non_field_errors": error.messages}) from error


# --- fields ------------------------------------------------------------------------------------------------
class ClinicDateTimeField(serializers.DateTimeField):
    """Out: in the clinic's zone, with its offset. In: ISO 8601 with an offset (or Z), else 400."""

    def default_timezone(self):
        return ZoneInfo(require_clinic().timezone)

    def to_internal_value(self, value):
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if isinstance(value, str) and parsed is not None and parsed.tzinfo is None:
            raise serializers.ValidationError(
                "Give the time with its UTC offset, e.g. 2026-01-05T18:00:00-05:00."
            )
        return super().to_internal_value(value)


class StaffField(serializers.IntegerField):
    """A staff member by user id; someone who is not on this clinic's staff is unknown (same message)."""

    def to_internal_value(self, data):
        pk = super().to_internal_value(data)
        if not 1 <= pk < 2**63:  # a bigint: a larger id is unknown (400), never a database error
            raise serializers.ValidationError(f"No staff member with id {pk} in this clinic.")
        member = (
            Membership.objects.active().filter(clinic=require_clinic(), user_id=pk).select_related("user")
        )
        found = member.first()
        if found is None:
            raise serializers.ValidationError(f"No staff member with id {pk} in this clinic.")
        return found.user

    def to_representation(self, value):
        return getattr(value, "pk", value)


def _resolve(data: dict, links: tuple[tuple[str, type], ...]) -> dict:
    """Ids in the body (`name` → `name_id`) replaced by the clinic's records; unknown ids are 400s."""
    errors: dict = {}
    for name, model in links:
        key = f"{name}_id"
        if key not in data:
            continue
        pk = data.pop(key)
        try:
            data[name] = None if pk is None else resolve_in_clinic(model, pk, name)
        except serializers.ValidationError as error:
            errors.update(error.detail)
    if errors:
        raise serializers.ValidationError(errors)
    return data


# --- summaries -----------------------------------------------------------------------------------------
class SessionTypeSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = SessionType
        fields = ("id", "code", "name", "kind", "counts_toward_hours")
        read_only_fields = fields


class RoomSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Room
        fields = ("id", "name", "capacity", "is_telehealth")
        read_only_fields = fields


class StaffSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)


class ActionCheckSerializer(serializers.Serializer):
    action = serializers.CharField()
    allowed = serializers.BooleanField()
    problem = serializers.CharField(allow_blank=True, help_text="Why not, when not allowed.")
    requires = serializers.ListField(child=serializers.CharField(), help_text="The body fields it takes.")


def _check(name: str, problem: str | None, requires: list[str]) -> Response:
    body = {"action": name, "allowed": not problem, "problem": problem or "", "requires": requires}
    return Response(ActionCheckSerializer(body).data)


# --- programs ----------------------------------------------------------------------------------------------
class ProgramSerializer(serializers.ModelSerializer):
    level_label = serializers.CharField(source="get_level_display", read_only=True)

    class Meta:
        model = Program
        fields = (
            "id",
            "name",
            "level",
            "level_label",
            "audience",
            "hours_min",
            "hours_below",
            "description",
            "is_active",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class ProgramFilter(django_filters.FilterSet):
    level = django_filters.CharFilter()
    is_active = django_filters.BooleanFilter()
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Program
        fields: tuple = ()


class ProgramPagination(StableCursorPagination):
    ordering = ("level", "name", "id")


class ProgramViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicViewSet):
    model = Program
    serializer_class = ProgramSerializer
    filterset_class = ProgramFilter
    pagination_class = ProgramPagination
    patient_lookup = None
    action_perms = {"list": Perm.SCHEDULE_VIEW, "retrieve": Perm.SCHEDULE_VIEW}


# --- session series ------------------------------------------------------------------------------------
SERIES_LINKS = (("program", Program), ("session_type", SessionType), ("room", Room))


class SessionSeriesSerializer(serializers.ModelSerializer):
    program = serializers.UUIDField(source="program_id", required=False, allow_null=True)
    session_type = serializers.UUIDField(source="session_type_id", help_text="A session type of the clinic.")
    session_type_summary = SessionTypeSummarySerializer(source="session_type", read_only=True)
    facilitator = StaffField(help_text="The user id of a staff member whose role may run this session type.")
    facilitator_summary = StaffSummarySerializer(source="facilitator", read_only=True)
    room = serializers.UUIDField(source="room_id", required=False, allow_null=True)
    room_summary = RoomSummarySerializer(source="room", read_only=True, allow_null=True)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        min_length=1,
        max_length=7,
        help_text="0 = Monday … 6 = Sunday, in the clinic's time zone.",
    )
    start_time = serializers.TimeField(help_text="Local time in the clinic's zone, e.g. 18:00.")

    class Meta:
        model = SessionSeries
        fields = (
            "id",
            "program",
            "session_type",
            "session_type_summary",
            "title",
            "facilitator",
            "facilitator_summary",
            "room",
            "room_summary",
            "telehealth_url",
            "weekdays",
            "start_time",
            "minutes",
            "interval",
            "starts_on",
            "ends_on",
            "capacity",
            "rrule",
            "materialised_through",
            "previous",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "rrule", "materialised_through", "previous", "created_at", "updated_at")
        validators: list = []

    def create(self, validated_data):
        fields = _resolve(dict(validated_data), SERIES_LINKS)
        with refusals():
            return services.series_create(actor=self.context["request"].user, fields=fields)


class SeriesFilter(django_filters.FilterSet):
    program = django_filters.UUIDFilter(field_name="program_id")
    facilitator = django_filters.NumberFilter(field_name="facilitator_id")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = SessionSeries
        fields: tuple = ()


class SessionSeriesViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ClinicViewSet
):
    model = SessionSeries
    serializer_class = SessionSeriesSerializer
    filterset_class = SeriesFilter
    patient_lookup = None
    action_perms = {
        "list": Perm.SCHEDULE_VIEW,
        "retrieve": Perm.SCHEDULE_VIEW,
        "create": Perm.SCHEDULE_MANAGE,
    }

    def refine_queryset(self, queryset):
        return queryset.select_related("session_type", "facilitator", "room")

    @extend_schema(
        responses={
            201: SessionSeriesSerializer,
            409: OpenApiResponse(description="A session of the series would clash; the first is named."),
        },
        summary="Create a weekly series and its sessions for the next 56 days",
    )
    def create(self, request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        series = serializer.save()
        fresh = self.get_queryset().get(pk=series.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_201_CREATED)


# --- occurrences ---------------------------------------------------------------------------------------
class OccurrenceSerializer(serializers.ModelSerializer):
    series = serializers.UUIDField(source="series_id", read_only=True, allow_null=True)
    series_slot = ClinicDateTimeField(read_only=True, allow_null=True)
    program = serializers.UUIDField(source="program_id", read_only=True, allow_null=True)
    session_type = SessionTypeSummarySerializer(read_only=True)
    facilitator = StaffSummarySerializer(read_only=True)
    room = RoomSummarySerializer(read_only=True, allow_null=True)
    starts_at = ClinicDateTimeField(read_only=True)
    ends_at = ClinicDateTimeField(read_only=True)
    minutes = serializers.IntegerField(read_only=True)
    booked = serializers.IntegerField(read_only=True, help_text="Patients booked (not waitlisted).")
    waitlisted = serializers.IntegerField(read_only=True)

    class Meta:
        model = Occurrence
        fields = (
            "id",
            "series",
            "series_slot",
            "program",
            "session_type",
            "title",
            "facilitator",
            "room",
            "telehealth_url",
            "starts_at",
            "ends_at",
            "local_date",
            "minutes",
            "capacity",
            "booked",
            "waitlisted",
            "status",
            "cancel_reason",
            "detached",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class OccurrenceFilter(django_filters.FilterSet):
    facilitator = django_filters.NumberFilter(field_name="facilitator_id")
    program = django_filters.UUIDFilter(field_name="program_id")
    series = django_filters.UUIDFilter(field_name="series_id")
    room = django_filters.UUIDFilter(field_name="room_id")
    status = django_filters.ChoiceFilter(choices=Occurrence.Status.choices)
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Occurrence
        fields: tuple = ()


# `from` is a Python keyword: declared after the class. Both are clinic dates, inclusive.
OccurrenceFilter.base_filters["from"] = django_filters.DateFilter(
    field_name="local_date", lookup_expr="gte", label="From this clinic date (inclusive)"
)
OccurrenceFilter.base_filters["to"] = django_filters.DateFilter(
    field_name="local_date", lookup_expr="lte", label="To this clinic date (inclusive)"
)


class OccurrencePagination(StableCursorPagination):
    """Time order on the (clinic, starts_at, id) index; a sync (`updated_since`) pages oldest change
    first on (clinic, updated_at, id) instead, so a session changed while paging is still reached."""

    ordering = ("starts_at", "id")

    def get_ordering(self, request, queryset, view):
        if request.query_params.get("updated_since"):
            return SyncCursorPagination.ordering
        return self.ordering


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text="Why (participants may be told).")


class MoveSerializer(serializers.Serializer):
    starts_at = ClinicDateTimeField(help_text="The new start, with its offset.")
    minutes = serializers.IntegerField(min_value=5, max_value=720, required=False)
    room = serializers.UUIDField(required=False, allow_null=True, help_text="Left out: keep; null: none.")
    facilitator = StaffField(required=False)

    def validate_starts_at(self, value: dt.datetime) -> dt.datetime:
        if abs(value - timezone.now()) > MOVE_REACH:
            raise serializers.ValidationError("Choose a time within two years of today.")
        return value


def _booking_count(status: str) -> Coalesce:
    bookings = Booking.objects.filter(occurrence=OuterRef("pk"), status=status).order_by()
    return Coalesce(Subquery(bookings.values("occurrence").annotate(n=Count("pk")).values("n")[:1]), 0)


class OccurrenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicViewSet):
    model = Occurrence
    serializer_class = OccurrenceSerializer
    filterset_class = OccurrenceFilter
    pagination_class = OccurrencePagination
    patient_lookup = None  # a session, not a patient's record (its bookings are)
    action_perms = {
        "list": Perm.SCHEDULE_VIEW,
        "retrieve": Perm.SCHEDULE_VIEW,
        "cancellation": Perm.SCHEDULE_VIEW,
        "cancel": Perm.SCHEDULE_MANAGE,
        "moving": Perm.SCHEDULE_VIEW,
        "move": Perm.SCHEDULE_MANAGE,
    }

    def refine_queryset(self, queryset):
        # The summaries and counts come with the rows: one query per page however many sessions. The counts
        # are per-row subqueries, not a join + GROUP BY: grouping aggregated (and sorted) every session of
        # the clinic before the page's LIMIT; now the page is read off the (clinic, starts_at, id) index.
        return queryset.select_related("session_type", "facilitator", "room").annotate(
            booked=_booking_count(Booking.Status.BOOKED),
            waitlisted=_booking_count(Booking.Status.WAITLISTED),
        )

    def _answer(self, occurrence: Occurrence) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=occurrence.pk)).data)

    @staticmethod
    def _cancel_problem(occurrence: Occurrence) -> str | None:
        if occurrence.status != Occurrence.Status.SCHEDULED:
            return "This session is already cancelled."
        note = getattr(occurrence, "note", None)
        if note is not None and note.is_signed:
            return "The note for this session is signed; it took place."
        return None

    @staticmethod
    def _move_problem(occurrence: Occurrence) -> str | None:
        if occurrence.status != Occurrence.Status.SCHEDULED:
            return "A cancelled session cannot be moved; book a new one."
        if hasattr(occurrence, "note"):
            return "Attendance was taken for this session; it stays where it was."
        return None

    @extend_schema(responses=ActionCheckSerializer, summary="Whether the session can be cancelled now")
    @action(detail=True, methods=["get"], url_path="cancel")
    def cancellation(self, request, pk=None, **kwargs) -> Response:
        return _check("cancel", self._cancel_problem(self.get_object()), ["reason"])

    @extend_schema(
        request=CancelSerializer, responses={200: OccurrenceSerializer}, summary="Cancel the session"
    )
    @cancellation.mapping.post
    def cancel(self, request, pk=None, **kwargs) -> Response:
        """Cancelled by the clinic: every participant's attendance says so. 409 when already cancelled."""
        occurrence = self.get_object()
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with refusals():
            services.occurrence_cancel(
                actor=request.user, occurrence=occurrence, reason=body.validated_data["reason"]
            )
        return self._answer(occurrence)

    @extend_schema(responses=ActionCheckSerializer, summary="Whether the session can be moved now")
    @action(detail=True, methods=["get"], url_path="move")
    def moving(self, request, pk=None, **kwargs) -> Response:
        problem = self._move_problem(self.get_object())
        return _check("move", problem, ["starts_at", "minutes", "room", "facilitator"])

    @extend_schema(
        request=MoveSerializer,
        responses={
            200: OccurrenceSerializer,
            409: OpenApiResponse(description="The facilitator, the room or a participant is busy then."),
        },
        summary="Move this session only (a new time, room or facilitator)",
    )
    @moving.mapping.post
    def move(self, request, pk=None, **kwargs) -> Response:
        occurrence = self.get_object()
        body = MoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        room: Room | str | None = "keep"
        if "room" in data:
            room = None if data["room"] is None else resolve_in_clinic(Room, data["room"], "room")
        with refusals():
            services.occurrence_move(
                actor=request.user,
                occurrence=occurrence,
                starts_at=data["starts_at"],
                minutes=data.get("minutes"),
                room=room,
                facilitator=data.get("facilitator"),
            )
        return self._answer(occurrence)


# --- enrolments ----------------------------------------------------------------------------------------
class EnrolmentSerializer(serializers.ModelSerializer):
    patient = serializers.UUIDField(source="patient_id")
    program = serializers.UUIDField(source="program_id")
    program_name = serializers.CharField(source="program.name", read_only=True)
    episode = serializers.UUIDField(source="episode_id", read_only=True, allow_null=True)
    starts_on = serializers.DateField(required=False, help_text="Defaults to today (clinic).")
    series = serializers.ListField(
        child=serializers.UUIDField(),
        write_only=True,
        required=False,
        max_length=50,
        help_text="The program's series to join; left out: all of them.",
    )
    reason = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500)

    class Meta:
        model = Enrolment
        fields = (
            "id",
            "patient",
            "program",
            "program_name",
            "episode",
            "starts_on",
            "planned_step_down_on",
            "ended_on",
            "end_reason",
            "series",
            "reason",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "episode", "ended_on", "end_reason", "created_at", "updated_at")
        validators: list = []

    def create(self, validated_data):
        data = dict(validated_data)
        errors: dict = {}
        found: dict[str, Any] = {}
        for name, model in (("patient", Patient), ("program", Program)):
            try:
                found[name] = resolve_in_clinic(model, data[f"{name}_id"], name)
            except serializers.ValidationError as error:
                errors.update(error.detail)
        chosen = None
        if "series" in data:
            chosen = list(SessionSeries.objects.filter(pk__in=data["series"]))
            if len(chosen) != len(set(data["series"])):
                errors["series"] = ["A series named is not one of this clinic's."]
        if errors:
            raise serializers.ValidationError(errors)
        with refusals():
            return services.enrolment_create(
                actor=self.context["request"].user,
                patient=found["patient"],
                program=found["program"],
                starts_on=data.get("starts_on") or clinic_today(),
                planned_step_down_on=data.get("planned_step_down_on"),
                series=chosen,
                reason=data.get("reason", ""),
            )


class EndEnrolmentSerializer(serializers.Serializer):
    ended_on = serializers.DateField(required=False, help_text="The last day; defaults to today (clinic).")
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class EnrolmentFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient_id")
    program = django_filters.UUIDFilter(field_name="program_id")
    open = django_filters.BooleanFilter(field_name="ended_on", lookup_expr="isnull", label="Not ended")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Enrolment
        fields: tuple = ()


class EnrolmentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ClinicViewSet
):
    model = Enrolment
    serializer_class = EnrolmentSerializer
    filterset_class = EnrolmentFilter
    action_perms = {
        "list": Perm.SCHEDULE_VIEW,
        "retrieve": Perm.SCHEDULE_VIEW,
        "create": Perm.SCHEDULE_BOOK,
        "ending": Perm.SCHEDULE_VIEW,
        "end": Perm.SCHEDULE_BOOK,
    }

    def refine_queryset(self, queryset):
        return queryset.select_related("program")

    def create(self, request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        enrolment = serializer.save()
        fresh = self.get_queryset().get(pk=enrolment.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=ActionCheckSerializer, summary="Whether the enrolment can be ended now")
    @action(detail=True, methods=["get"], url_path="end")
    def ending(self, request, pk=None, **kwargs) -> Response:
        enrolment = self.get_object()
        problem = "This enrolment has ended already." if enrolment.ended_on else None
        return _check("end", problem, ["ended_on", "reason"])

    @extend_schema(
        request=EndEnrolmentSerializer,
        responses={200: EnrolmentSerializer},
        summary="End the enrolment: off the program's rosters, later unrecorded bookings cancelled",
    )
    @ending.mapping.post
    def end(self, request, pk=None, **kwargs) -> Response:
        enrolment = self.get_object()
        body = EndEnrolmentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        with refusals():
            services.enrolment_end(
                actor=request.user,
                enrolment=enrolment,
                ended_on=data.get("ended_on") or clinic_today(),
                reason=data["reason"],
            )
        return Response(self.get_serializer(self.get_queryset().get(pk=enrolment.pk)).data)


# --- bookings ------------------------------------------------------------------------------------------
class BookingSerializer(serializers.ModelSerializer):
    occurrence = serializers.UUIDField(source="occurrence_id")
    patient = serializers.UUIDField(source="patient_id")
    enrolment = serializers.UUIDField(source="enrolment_id", required=False, allow_null=True)
    starts_at = ClinicDateTimeField(read_only=True)
    ends_at = ClinicDateTimeField(read_only=True)
    waitlisted_at = ClinicDateTimeField(read_only=True, allow_null=True)
    recorded_at = ClinicDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Booking
        # The participant's note line belongs to the session note and is not served here.
        fields = (
            "id",
            "occurrence",
            "patient",
            "enrolment",
            "status",
            "waitlisted_at",
            "starts_at",
            "ends_at",
            "attendance",
            "minutes_attended",
            "recorded_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = (
            "id",
            "status",
            "waitlisted_at",
            "attendance",
            "minutes_attended",
            "recorded_at",
            "created_at",
            "updated_at",
        )
        validators: list = []

    def create(self, validated_data):
        data = _resolve(
            dict(validated_data), (("occurrence", Occurrence), ("patient", Patient), ("enrolment", Enrolment))
        )
        with refusals():
            return services.booking_add(
                actor=self.context["request"].user,
                occurrence=data["occurrence"],
                patient=data["patient"],
                enrolment=data.get("enrolment"),
            )


class BookingCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class BookingCancelResultSerializer(serializers.Serializer):
    booking = BookingSerializer()
    promoted = BookingSerializer(
        allow_null=True, help_text="Who took the place from the waitlist, if anyone."
    )


class AttendanceSerializer(serializers.Serializer):
    attendance = serializers.ChoiceField(choices=Attendance.choices)
    minutes = serializers.IntegerField(
        required=False, allow_null=True, help_text="Minutes attended: needed for late or left early."
    )
    note_line = serializers.CharField(
        required=False, allow_blank=True, max_length=4000, help_text="This participant's own note line."
    )


class AttendanceResultSerializer(serializers.Serializer):
    booking = BookingSerializer()
    warnings = serializers.ListField(child=serializers.CharField())


class BookingFilter(django_filters.FilterSet):
    occurrence = django_filters.UUIDFilter(field_name="occurrence_id")
    patient = django_filters.UUIDFilter(field_name="patient_id")
    status = django_filters.ChoiceFilter(choices=Booking.Status.choices)
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Booking
        fields: tuple = ()


class BookingViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ClinicViewSet
):
    model = Booking
    serializer_class = BookingSerializer
    filterset_class = BookingFilter
    pagination_class = SyncCursorPagination
    disclosure_categories = ATTENDANCE_CATEGORIES
    action_perms = {
        "list": Perm.SCHEDULE_VIEW,
        "retrieve": Perm.SCHEDULE_VIEW,
        "create": Perm.SCHEDULE_BOOK,
        "cancellation": Perm.SCHEDULE_VIEW,
        "cancel": Perm.SCHEDULE_BOOK,
        "attendance_state": Perm.SCHEDULE_VIEW,
        "attendance": Perm.ATTENDANCE_RECORD,
    }

    def _data(self, booking: Booking | None):
        if booking is None:
            return None
        return self.get_serializer(self.get_queryset().get(pk=booking.pk)).data

    @extend_schema(
        responses={
            201: OpenApiResponse(
                BookingSerializer, description="Booked, or waitlisted when the session is full."
            ),
            409: OpenApiResponse(
                description="Cancelled session, already booked, or the patient is elsewhere."
            ),
        },
        summary="Book a patient into a session (a full session waitlists them)",
    )
    def create(self, request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        booking = serializer.save()
        return Response(self._data(booking), status=status.HTTP_201_CREATED)

    # --- cancel ----------------------------------------------------------------------------------------
    @extend_schema(responses=ActionCheckSerializer, summary="Whether the booking can be cancelled now")
    @action(detail=True, methods=["get"], url_path="cancel")
    def cancellation(self, request, pk=None, **kwargs) -> Response:
        booking = self.get_object()
        problem = None
        if booking.status == Booking.Status.CANCELLED:
            problem = "This booking is cancelled already."
        elif booking.attendance:
            problem = "Attendance is recorded for this booking; record it as excused instead."
        return _check("cancel", problem, ["reason"])

    @extend_schema(
        request=BookingCancelSerializer,
        responses={200: BookingCancelResultSerializer},
        summary="Take the patient out of the session; the first on the waitlist takes the place",
    )
    @cancellation.mapping.post
    def cancel(self, request, pk=None, **kwargs) -> Response:
        booking = self.get_object()
        body = BookingCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if booking.status == Booking.Status.CANCELLED:
            promoted = None  # cancelling twice changes nothing
        else:
            with refusals():
                promoted = services.booking_cancel(
                    actor=request.user, booking=booking, reason=body.validated_data["reason"]
                )
        return Response({"booking": self._data(booking), "promoted": self._data(promoted)})

    # --- attendance ------------------------------------------------------------------------------------
    @extend_schema(responses=ActionCheckSerializer, summary="Whether attendance can be recorded now")
    @action(detail=True, methods=["get"], url_path="attendance")
    def attendance_state(self, request, pk=None, **kwargs) -> Response:
        problem = self._attendance_problem(self.get_object())
        return _check("attendance", problem, ["attendance", "minutes", "note_line"])

    @staticmethod
    def _attendance_problem(booking: Booking) -> str | None:
        occurrence = booking.occurrence
        if booking.status == Booking.Status.CANCELLED:
            return "This booking is cancelled."
        if occurrence.status != Occurrence.Status.SCHEDULED:
            return "This session was cancelled; there is no attendance to take."
        if occurrence.starts_at > timezone.now() + dt.timedelta(minutes=30):
            return "Attendance is taken when the session starts."
        if attendance_service._locked(occurrence):
            return "The note for this session is signed; add an amendment instead."
        return None

    @extend_schema(
        request=AttendanceSerializer,
        responses={200: AttendanceResultSerializer},
        summary="Record this participant's attendance (and their note line)",
    )
    @attendance_state.mapping.post
    def attendance(self, request, pk=None, **kwargs) -> Response:
        booking = self.get_object()
        body = AttendanceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        row = {"attendance": data["attendance"], "minutes": data.get("minutes")}
        if "note_line" in data:
            row["note_line"] = data["note_line"]
        else:
            row["note_line"] = booking.note_line  # left out: kept as it is
        problem = self._attendance_problem(booking)
        if problem:  # the session's state: 409; what the service still refuses is about the values: 400
            raise ScheduleConflict({"non_field_errors": [problem]})
        with refusals(conflict=False):
            result = attendance_service.attendance_record(
                actor=request.user, occurrence=booking.occurrence, rows={booking.pk: row}
            )
        return Response({"booking": self._data(booking), "warnings": result.warnings})


# --- calendar feeds ------------------------------------------------------------------------------------
class CalendarFeedSerializer(serializers.ModelSerializer):
    user = StaffField(
        required=False,
        help_text="Whose sessions (a staff member's user id). Defaults to the signed-in person; an API "
        "client names one.",
    )
    user_summary = StaffSummarySerializer(source="user", read_only=True)
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = CalendarFeed
        fields = (
            "id",
            "user",
            "user_summary",
            "token_prefix",
            "is_active",
            "revoked_at",
            "last_used_at",
            "created_at",
        )
        read_only_fields = ("id", "token_prefix", "revoked_at", "last_used_at", "created_at")


class NewCalendarFeedSerializer(CalendarFeedSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown once; only its hash is kept.")
    url = serializers.CharField(read_only=True, help_text="The address to subscribe to (shown once).")

    class Meta(CalendarFeedSerializer.Meta):
        fields = (*CalendarFeedSerializer.Meta.fields, "token", "url")


class CalendarFeedFilter(django_filters.FilterSet):
    user = django_filters.NumberFilter(field_name="user_id")
    is_active = django_filters.BooleanFilter(field_name="revoked_at", lookup_expr="isnull")

    class Meta:
        model = CalendarFeed
        fields: tuple = ()


class CalendarFeedViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    ClinicViewSet,
):
    """A new feed revokes the person's earlier ones (one working link each); DELETE revokes (the row stays
    for the audit trail). Feeds are made and revoked by those who set up the schedule: for themselves, or
    for a facilitator (an API client always names the person)."""

    model = CalendarFeed
    serializer_class = CalendarFeedSerializer
    filterset_class = CalendarFeedFilter
    patient_lookup = None
    action_perms = {
        "list": Perm.SCHEDULE_VIEW,
        "retrieve": Perm.SCHEDULE_VIEW,
        "create": Perm.SCHEDULE_MANAGE,
        "destroy": Perm.SCHEDULE_MANAGE,
    }

    def refine_queryset(self, queryset):
        return queryset.select_related("user")

    @extend_schema(
        responses={201: NewCalendarFeedSerializer},
        summary="Make a calendar feed (its secret address is shown once)",
    )
    def create(self, request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data.get("user")
        if user is None:
            if isinstance(request.user, ApiPrincipal):
                raise serializers.ValidationError(
                    {"user": ["Name the staff member whose sessions these are."]}
                )
            user = request.user
        with refusals():
            feed, token = feeds.feed_create(actor=request.user, user=user)
        feed = self.get_queryset().get(pk=feed.pk)
        feed.token, feed.url = token, request.build_absolute_uri(feeds.feed_path(token))
        return Response(NewCalendarFeedSerializer(feed).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None}, summary="Revoke the feed (its address answers 404 from now on)")
    def destroy(self, request, *args, **kwargs) -> Response:
        feeds.feed_revoke(actor=request.user, feed=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


SCHEDULING_ROUTES: tuple[tuple[str, Callable, str], ...] = (
    ("programs", ProgramViewSet, "program"),
    ("session-series", SessionSeriesViewSet, "session-series"),
    ("occurrences", OccurrenceViewSet, "occurrence"),
    ("enrolments", EnrolmentViewSet, "enrolment"),
    ("bookings", BookingViewSet, "booking"),
    ("calendar-feeds", CalendarFeedViewSet, "calendar-feed"),
)
