"""MFA in a real browser: enrol an authenticator app, sign out, sign in with password + TOTP code."""

from __future__ import annotations

import re

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time

from clinic.tenancy.roles import Role
from tests.conftest import PASSWORD, make_clinic, make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def totp_now(secret: str) -> str:
    """RFC 6238 code for the current 30-second step, via allauth's own HOTP helper."""
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_enrol_totp_then_sign_in_with_code(page, artifacts_dir):
    clinic = make_clinic("mfa-clinic", name="Maple Clinic")
    nurse = make_member(clinic, Role.NURSE, email="nurse@maple.example.org")

    sign_in(page, nurse.email)
    page.wait_for_url(re.compile(r"/c/mfa-clinic/$"))
    page.goto("/accounts/2fa/")
    page.get_by_role("link", name="Set up").click()
    page.wait_for_url("**/accounts/2fa/totp/activate/")
    secret = page.get_by_label("Secret key").input_value()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    page.get_by_label("Authenticator code").fill(totp_now(secret))
    page.get_by_role("button", name="Activate").click()
    page.wait_for_url("**/accounts/2fa/recovery-codes/")
    assert len(page.get_by_label("Unused codes").input_value().split()) == 10

    page.goto("/accounts/logout/")
    page.locator("main").get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))

    sign_in(page, nurse.email)
    page.wait_for_url("**/accounts/2fa/authenticate/")
    page.get_by_label("Code").fill(totp_now(secret))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/c/mfa-clinic/$"))
    assert page.get_by_role("heading", level=1).inner_text().strip() != ""
    assert "Maple Clinic" in page.title()


def test_clinic_requiring_mfa_sends_member_to_setup(page, artifacts_dir):
    clinic = make_clinic("strict-clinic", name="Strict Clinic", require_mfa=True)
    nurse = make_member(clinic, Role.NURSE, email="nurse@strict.example.org")

    sign_in(page, nurse.email)
    page.wait_for_url("**/accounts/2fa/totp/activate/")
    assert page.get_by_text("Strict Clinic requires two-factor authentication").is_visible()
    assert page.get_by_role("img", name=re.compile("QR code")).is_visible()
    page.screenshot(path=str(artifacts_dir / "mfa-setup.png"), full_page=True)

    # Enrolling opens the clinic.
    secret = page.get_by_label("Secret key").input_value()
    page.get_by_label("Authenticator code").fill(totp_now(secret))
    page.get_by_role("button", name="Activate").click()
    page.wait_for_url("**/accounts/2fa/recovery-codes/")
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(re.compile(r"/c/strict-clinic/$"))
