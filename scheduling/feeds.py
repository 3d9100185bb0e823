"""Staff calendar feeds: a private iCal subscription (/feeds/<token>.ics) to the sessions one facilitates.

A feed is reached without a session, by its secret URL alone, so it says as little as a calendar needs
(42 CFR Part 2): the SUMMARY is the session type and how many patients are booked, never a name or the
session's own title (a one-off session may be titled after its patient); the DESCRIPTION lists each
participant's initials and MRN, enough for the facilitator to prepare. The token is shown once; only its
SHA-256 is stored. It begins with the clinic's id, which is entered (tenant_context, row-level security)
before the hash is looked up, so a token can only ever find a feed of the clinic it names. A revoked feed,
an unknown token and a person no longer on the clinic's staff all answer the same 404. Every read is
audited, per patient shown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET
from icalendar import Calendar, Event

from clinic.actors import Actor, ActorKind, ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit, audit_many
from clinic.tenancy.context import require_clinic, tenant_context
from clinic.tenancy.models import Clinic, Membership
from scheduling.models import Booking, CalendarFeed, Occurrence

FEED_DAYS = 56  # what a subscription shows ahead: the scheduling horizon
PAST_DAYS = 7  # and the last week, so a session that just ended does not vanish from the calendar at once
LAST_USED_GRANULARITY = dt.timedelta(minutes=15)  # calendar apps poll; one write per quarter hour is plenty
PRODID = "-//Stepdown//Scheduling feed//EN"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_path(token: str) -> str:
    return reverse("calendar-feed", kwargs={"token": token})


# --- making and revoking feeds -------------------------------------------------------------------------
def _staff_member(user) -> bool:
    return Membership.objects.active().filter(user=user, clinic=require_clinic()).exists()


@transaction.atomic
def feed_create(*, actor: ActorLike, user) -> tuple[CalendarFeed, str]:
    """A new feed for `user` (a member of the clinic's staff); their earlier feeds are revoked, so a person
    has one working link. Returns the feed and its token: shown once, never stored."""
    clinic = require_clinic()
    if user is None or not _staff_member(user):
        raise ValidationError({"user": "This person is not on the clinic's staff."})
    now = timezone.now()
    earlier = list(CalendarFeed.objects.select_for_update().filter(user=user, revoked_at__isnull=True))
    for old in earlier:
        old.revoked_at = now
        old.save(update_fields=["revoked_at", "updated_at"])
        audit(actor=actor, action=AuditEvent.Action.UPDATE, obj=old, detail={"revoked": "replaced"})
    token = f"{clinic.pk}.{secrets.token_urlsafe(32)}"
    feed = CalendarFeed.objects.create(
        clinic=clinic,
        user=user,
        token_hash=hash_token(token),
        token_prefix=token[: token.index(".") + 7],
        created_by=as_actor(actor).user,
    )
    audit(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        obj=feed,
        detail={"event": "calendar_feed_created", "user": user.pk, "replaced": len(earlier)},
    )
    return feed, token


@transaction.atomic
def feed_revoke(*, actor: ActorLike, feed: CalendarFeed) -> CalendarFeed:
    """Turn the link off (idempotent): calendar apps subscribed to it get 404 from now on."""
    feed = CalendarFeed.objects.select_for_update().get(pk=feed.pk)
    if feed.revoked_at is None:
        feed.revoked_at = timezone.now()
        feed.save(update_fields=["revoked_at", "updated_at"])
        audit(actor=actor, action=AuditEvent.Action.UPDATE, obj=feed, detail={"revoked": "by request"})
    return feed


# --- reading a feed ------------------------------------------------------------------------------------
def _clinic_of(token: str) -> Clinic | None:
    """The active clinic a token names (its leading id), else None; the feed is looked up inside it."""
    head, dot, secret = token.partition(".")
    if not dot or not head.isdigit() or len(head) > 18 or len(secret) < 20 or len(token) > 200:
        return None
    return Clinic.objects.filter(pk=int(head), is_active=True).first()


def _initials(patient) -> str:
    parts = [patient.preferred_name or patient.first_name, patient.last_name]
    return "".join(f"{part.strip()[0].upper()}." for part in parts if part and part.strip())


def upcoming(user, *, now: dt.datetime | None = None) -> list[Occurrence]:
    """The sessions `user` facilitates from a week ago to FEED_DAYS ahead, with who is booked: two queries."""
    now = now or timezone.now()
    rows = list(
        Occurrence.objects.filter(
            facilitator=user,
            starts_at__gte=now - dt.timedelta(days=PAST_DAYS),
            starts_at__lt=now + dt.timedelta(days=FEED_DAYS),
        )
        .select_related("session_type", "room")
        .annotate(booked=Count("bookings", filter=Q(bookings__status=Booking.Status.BOOKED)))
        .order_by("starts_at", "id")
    )
    people: dict = defaultdict(list)
    bookings = (
        Booking.objects.filter(occurrence__in=[o.pk for o in rows], status=Booking.Status.BOOKED)
        .select_related("patient")
        .only(
            "occurrence_id",
            "patient_id",
            "patient__first_name",
            "patient__preferred_name",
            "patient__last_name",
            "patient__mrn",
        )
        .order_by("patient__last_name", "patient__first_name")
    )
    for booking in bookings:
        people[booking.occurrence_id].append(booking.patient)
    for occurrence in rows:
        occurrence.participants = people.get(occurrence.pk, [])
    return rows


def _summary(occurrence: Occurrence) -> str:
    count = occurrence.booked
    who = "1 patient" if count == 1 else f"{count} patients"
    return f"{occurrence.session_type.name} ({who})"


def render(feed: CalendarFeed, occurrences: list[Occurrence], clinic: Clinic) -> bytes:
    """The iCalendar document: one VEVENT per session; cancelled ones stay, marked CANCELLED, so a
    subscribed calendar removes them instead of keeping a stale entry."""
    zone = ZoneInfo(clinic.timezone)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"{clinic.name}: my sessions")
    cal.add("x-wr-timezone", clinic.timezone)
    stamp = timezone.now()
    for occurrence in occurrences:
        event = Event()
        event.add("uid", f"{occurrence.pk}@stepdown")
        event.add("dtstamp", stamp)
        event.add("last-modified", occurrence.updated_at)
        event.add("dtstart", occurrence.starts_at.astimezone(zone))
        event.add("dtend", occurrence.ends_at.astimezone(zone))
        event.add("summary", _summary(occurrence))
        if occurrence.room is not None:
            event.add("location", "Telehealth" if occurrence.room.is_telehealth else occurrence.room.name)
        elif occurrence.telehealth_url:
            event.add("location", "Telehealth")
        lines = [f"{_initials(p)} MRN {p.mrn}" for p in occurrence.participants]
        description = "Participants: " + "; ".join(lines) if lines else "No one is booked yet."
        if occurrence.status == Occurrence.Status.CANCELLED:
            event.add("status", "CANCELLED")
            description = "Cancelled. " + description
        else:
            event.add("status", "CONFIRMED")
        event.add("description", description)
        cal.add_component(event)
    return cal.to_ical()


def _reader(feed: CalendarFeed) -> Actor:
    # Whoever holds the link reads as the person it belongs to, labelled as the feed; allowed nothing else.
    return Actor(
        kind=ActorKind.USER,
        label=f"{feed.user.email} (calendar feed {feed.token_prefix}…)",
        user=feed.user,
        roles=(),
    )


@require_GET
def feed_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET /feeds/<token>.ics: no session, no clinic in the URL; the token is the credential."""
    clinic = _clinic_of(token)
    if clinic is None:
        raise Http404("No such calendar feed")
    with tenant_context(clinic):
        feed = (
            CalendarFeed.objects.select_related("user")
            .filter(token_hash=hash_token(token), revoked_at__isnull=True)
            .first()
        )
        if feed is None or not _staff_member(feed.user):
            raise Http404("No such calendar feed")
        occurrences = upcoming(feed.user)
        body = render(feed, occurrences, clinic)
        reader = _reader(feed)
        patients = list(dict.fromkeys(p.pk for o in occurrences for p in o.participants))
        audit_many(
            actor=reader,
            action=AuditEvent.Action.VIEW,
            items=[
                {"obj": feed, "detail": {"event": "calendar_feed_read", "sessions": len(occurrences)}},
                *(
                    {"obj": feed, "patient": pid, "detail": {"event": "calendar_feed_read"}}
                    for pid in patients
                ),
            ],
        )
        now = timezone.now()
        if feed.last_used_at is None or now - feed.last_used_at > LAST_USED_GRANULARITY:
            CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=now)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="sessions.ics"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
