"""The alert inbox in a real browser: a clinician sees the open-alert badge, acknowledges an alert from the
inbox (htmx bulk acknowledge), opens it, is told a note is needed, resolves it with a note, and the history
shows both steps. Screenshots at desktop and phone width."""

from __future__ import annotations

import datetime
import re

import pytest

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from safety.findings import Finding
from safety.models import Alert
from safety.services import alerts_raise
from tests.conftest import PASSWORD, make_clinic, make_member, make_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def eager_celery(settings):
    """The new-alert email task runs in-process (locmem mail) instead of waiting in a broker queue."""
    from clinic.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_clinician_acknowledges_then_resolves_an_alert(page, artifacts_dir, eager_celery):
    clinic = make_clinic("alerts-e2e", name="Willow Clinic")
    clinician = make_member(clinic, Role.CLINICIAN, email="clinician@willow.example.org")
    patient = make_patient(clinic, first_name="Morgan", last_name="Hale", mrn="SD-000777")
    now = datetime.datetime.now(datetime.UTC)
    findings = [
        Finding(
            "spo2_low",
            patient.pk,
            "spo2_low:e2e-reading-1",
            {
                "kind": "vital_reading",
                "taken_at": now.isoformat(),
                "values": {"spo2": "89", "heart_rate": "61"},
            },
            now,
        ),
        Finding(
            "checkin_missed",
            patient.pk,
            "checkin_missed:e2e:day",
            {"local_date": now.date().isoformat()},
            now,
        ),
    ]
    critical = next(a for a in alerts_raise(clinic=clinic, findings=findings) if a.rule_id == "spo2_low")

    sign_in(page, clinician.email)
    page.wait_for_url(re.compile(r"/c/alerts-e2e/$"))
    assert page.locator("#open-alert-count").inner_text().startswith("2")
    page.get_by_role("link", name=re.compile(r"^Alerts")).click()
    page.wait_for_url("**/alerts/")
    rows = page.locator("table.inbox-table tbody tr")
    assert rows.count() == 2
    assert "Low oxygen saturation" in rows.nth(0).inner_text()  # critical before moderate
    page.screenshot(path=str(artifacts_dir / "alert-inbox-1200.png"), full_page=True)

    page.get_by_label(re.compile(r"^Select: Low oxygen saturation")).check()
    page.get_by_role("button", name="Acknowledge 1 selected").click()
    page.get_by_text("Acknowledged 1 alert.").wait_for()
    assert "Acknowledged" in page.locator("table.inbox-table tbody tr").nth(0).inner_text()

    page.get_by_role("link", name=re.compile(r"Low oxygen saturation")).click()
    page.wait_for_url(f"**/alerts/{critical.pk}/")
    assert page.get_by_role("heading", name="What to do").is_visible()
    assert "SpO2 (%)" in page.locator(".evidence").inner_text()

    page.get_by_role("button", name="Resolve", exact=True).click()  # no note yet
    page.get_by_text("a resolved alert needs a note").first.wait_for()
    page.get_by_label("What was done").fill(
        "Rechecked on a warm finger: 97% on air. Patient alert; no extra doses."
    )
    page.get_by_role("button", name="Resolve", exact=True).click()
    page.wait_for_url(f"**/alerts/{critical.pk}/")
    page.get_by_text("Resolved. The note is in the alert's history.").wait_for()

    history = page.locator("#history")
    assert history.locator('li[data-kind="acknowledged"]').count() == 1
    resolved = history.locator('li[data-kind="resolved"]')
    assert resolved.count() == 1 and "97% on air" in resolved.inner_text()
    assert "Clinician alerts-e2e" in resolved.inner_text()
    page.screenshot(path=str(artifacts_dir / "alert-detail-1200.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts_dir / "alert-detail-390.png"), full_page=True)

    with tenant_context(clinic):
        saved = Alert.objects.get(pk=critical.pk)
    assert (
        saved.status == "resolved" and saved.acknowledged_by == clinician and saved.resolved_by == clinician
    )
