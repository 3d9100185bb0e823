"""API credentials at the edge: the bearer scheme in any case; a session that ended, expired or never was
gets 401 problem+json, never the HTML sign-in page."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.test import Client

from api.services import api_client_create
from clinic.accounts.middleware import LAST_SEEN_KEY, TIMEOUT_CHECKED_KEY
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from tests.clinic.accounts.helpers import sign_in

pytestmark = pytest.mark.django_db

PATIENTS = "/api/v1/patients/"
PROBLEM = "application/problem+json"


@pytest.fixture
def token(clinic_a) -> str:
    with tenant_context(clinic_a):
        return api_client_create(actor=None, name="EHR sync", roles=[Role.ADMISSIONS])[1]


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_is_case_insensitive(scheme, token):
    response = Client(HTTP_AUTHORIZATION=f"{scheme} {token}").get(PATIENTS)
    assert response.status_code == 200, response.content


def test_extra_spaces_around_the_token_are_tolerated(token):
    assert Client(HTTP_AUTHORIZATION=f"bearer   {token}  ").get(PATIENTS).status_code == 200


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Token sdk_x", "bearer", "bearer sdk_unknown"])
def test_other_schemes_and_bad_tokens_are_401_problem(header):
    response = Client(HTTP_AUTHORIZATION=header).get(PATIENTS)
    assert response.status_code == 401 and response["Content-Type"] == PROBLEM


def _assert_401_problem(response) -> None:
    assert response.status_code == 401, (response.status_code, response.get("Location"))
    assert response["Content-Type"] == PROBLEM
    assert response.json()["status"] == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "Location" not in response


@pytest.fixture
def session_api(client, staff_a, clinic_a) -> Client:
    sign_in(client, staff_a[Role.ADMISSIONS].email)
    assert client.get(PATIENTS, headers={"X-Stepdown-Clinic": clinic_a.slug}).status_code == 200
    return client


def test_session_call_after_the_idle_timeout_is_401_problem_not_a_redirect(session_api, clinic_a):
    session = session_api.session
    session[LAST_SEEN_KEY] = time.time() - 16 * 60  # the default timeout is 15 minutes
    session.pop(TIMEOUT_CHECKED_KEY, None)
    session.save()
    _assert_401_problem(session_api.get(PATIENTS, headers={"X-Stepdown-Clinic": clinic_a.slug}))
    # The session is over: the next call is refused too, and a browser page asks to sign in again.
    _assert_401_problem(session_api.get(PATIENTS, headers={"X-Stepdown-Clinic": clinic_a.slug}))
    assert session_api.get(f"/c/{clinic_a.slug}/")["Location"].startswith("/accounts/login/")


def test_session_write_after_the_idle_timeout_is_401_and_writes_nothing(session_api, clinic_a):
    from patients.models import Patient

    session = session_api.session
    session[LAST_SEEN_KEY] = time.time() - 16 * 60
    session.pop(TIMEOUT_CHECKED_KEY, None)
    session.save()
    body = {"first_name": "Quinn", "last_name": "Rowan", "date_of_birth": "1984-03-09"}
    response = session_api.post(
        PATIENTS, data=body, content_type="application/json", headers={"X-Stepdown-Clinic": clinic_a.slug}
    )
    _assert_401_problem(response)
    with tenant_context(clinic_a):
        assert not Patient.objects.filter(last_name="Rowan").exists()


def test_unknown_or_expired_session_cookie_is_401_problem(clinic_a):
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = "no-such-session-0123456789abcdef"
    _assert_401_problem(client.get(PATIENTS, headers={"X-Stepdown-Clinic": clinic_a.slug}))


def test_signed_out_session_is_401_problem(session_api, clinic_a):
    session_api.post("/accounts/logout/")
    _assert_401_problem(session_api.get(PATIENTS, headers={"X-Stepdown-Clinic": clinic_a.slug}))
