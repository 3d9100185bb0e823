"""Staff side: the patient's check-in panel and history, making and turning off links, settings, roles,
flat query counts, and the read-only API for EHRs."""

from __future__ import annotations

import datetime
import re
import zoneinfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from tests.clinic.tenancy.registry import snapshot
from tests.conftest import client_for, token_client
from tests.vitals.checkins.factories import answers, link_path
from vitals.checkins import services
from vitals.checkins.models import CheckIn, CheckInLink, CheckInSettings

pytestmark = pytest.mark.django_db


def _url(clinic, tail: str) -> str:
    return f"/c/{clinic.slug}/checkins/{tail}"


def _history(clinic, link, days: int) -> list[CheckIn]:
    """`days` check-ins on consecutive past clinic days (the latest yesterday)."""
    zone = zoneinfo.ZoneInfo(clinic.timezone)
    today = datetime.datetime.now(zone).date()
    made = []
    with tenant_context(clinic):
        for n in range(days, 0, -1):
            at = datetime.datetime.combine(today - datetime.timedelta(days=n), datetime.time(19, 0), zone)
            anxious = {"anxiety": 9} if n % 3 == 0 else {}
            made.append(
                services.checkin_submit(link=link, answers=answers(dose_status="", **anxious), now=at)
            )
    return made


# --- panel and history --------------------------------------------------------------------------------------
def test_panel_shows_link_recent_checkins_and_guidance(clinic_a, patient, link, nurse_client):
    _history(clinic_a, link, 3)
    response = nurse_client.get(_url(clinic_a, f"patients/{patient.pk}/panel/"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('class="badge badge-call"') == 1  # one of the three was an anxious day
    assert "Anxiety 8 or more" in body  # the flag, in staff words
    assert link_path(clinic_a, link) in body  # the URL to copy
    assert "<html" not in body  # an htmx fragment
    with tenant_context(clinic_a):
        event = AuditEvent.objects.filter(patient_id=patient.pk, action="view").latest("id")
    assert event.detail == {"page": "checkin_panel", "shown": 3}


def test_patient_record_links_to_the_checkin_panel(clinic_a, patient, nurse_client, staff_a):
    panel = _url(clinic_a, f"patients/{patient.pk}/panel/")
    assert panel in nurse_client.get(f"/c/{clinic_a.slug}/patients/{patient.pk}/").content.decode()
    admissions = client_for(staff_a[Role.ADMISSIONS])
    assert panel not in admissions.get(f"/c/{clinic_a.slug}/patients/{patient.pk}/").content.decode()


def test_full_page_and_detail_show_every_answer(clinic_a, patient, link, nurse_client):
    checkin = _history(clinic_a, link, 1)[0]
    page = nurse_client.get(_url(clinic_a, f"patients/{patient.pk}/")).content.decode()
    assert "All answers for" in page and "Shaking or trembling" in page
    detail = nurse_client.get(_url(clinic_a, f"entries/{checkin.pk}/"))
    body = detail.content.decode()
    assert detail.status_code == 200
    assert "have you had a seizure" in body and "6.5 hours, fair" in body
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(object_id=str(checkin.pk), action="view").count() == 1


def _queries(client, url) -> int:
    """The page's queries, without the session's own bookkeeping (the idle-timeout check runs on a clock).
    A first request warms what is cached between requests (the nav's alert badge), as a clinician's has."""
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return sum(
        1
        for query in queries.captured_queries
        if "django_session" not in query["sql"] and "idle_timeout_minutes" not in query["sql"]
    )


@pytest.mark.parametrize("tail", ["patients/{pk}/", "patients/{pk}/panel/"])
def test_query_count_is_flat_as_checkins_grow(clinic_a, patient, link, nurse_client, tail):
    url = _url(clinic_a, tail.format(pk=patient.pk))
    _history(clinic_a, link, 2)
    few = _queries(nurse_client, url)
    with tenant_context(clinic_a):
        CheckIn.objects.all().delete()
    _history(clinic_a, link, 12)
    assert _queries(nurse_client, url) == few


# --- links --------------------------------------------------------------------------------------------------
def test_nurse_makes_a_link_that_works_then_turns_it_off(clinic_a, patient, nurse_client):
    response = nurse_client.post(_url(clinic_a, f"patients/{patient.pk}/links/new/"), {"days": "14"})
    assert response.status_code == 302
    with tenant_context(clinic_a):
        link = CheckInLink.objects.get()
    assert abs(link.expires_at - link.created_at - datetime.timedelta(days=14)) < datetime.timedelta(
        seconds=1
    )
    page = nurse_client.get(response["Location"]).content.decode()
    url = re.search(r'value="(http://testserver/checkin/[^"]+)"', page).group(1)
    assert Client().get(url).status_code == 200

    assert nurse_client.get(_url(clinic_a, f"links/{link.pk}/revoke/")).status_code == 200
    response = nurse_client.post(_url(clinic_a, f"links/{link.pk}/revoke/"), {"reason": "lost phone"})
    assert response.status_code == 302
    assert Client().get(url).status_code == 410
    page = nurse_client.get(_url(clinic_a, f"patients/{patient.pk}/")).content.decode()
    assert "No active link" in page and "lost phone" in page


def test_bad_lifetime_is_a_form_error(clinic_a, patient, nurse_client):
    before = snapshot(clinic_a)
    response = nurse_client.post(_url(clinic_a, f"patients/{patient.pk}/links/new/"), {"days": "365"})
    assert response.status_code == 400 and "less than or equal to 90" in response.content.decode()
    assert snapshot(clinic_a) == before


@pytest.mark.parametrize("role", [Role.ADMISSIONS, Role.AUDITOR, Role.CLINIC_ADMIN])
def test_roles_outside_the_care_team_cannot_see_or_make_links(clinic_a, patient, link, staff_a, role):
    client = client_for(staff_a[role])
    before = snapshot(clinic_a, skip_append_only=True)
    assert client.get(_url(clinic_a, f"patients/{patient.pk}/panel/")).status_code == 403
    assert client.post(_url(clinic_a, f"patients/{patient.pk}/links/new/"), {"days": "5"}).status_code == 403
    assert client.post(_url(clinic_a, f"links/{link.pk}/revoke/"), {}).status_code == 403
    assert snapshot(clinic_a, skip_append_only=True) == before


@pytest.mark.parametrize("role", [Role.NURSE, Role.CLINICIAN, Role.PSYCHIATRIST])
def test_care_team_may_manage_links(clinic_a, patient, staff_a, role):
    client = client_for(staff_a[role])
    assert client.post(_url(clinic_a, f"patients/{patient.pk}/links/new/"), {}).status_code == 302


def test_other_clinics_patient_is_404(clinic_a, clinic_b, patient_b, nurse_client):
    assert nurse_client.get(_url(clinic_a, f"patients/{patient_b.pk}/panel/")).status_code == 404
    assert nurse_client.post(_url(clinic_a, f"patients/{patient_b.pk}/links/new/"), {}).status_code == 404


# --- settings -----------------------------------------------------------------------------------------------
def test_admin_sets_the_care_team_phone(clinic_a, staff_a, nurse_client):
    admin = client_for(staff_a[Role.CLINIC_ADMIN])
    assert nurse_client.get(_url(clinic_a, "settings/")).status_code == 403
    page = admin.get(_url(clinic_a, "settings/")).content.decode()
    assert "Program policy, not yet verified" in page
    assert admin.post(_url(clinic_a, "settings/"), {"care_team_phone": "call us"}).status_code == 400
    assert admin.post(_url(clinic_a, "settings/"), {"care_team_phone": "555-0142"}).status_code == 302
    with tenant_context(clinic_a):
        assert CheckInSettings.objects.get().care_team_phone == "555-0142"


# --- API ----------------------------------------------------------------------------------------------------
def test_api_lists_filters_and_retrieves(clinic_a, patient, link):
    from tests.vitals.checkins.factories import checkin_in

    made = _history(clinic_a, link, 2)
    other = checkin_in(clinic_a)
    api = token_client(clinic_a, Role.NURSE)
    rows = api.get(f"/api/v1/checkins/?patient={patient.pk}").json()["results"]
    assert {row["id"] for row in rows} == {str(c.pk) for c in made}
    assert rows[0]["symptoms"]["tremor"] == 1 and rows[0]["sleep_quality"] == "fair"
    later = api.get("/api/v1/checkins/", {"updated_since": other.updated_at.isoformat()}).json()["results"]
    assert [row["id"] for row in later] == [str(other.pk)]
    one = api.get(f"/api/v1/checkins/{made[0].pk}/")
    assert one.status_code == 200 and one.json()["local_date"] == made[0].local_date.isoformat()
    assert api.post("/api/v1/checkins/", {}).status_code == 405


def test_api_needs_a_care_team_role(clinic_a, link):
    _history(clinic_a, link, 1)
    assert token_client(clinic_a, Role.ADMISSIONS).get("/api/v1/checkins/").status_code == 403


def test_api_never_shows_another_clinics_checkins(clinic_a, clinic_b, link):
    from tests.vitals.checkins.factories import checkin_in

    _history(clinic_a, link, 1)
    theirs = checkin_in(clinic_b)
    api = token_client(clinic_a, Role.NURSE)
    assert str(theirs.pk) not in {row["id"] for row in api.get("/api/v1/checkins/").json()["results"]}
    assert api.get(f"/api/v1/checkins/{theirs.pk}/").status_code == 404
