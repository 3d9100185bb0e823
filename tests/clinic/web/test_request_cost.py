"""The fixed cost of a request (issue 14): no session save unless the session changed, one membership read,
and a bounded number of statements for a browser page and an API list.

Measured on this change: the clinic's patients page went from 20 statements to 15, a session API list of
patients from 20 to 17 (the token API list stays at 15: it has no session); none of them writes the session
on a second request within the minute any more (before: one UPDATE of django_session on every request)."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.accounts.middleware import LAST_SEEN_KEY, LAST_SEEN_RESOLUTION_SECONDS
from clinic.tenancy.roles import Role
from tests.conftest import client_for, make_patient, token_client

pytestmark = pytest.mark.django_db

API_PATIENTS = "/api/v1/patients/?page_size=50"


def statements(client, path: str, **kwargs) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, **kwargs)
    assert response.status_code == 200, response.content[:300]
    return [query["sql"] for query in ctx.captured_queries]


def session_writes(sql: list[str]) -> int:
    return sum(1 for s in sql if s.startswith('UPDATE "django_session"'))


def membership_reads(sql: list[str]) -> int:
    return sum(1 for s in sql if s.startswith("SELECT") and 'FROM "tenancy_membership"' in s)


@pytest.fixture
def patients(clinic_a):
    return [make_patient(clinic_a, last_name=f"Cost{i}") for i in range(3)]


def test_a_browser_page_writes_no_session_and_reads_the_membership_once(clinic_a, staff_a, patients):
    nurse = client_for(staff_a[Role.NURSE])
    path = f"/c/{clinic_a.slug}/patients/"
    statements(nurse, path)  # the first request stamps the session (last seen, timeout checked)
    sql = statements(nurse, path)
    assert session_writes(sql) == 0
    assert membership_reads(sql) == 1  # the middleware's; the clinic switcher reuses it
    assert not any('FROM "safety_alert"' in s for s in sql)  # the badge count is cached
    assert len(sql) <= 15, "\n".join(sql)  # 20 before (session save + its savepoint, 2nd membership, COUNT)


def test_an_api_list_by_session_writes_no_session_and_reads_the_membership_once(clinic_a, staff_a, patients):
    admissions = client_for(staff_a[Role.ADMISSIONS])
    headers = {"X-Stepdown-Clinic": clinic_a.slug}
    statements(admissions, API_PATIENTS, headers=headers)
    statements(admissions, API_PATIENTS, headers=headers)  # the timeout is first read on the second request
    sql = statements(admissions, API_PATIENTS, headers=headers)
    assert session_writes(sql) == 0 and membership_reads(sql) == 1
    assert len(sql) <= 17, "\n".join(sql)  # 20 before


def test_an_api_list_by_token_has_a_flat_statement_count(clinic_a, patients):
    api = token_client(clinic_a, Role.ADMISSIONS)
    statements(api, API_PATIENTS)
    sql = statements(api, API_PATIENTS)
    assert session_writes(sql) == 0 and membership_reads(sql) == 0
    assert len(sql) <= 15, "\n".join(sql)
    for i in range(10):
        make_patient(clinic_a, last_name=f"More{i}")
    assert len(statements(api, API_PATIENTS)) == len(sql)  # one query per nested list, whatever the page


def test_the_last_seen_stamp_is_rewritten_once_a_minute(clinic_a, staff_a):
    nurse = client_for(staff_a[Role.NURSE])
    path = f"/c/{clinic_a.slug}/"
    statements(nurse, path)
    stamped = nurse.session[LAST_SEEN_KEY]
    assert session_writes(statements(nurse, path)) == 0
    assert nurse.session[LAST_SEEN_KEY] == stamped

    session = nurse.session
    session[LAST_SEEN_KEY] = time.time() - LAST_SEEN_RESOLUTION_SECONDS - 1
    session.save()
    assert session_writes(statements(nurse, path)) == 1
    assert nurse.session[LAST_SEEN_KEY] > stamped - 1  # rewritten: activity still keeps the person signed in
