"""The navigation badge's open-alert count: cached per clinic (30 s), dropped when alerts open or close."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from safety import services
from tests.conftest import client_for
from tests.safety.conftest import raise_one

pytestmark = pytest.mark.django_db


def badge(client) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as ctx:
        page = client.get("/c/clinic-a/").content.decode()
    counts = sum(1 for q in ctx.captured_queries if "COUNT(*)" in q["sql"] and '"safety_alert"' in q["sql"])
    start = page.find('id="open-alert-count"')
    shown = page[page.find(">", start) + 1 : page.find("<", start)] if start >= 0 else ""
    return shown, counts


def test_the_count_is_cached_and_follows_raising_and_closing(
    clinic_a, clinic_b, staff_a, patient_a, patient_b
):
    nurse = client_for(staff_a[Role.NURSE])
    first = raise_one(clinic_a, patient_a)
    assert badge(nurse) == ("1", 1)
    assert badge(nurse) == ("1", 0)  # the second page does not count again
    raise_one(clinic_b, patient_b)  # another clinic's alert: its own key
    assert badge(nurse) == ("1", 0)
    raise_one(clinic_a, patient_a, "checkin_missed")
    assert badge(nurse) == ("2", 1)
    with tenant_context(clinic_a):
        services.alert_acknowledge(actor=staff_a[Role.NURSE], alert=first)
    assert badge(nurse) == ("1", 1)
