"""The strict Content-Security-Policy in a real browser: the main pages report no violation, and the app's
own scripts and htmx still run under it (the nav toggle, htmx panels and search, the copy button, the TOTP
QR code, Swagger UI with its own allowance). Every other browser test also fails on a violation (the
`csp_violations` fixture of tests/e2e/conftest.py); here it is asserted over the main pages on purpose."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from clinic.tenancy.roles import Role
from tests.clinic.tenancy.registry import factory_for_kwarg
from tests.conftest import PASSWORD, make_clinic, make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def watched(page, csp_violations):
    """The page, and the CSP violations its documents report (collected by tests/e2e/conftest.py)."""
    return page, csp_violations


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_main_pages_run_without_csp_violations(watched):
    page, violations = watched
    clinic = make_clinic("csp-clinic", name="Cedar Clinic")
    member = make_member(clinic, Role.CLINIC_ADMIN, email="admin@cedar.example.org")
    from clinic.tenancy.models import Membership

    Membership.objects.filter(user=member, clinic=clinic).update(roles=list(Role))
    plan = factory_for_kwarg("plan_id").create(clinic)
    patient_id = plan.patient_id
    base = f"/c/{clinic.slug}/"

    sign_in(page, member.email)
    page.wait_for_url(re.compile(rf"{base}$"))

    # The patient page: its taper panel is loaded by htmx (a script from 'self' doing a fetch).
    page.goto(f"{base}patients/{patient_id}/")
    page.locator("#taper-build, #taper-panel a, [id^=taper]").first.wait_for()
    page.goto(f"{base}taper/plans/{plan.pk}/")
    page.locator("h1").wait_for()

    # The patient list's live search swaps rows with htmx.
    page.goto(f"{base}patients/")
    page.locator("#q").fill("Probe")
    page.wait_for_function("() => document.querySelector('[data-result-count]') !== null")

    for path in ("", "schedule/week/", "alerts/", "audit/", "admin/api-clients/"):
        page.goto(base + path)
        page.locator("main").wait_for()

    # stepdown.js ran: on a phone-width window the menu button it un-hides is shown.
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(base)
    assert page.locator(".nav-toggle").is_visible()
    page.set_viewport_size({"width": 1200, "height": 900})

    # The TOTP QR code is a data: image, allowed by img-src.
    page.goto(reverse("mfa_activate_totp"))
    qr = page.get_by_alt_text(re.compile("QR code"))
    qr.wait_for()
    assert page.evaluate("(img) => img.naturalWidth > 0", qr.element_handle())

    assert not violations, "\n".join(violations)


def test_token_copy_button_works_without_an_inline_handler(watched):
    page, violations = watched
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    clinic = make_clinic("csp-tokens", name="Spruce Clinic")
    admin = make_member(clinic, Role.CLINIC_ADMIN, email="admin@spruce.example.org")
    sign_in(page, admin.email)
    page.wait_for_url(re.compile(r"/c/csp-tokens/$"))
    page.goto("/c/csp-tokens/admin/api-clients/")
    page.get_by_label("Name").fill("EHR sync")
    page.get_by_label("Nurse", exact=True).check()
    page.get_by_role("button", name=re.compile("Create")).click()
    copy = page.get_by_role("button", name="Copy token")
    copy.click()  # visible only because stepdown.js un-hid it
    page.get_by_role("button", name="Copied").wait_for()
    token = page.locator("#new-token").input_value()
    assert page.evaluate("navigator.clipboard.readText()") == token
    assert not violations, "\n".join(violations)


def test_swagger_ui_renders_under_its_own_allowances(watched):
    page, violations = watched
    page.goto("/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "Stepdown API" in page.locator(".swagger-ui .info .title").inner_text()
    assert not violations, "\n".join(violations)
