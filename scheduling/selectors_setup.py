"""Reads for the setup pages (programs, rooms, series, availability): each list is a fixed number of
queries whatever the number of rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from clinic.tenancy.context import clinic_today, require_clinic
from clinic.tenancy.models import Membership
from scheduling.models import (
    Availability,
    Occurrence,
    Program,
    Room,
    SeriesMember,
    SessionSeries,
    SessionType,
)

UPCOMING = 12


def programs() -> QuerySet[Program]:
    return Program.objects.annotate(series_count=Count("series")).order_by("-is_active", "level", "name")


def rooms() -> QuerySet[Room]:
    return Room.objects.order_by("-is_active", "name")


def _open_members(on: dt.date) -> Q:
    return Q(until_date__isnull=True) | Q(until_date__gte=on)


def series_rows(*, include_ended: bool = False) -> list[SessionSeries]:
    """Every series with its next scheduled session and today's roster size (annotated: three joins and two
    subqueries in one query), ordered so the page can group by program."""
    today, now = clinic_today(), timezone.now()
    next_start = (
        Occurrence.objects.filter(series=OuterRef("pk"), status=Occurrence.Status.SCHEDULED, ends_at__gt=now)
        .order_by("starts_at")
        .values("starts_at")[:1]
    )
    members = (
        SeriesMember.objects.filter(_open_members(today), series=OuterRef("pk"))
        .order_by()
        .values("series")
        .annotate(n=Count("pk"))
        .values("n")
    )
    found = SessionSeries.objects.select_related("program", "session_type", "facilitator", "room").annotate(
        next_start=Subquery(next_start),
        members_count=Coalesce(Subquery(members, output_field=IntegerField()), Value(0)),
    )
    if not include_ended:
        found = found.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
    return list(found.order_by("program__level", "program__name", "title", "starts_on"))


@dataclass
class ProgramGroup:
    program: Program | None
    series: list[SessionSeries] = field(default_factory=list)


def group_by_program(rows: list[SessionSeries]) -> list[ProgramGroup]:
    groups: dict[object, ProgramGroup] = {}
    for row in rows:
        groups.setdefault(row.program_id, ProgramGroup(row.program)).series.append(row)
    # Series outside any program last.
    return sorted(groups.values(), key=lambda g: g.program is None)


def series_get(series_id) -> SessionSeries:
    return get_object_or_404(
        SessionSeries.objects.select_related(
            "session_type", "program", "facilitator", "room", "previous", "next"
        ),
        pk=series_id,
    )


def series_upcoming(series: SessionSeries, limit: int = UPCOMING) -> list[Occurrence]:
    booked = Count("bookings", filter=Q(bookings__status="booked"))
    waiting = Count("bookings", filter=Q(bookings__status="waitlisted"))
    return list(
        Occurrence.objects.filter(series=series, ends_at__gt=timezone.now())
        .select_related("room", "facilitator")
        .annotate(booked=booked, waiting=waiting)
        .order_by("starts_at")[:limit]
    )


def series_members(series: SessionSeries) -> list[SeriesMember]:
    return list(
        SeriesMember.objects.filter(_open_members(clinic_today()), series=series)
        .select_related("patient")
        .order_by("patient__last_name", "patient__first_name")
    )


def facilitator_roles() -> list[str] | None:
    """The roles that may facilitate at least one of the clinic's active session types (None: anyone, as
    when a type names no role)."""
    found: set[str] = set()
    for roles in SessionType.objects.filter(is_active=True).values_list("facilitator_roles", flat=True):
        if not roles:
            return None
        found.update(roles)
    return sorted(found) or None


def _staff_filter() -> Q:
    roles = facilitator_roles()
    return Q() if roles is None else Q(roles__overlap=roles)


def staff_memberships() -> list[Membership]:
    """The clinic's active staff who may facilitate something, by name (Membership is a platform table:
    filtered by clinic here)."""
    return list(
        Membership.objects.active()
        .filter(_staff_filter(), clinic=require_clinic())
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )


def staff_users():
    """The same people as `staff_memberships`, as a queryset of users (the forms' choices)."""
    members = Membership.objects.active().filter(_staff_filter(), clinic=require_clinic())
    return get_user_model().objects.filter(pk__in=members.values("user_id")).order_by("full_name", "email")


def availability_by_staff() -> list[tuple[Membership, list[Availability]]]:
    """Each staff member with their weekly windows (two queries)."""
    people = staff_memberships()
    windows: dict[int, list[Availability]] = {}
    for window in Availability.objects.filter(staff_id__in=[m.user_id for m in people]).order_by(
        "weekday", "start_time"
    ):
        windows.setdefault(window.staff_id, []).append(window)
    return [(membership, windows.get(membership.user_id, [])) for membership in people]


def availability_get(availability_id) -> Availability:
    return get_object_or_404(Availability.objects.select_related("staff"), pk=availability_id)
