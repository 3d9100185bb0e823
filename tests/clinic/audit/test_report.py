"""The audit report page and CSV export: who may see it, filters, paging, export, flat query count."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.audit import exports, views
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Perm, Role, role_allows
from tests.clinic.audit.conftest import add_events, clinic_events
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db
URL = "/c/clinic-a/audit/"
EXPORT_URL = "/c/clinic-a/audit/export.csv"


@pytest.fixture
def auditor_client(client, staff_a):
    client.force_login(staff_a[Role.AUDITOR])
    return client


def _csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.parametrize("role", list(Role))
def test_role_matrix(client, clinic_a, staff_a, role):
    client.force_login(staff_a[role])
    expected = 200 if role_allows([role], Perm.AUDIT_VIEW) else 403
    assert client.get(URL).status_code == expected
    assert client.get(EXPORT_URL).status_code == expected
    assert role in (Role.CLINIC_ADMIN, Role.AUDITOR) or expected == 403


def test_nurse_forbidden_and_other_clinic_not_found(client, clinic_a, clinic_b, staff_a, staff_b):
    client.force_login(staff_a[Role.NURSE])
    assert client.get(URL).status_code == 403
    client.force_login(staff_b[Role.AUDITOR])
    assert client.get(URL).status_code == 404
    assert client.get(EXPORT_URL).status_code == 404


def test_page_shows_readable_columns_and_only_this_clinic(
    auditor_client, clinic_a, clinic_b, staff_a, patient_a, patient_b
):
    with tenant_context(clinic_a):
        audit(actor=staff_a[Role.NURSE], action="view", obj=patient_a, patient=patient_a)
    with tenant_context(clinic_b):
        audit(actor=None, action="view", obj=patient_b, patient=patient_b, detail={"secret": "birch-only"})
    response = auditor_client.get(URL)
    page = response.content.decode()
    assert response.status_code == 200
    assert staff_a[Role.NURSE].display_name in page and "Viewed" in page
    assert patient_a.mrn in page and f"?patient={patient_a.pk}" in page
    assert "birch-only" not in page and str(patient_b.pk) not in page


def test_times_are_shown_in_the_clinic_time_zone(auditor_client, clinic_a):
    clinic_a.timezone = "Asia/Tokyo"
    clinic_a.save()
    (event,) = add_events(clinic_a, 1)
    local = event.occurred_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert local.strftime("%Y-%m-%d %H:%M:%S JST") in auditor_client.get(URL).content.decode()


def test_filters(auditor_client, clinic_a, staff_a, patient_a):
    other = make_patient(clinic_a, first_name="Other", mrn="SD-777777")
    nurse, admin = staff_a[Role.NURSE], staff_a[Role.CLINIC_ADMIN]
    with tenant_context(clinic_a):
        by_nurse = audit(actor=nurse, action="view", obj=patient_a, patient=patient_a)
        by_admin = audit(actor=admin, action="update", obj=other, patient=other)
        listed = audit(actor=admin, action="list", object_type="patients.patient")

    def shown(**params) -> set[int]:
        response = auditor_client.get(URL, params)
        assert response.status_code == 200
        return {event.pk for event in response.context["page"].events}

    assert shown() >= {by_nurse.pk, by_admin.pk, listed.pk}
    assert shown(actor=nurse.email.split("@")[0]) == {by_nurse.pk}
    assert shown(action="update") == {by_admin.pk}
    assert shown(patient=patient_a.mrn.lower()) == {by_nurse.pk}
    assert shown(patient=str(other.pk)) == {by_admin.pk}
    assert by_admin.pk in shown(object_type="patients.patient")
    assert shown(request_id="no-such-request") == set()
    today = datetime.now(UTC).date()
    assert by_nurse.pk in shown(date_from=today - timedelta(days=1), date_to=today + timedelta(days=1))
    assert shown(date_to=today - timedelta(days=2)) == set()


def test_bad_filters_show_errors_and_no_rows(auditor_client, clinic_a):
    add_events(clinic_a, 2)
    response = auditor_client.get(
        URL, {"patient": "SD-NOPE", "date_from": "2026-02-02", "date_to": "2026-01-01"}
    )
    assert response.status_code == 200
    assert response.context["page"] is None
    page = response.content.decode()
    assert "No patient with MRN or id" in page and "end date is before the start date" in page
    assert auditor_client.get(URL, {"date_from": "yesterday"}).status_code == 200
    assert auditor_client.get(URL, {"before": "garbage", "after": "9999999999999999999_x"}).status_code == 200


def test_viewing_the_report_is_itself_audited(auditor_client, clinic_a, staff_a):
    add_events(clinic_a, 1)
    response = auditor_client.get(URL, {"action": "view"})
    assert len(response.context["page"].events) == 1  # its own event is written after the read
    (own,) = clinic_events(clinic_a, action="list", object_type="audit.auditevent")
    assert own.actor_id == staff_a[Role.AUDITOR].pk and own.detail["filters"] == {"action": "view"}


def test_keyset_paging_walks_every_event_once(auditor_client, clinic_a, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 4)
    created = add_events(clinic_a, 10)
    seen, params = [], {"action": "view"}
    while True:
        page = auditor_client.get(URL, params).context["page"]
        seen += [event.pk for event in page.events]
        if page.older is None:
            break
        params = {"action": "view", "before": page.older.token()}
    assert seen == [event.pk for event in reversed(created)]
    back = auditor_client.get(URL, {"action": "view", "after": page.newer.token()}).context["page"]
    assert [event.pk for event in back.events] == seen[4:8]


def test_csv_export_contains_the_filtered_rows_and_is_audited(auditor_client, clinic_a, staff_a, patient_a):
    nurse = staff_a[Role.NURSE]
    with tenant_context(clinic_a):
        wanted = audit(actor=nurse, action="view", obj=patient_a, patient=patient_a, detail={"q": "=cmd()"})
        audit(actor=nurse, action="list", object_type="patients.patient")
    response = auditor_client.get(EXPORT_URL, {"patient": patient_a.mrn})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'attachment; filename="audit-clinic-a-' in response["Content-Disposition"]
    rows = _csv(response)
    assert [row["event_id"] for row in rows] == [str(wanted.pk)]
    row = rows[0]
    assert row["patient_mrn"] == patient_a.mrn and row["who"] == nurse.email and row["action"] == "view"
    assert row["detail"] == '{"q": "=cmd()"}'  # JSON starts with "{", so no formula
    assert row["hash"] == wanted.hash
    (export,) = clinic_events(clinic_a, action=AuditEvent.Action.EXPORT)
    assert export.actor_id == staff_a[Role.AUDITOR].pk
    assert export.detail == {"format": "csv", "rows": 1, "filters": {"patient": patient_a.mrn}}


def test_csv_cells_cannot_carry_spreadsheet_formulas():
    assert exports._cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert exports._cell("-1+1") == "'-1+1"
    assert exports._cell("plain@example.org") == "plain@example.org"


def test_export_over_the_limit_is_refused_with_a_message(auditor_client, clinic_a, monkeypatch):
    monkeypatch.setattr(exports, "EXPORT_ROW_LIMIT", 3)
    add_events(clinic_a, 4)
    response = auditor_client.get(EXPORT_URL, {"action": "view"}, follow=True)
    assert response.redirect_chain[-1][0].startswith(URL + "?action=view")
    assert "More than 3 events match" in response.content.decode()
    assert clinic_events(clinic_a, action="export") == []
    assert auditor_client.get(EXPORT_URL, {"action": "view", "request_id": "x"}).status_code == 200


def test_export_with_bad_filters_redirects_back(auditor_client, clinic_a):
    response = auditor_client.get(EXPORT_URL, {"patient": "SD-NOPE"})
    assert response.status_code == 302 and response["Location"].startswith(URL)


def _data_queries(captured: CaptureQueriesContext) -> list[str]:
    """Queries that could repeat per row (events, patients, users). Session and middleware
    bookkeeping varies from request to request for reasons unrelated to the number of events."""
    tables = ('"audit_auditevent"', '"patients_patient"', '"accounts_user"')
    return [query["sql"] for query in captured.captured_queries if any(t in query["sql"] for t in tables)]


def _queries_for_report(client, clinic, staff, count: int) -> list[str]:
    patients = [make_patient(clinic, mrn=f"SD-Q{count:03d}{n:02d}") for n in range(5)]
    with tenant_context(clinic):
        for n in range(count):
            audit(
                actor=staff[list(Role)[n % 6]],
                action="view",
                patient=patients[n % 5],
                object_type="patients.patient",
            )
    assert client.get(URL).status_code == 200  # warm: the first request also fills the session
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL).status_code == 200
    assert len(captured) <= 25
    return _data_queries(captured)


def test_report_query_count_stays_flat_as_events_grow(auditor_client, clinic_a, staff_a):
    few = _queries_for_report(auditor_client, clinic_a, staff_a, 10)
    many = _queries_for_report(auditor_client, clinic_a, staff_a, 200)
    assert len(many) == len(few) <= 6, many


def test_export_query_count_stays_flat(auditor_client, clinic_a, staff_a, patient_a):
    def export_queries(count: int) -> list[str]:
        add_events(clinic_a, count, actor=staff_a[Role.NURSE], patient=patient_a)
        assert auditor_client.get(EXPORT_URL).status_code == 200
        with CaptureQueriesContext(connection) as captured:
            assert auditor_client.get(EXPORT_URL).status_code == 200
        assert len(captured) <= 25
        return _data_queries(captured)

    assert len(export_queries(5)) == len(export_queries(300))
