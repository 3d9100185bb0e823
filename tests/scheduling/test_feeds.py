"""The staff iCal feed: the person's facilitated sessions for the next 56 days, without patient names
(Part 2), reachable by its secret token alone; revoked, unknown or forged tokens are 404; reads audited."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from icalendar import Calendar

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import clinic_today, tenant_context
from clinic.tenancy.models import Membership
from clinic.tenancy.roles import Role
from scheduling import feeds
from scheduling.models import Occurrence
from scheduling.services import booking_add, occurrence_cancel
from tests.conftest import make_member, make_patient
from tests.scheduling.factories import make_room, make_series

pytestmark = pytest.mark.django_db


def _feed(clinic, user) -> str:
    with tenant_context(clinic):
        return feeds.feed_create(actor=user, user=user)[1]


def _events(response) -> list:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/calendar")
    return [c for c in Calendar.from_ical(response.content).walk("VEVENT")]


@pytest.fixture
def busy_week(clinic_a, clinician):
    """A weekly group in a room with two patients booked into its next session, and another facilitator's
    group the feed must leave out."""
    room = make_room(clinic_a)
    series = make_series(clinic_a, clinician, room=room, title="Skills with Avery Ashgrove")
    avery = make_patient(clinic_a, first_name="Avery", last_name="Ashgrove", mrn="SD-000101")
    blake = make_patient(
        clinic_a, first_name="Blake", preferred_name="Bee", last_name="Quill", mrn="SD-000102"
    )
    other = make_member(clinic_a, Role.PSYCHIATRIST, email="other@clinic-a.example.org")
    make_series(clinic_a, other, title="Not mine", start_time=dt.time(15, 0), minutes=60)
    with tenant_context(clinic_a):
        future = list(
            Occurrence.objects.filter(series=series, local_date__gt=clinic_today()).order_by("starts_at")
        )
        for patient in (avery, blake):
            booking_add(actor=None, occurrence=future[0], patient=patient)
    return series, future, (avery, blake)


def test_feed_lists_the_facilitators_sessions_without_names(clinic_a, clinician, busy_week):
    _, future, _ = busy_week
    token = _feed(clinic_a, clinician)
    response = Client().get(f"/feeds/{token}.ics")  # no session at all
    events = _events(response)
    now = timezone.now()
    with tenant_context(clinic_a):
        mine = Occurrence.objects.filter(
            facilitator=clinician,
            starts_at__gte=now - dt.timedelta(days=feeds.PAST_DAYS),
            starts_at__lt=now + dt.timedelta(days=feeds.FEED_DAYS),
        )
        expected = {str(pk) for pk in mine.values_list("pk", flat=True)}
        assert Occurrence.objects.filter(facilitator=clinician).count() > len(expected)  # older ones left out
    uids = {str(e["uid"]).split("@")[0] for e in events}
    assert uids == expected  # the other facilitator's group is not there
    first = next(e for e in events if str(e["uid"]).startswith(str(future[0].pk)))
    assert str(first["summary"]) == "DBT skills group (2 patients)"
    assert str(first["location"]) == "Group room A"
    assert first.decoded("dtstart") == future[0].starts_at
    description = str(first["description"])
    assert "A.A. MRN SD-000101" in description and "B.Q. MRN SD-000102" in description
    text = response.content.decode()
    for name in ("Avery", "Ashgrove", "Blake", "Bee", "Quill"):
        assert name not in text, f"{name} is in the feed"  # not even the series title, which names Avery
    assert response["Cache-Control"] == "private, no-store"


def test_feed_reaches_56_days_and_marks_cancelled_sessions(clinic_a, clinician, busy_week):
    _, future, _ = busy_week
    with tenant_context(clinic_a):
        occurrence_cancel(actor=None, occurrence=future[1], reason="Facilitator ill")
    events = _events(Client().get(f"/feeds/{_feed(clinic_a, clinician)}.ics"))
    by_uid = {str(e["uid"]).split("@")[0]: e for e in events}
    assert str(by_uid[str(future[1].pk)]["status"]) == "CANCELLED"
    assert str(by_uid[str(future[0].pk)]["status"]) == "CONFIRMED"
    latest = max(e.decoded("dtstart") for e in events)
    assert latest - future[0].starts_at < dt.timedelta(days=feeds.FEED_DAYS)


def test_feed_read_is_audited_per_patient(clinic_a, clinician, busy_week):
    _, _, (avery, blake) = busy_week
    token = _feed(clinic_a, clinician)
    Client().get(f"/feeds/{token}.ics")
    with tenant_context(clinic_a):
        reads = AuditEvent.objects.filter(
            action=AuditEvent.Action.VIEW, object_type="scheduling.calendarfeed"
        )
        assert {e.patient_id for e in reads} == {None, avery.pk, blake.pk}
        assert all("calendar feed" in e.actor_label for e in reads)


def test_revoked_unknown_and_forged_tokens_are_404(clinic_a, clinic_b, clinician, busy_week):
    token = _feed(clinic_a, clinician)
    clinic_id, secret = token.split(".", 1)
    for probe in (
        f"{clinic_b.pk}.{secret}",
        f"{clinic_id}.{secret[:-2]}xx",
        "nonsense",
        f"{clinic_id}.short",
    ):
        assert Client().get(f"/feeds/{probe}.ics").status_code == 404, probe
    with tenant_context(clinic_a):
        feed = feeds.CalendarFeed.objects.get()
        feeds.feed_revoke(actor=clinician, feed=feed)
        feeds.feed_revoke(actor=clinician, feed=feed)  # twice changes nothing
        assert AuditEvent.objects.filter(object_id=str(feed.pk), action=AuditEvent.Action.UPDATE).count() == 1
    assert Client().get(f"/feeds/{token}.ics").status_code == 404


def test_a_feed_stops_when_the_person_leaves_the_staff(clinic_a, clinician, busy_week):
    token = _feed(clinic_a, clinician)
    Membership.objects.filter(user=clinician, clinic=clinic_a).update(is_active=False)
    assert Client().get(f"/feeds/{token}.ics").status_code == 404


def test_a_new_feed_replaces_the_old_and_only_staff_get_one(clinic_a, clinic_b, clinician):
    first = _feed(clinic_a, clinician)
    second = _feed(clinic_a, clinician)
    assert Client().get(f"/feeds/{first}.ics").status_code == 404
    assert Client().get(f"/feeds/{second}.ics").status_code == 200
    outsider = make_member(clinic_b, Role.CLINICIAN)
    with tenant_context(clinic_a), pytest.raises(feeds.ValidationError):
        feeds.feed_create(actor=None, user=outsider)


def test_an_empty_feed_is_a_valid_calendar(clinic_a, clinician):
    events = _events(Client().get(f"/feeds/{_feed(clinic_a, clinician)}.ics"))
    assert events == []


# --- the browser page: one's own link ------------------------------------------------------------------
def test_a_clinician_makes_replaces_and_turns_off_their_own_link_in_the_browser(
    clinic_a, clinician, busy_week
):
    import re

    from tests.conftest import client_for

    client = client_for(clinician)
    page = f"/c/{clinic_a.slug}/schedule/my-calendar-link/"
    assert 'id="no-feed"' in client.get(page).content.decode()

    made = client.post(page, {"action": "create"})
    assert made.status_code == 200 and "no-store" in made["Cache-Control"]
    first = re.search(r'id="feed-url" type="text" readonly value="([^"]+)"', made.content.decode()).group(1)
    assert _events(Client().get(first))  # the link works from a calendar app, without a session
    assert first not in client.get(page).content.decode()  # shown once

    again = client.post(page, {"action": "create"}).content.decode()
    second = re.search(r'id="feed-url" type="text" readonly value="([^"]+)"', again).group(1)
    assert Client().get(first).status_code == 404 and _events(Client().get(second))

    assert client.post(page, {"action": "revoke"}).status_code == 302
    assert Client().get(second).status_code == 404
    assert client.post(page, {"action": "revoke"}).status_code == 302  # nothing left: a message, no error
    assert client.post(page, {"action": "bogus"}).status_code == 302
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(object_type="scheduling.calendarfeed").count() >= 4
