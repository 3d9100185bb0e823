"""Automatic sign-out after the clinic's idle period (default 15 minutes)."""

from __future__ import annotations

import time

import pytest

from clinic.accounts.middleware import LAST_SEEN_KEY, TIMEOUT_CHECKED_KEY
from clinic.tenancy.roles import Role
from tests.clinic.accounts.helpers import sign_in

pytestmark = pytest.mark.django_db


def idle_for(client, minutes: float) -> None:
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - minutes * 60
    session.pop(TIMEOUT_CHECKED_KEY, None)  # make the middleware re-read the clinic setting
    session.save()


@pytest.fixture
def nurse_client(client, staff_a, clinic_a):
    sign_in(client, staff_a[Role.NURSE].email)
    assert client.get(f"/c/{clinic_a.slug}/").status_code == 200
    return client


def test_after_default_timeout_lands_on_login_with_message(nurse_client, clinic_a):
    idle_for(nurse_client, 16)
    response = nurse_client.get(f"/c/{clinic_a.slug}/patients/", follow=True)
    final_url, _ = response.redirect_chain[-1]
    assert final_url.startswith("/accounts/login/?next=")
    assert b"signed out after a period of inactivity" in response.content
    assert "_auth_user_id" not in nurse_client.session


def test_within_timeout_stays_signed_in(nurse_client, clinic_a):
    idle_for(nurse_client, 14)
    assert nurse_client.get(f"/c/{clinic_a.slug}/").status_code == 200


def test_clinic_setting_applies(nurse_client, clinic_a):
    clinic_a.idle_timeout_minutes = 30
    clinic_a.save()
    idle_for(nurse_client, 20)
    assert nurse_client.get(f"/c/{clinic_a.slug}/").status_code == 200
    idle_for(nurse_client, 31)
    assert nurse_client.get(f"/c/{clinic_a.slug}/").status_code == 302


def test_background_polls_do_not_count_as_activity(nurse_client, clinic_a):
    idle_for(nurse_client, 10)
    before = nurse_client.session[LAST_SEEN_KEY]
    nurse_client.get(f"/c/{clinic_a.slug}/", headers={"X-Stepdown-Background": "1"})
    assert nurse_client.session[LAST_SEEN_KEY] == before


def test_htmx_request_after_timeout_redirects_the_whole_page(nurse_client, clinic_a):
    idle_for(nurse_client, 16)
    response = nurse_client.get(f"/c/{clinic_a.slug}/patients/", headers={"HX-Request": "true"})
    assert response["HX-Redirect"].startswith("/accounts/login/")
