"""The clinic settings page: validation errors save nothing; valid changes are saved and audited."""

from __future__ import annotations

import pytest

from clinic.tenancy.models import Clinic
from tests.clinic.accounts.helpers import clinic_audit_events, staff_url

pytestmark = pytest.mark.django_db

VALID = {
    "name": "Alder Clinic",
    "timezone": "America/Chicago",
    "idle_timeout_minutes": "30",
    "require_mfa": "on",
}


def snapshot(clinic) -> tuple:
    fresh = Clinic.objects.get(pk=clinic.pk)
    return fresh.name, fresh.timezone, fresh.idle_timeout_minutes, fresh.require_mfa


def test_settings_page_shows_current_values(clinic_admin_client, clinic_a):
    page = clinic_admin_client.get(staff_url(clinic_a, "settings"))
    assert page.status_code == 200
    assert b'value="America/New_York"' in page.content and b'for="id_idle_timeout_minutes"' in page.content


def test_valid_change_is_saved_and_audited(clinic_admin_client, clinic_a):
    response = clinic_admin_client.post(staff_url(clinic_a, "settings"), VALID)
    assert response.status_code == 302
    assert snapshot(clinic_a) == ("Alder Clinic", "America/Chicago", 30, True)
    [event] = clinic_audit_events(clinic_a)
    assert event.detail["event"] == "settings_changed"
    assert event.detail["changes"]["idle_timeout_minutes"] == [15, 30]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus_Mons", "not a known time zone"),
        ("timezone", "", "required"),
        ("idle_timeout_minutes", "4", "greater than or equal to 5"),
        ("idle_timeout_minutes", "241", "less than or equal to 240"),
        ("idle_timeout_minutes", "ten", "whole number"),
        ("name", "", "required"),
        ("name", "x" * 201, "at most 200"),
    ],
)
def test_bad_values_are_form_errors_and_nothing_is_saved(
    clinic_admin_client, clinic_a, field, value, message
):
    before = snapshot(clinic_a)
    response = clinic_admin_client.post(staff_url(clinic_a, "settings"), {**VALID, field: value})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field], errors
    assert message in str(errors[field])
    assert snapshot(clinic_a) == before
    assert clinic_audit_events(clinic_a) == []
