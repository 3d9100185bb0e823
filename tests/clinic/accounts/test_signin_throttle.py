"""Sign-in abuse: failures at one address never lock the owner out elsewhere, and every refused attempt
is audited whatever layer refused it (password, failed-login throttle, per-address 429, two-factor code,
two-factor throttle)."""

from __future__ import annotations

import time

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.test import override_settings
from django.urls import reverse

from clinic.tenancy.roles import Role
from tests.clinic.accounts.helpers import platform_audit_events
from tests.clinic.accounts.test_mfa_policy import current_code
from tests.conftest import PASSWORD

WRONG = "not-the-password"
ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"
SECRET = "JBSWY3DPEHPK3PXP"


def post_login(client, email: str, password: str, ip: str):
    return client.post(reverse("account_login"), {"login": email, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.django_db(transaction=True)
def test_failures_from_one_address_do_not_lock_the_owner_out_elsewhere(client, staff_a):
    from django.test import Client

    email = staff_a[Role.NURSE].email
    attacker = Client()
    for _ in range(5):
        assert post_login(attacker, email, WRONG, ATTACKER).status_code == 200
    # The attacker's address is slowed, even with the right password...
    refused = post_login(attacker, email, PASSWORD, ATTACKER)
    assert refused.status_code == 200 and b"Too many failed login attempts" in refused.content
    # ...while the owner, at another address, signs in at once.
    owner = post_login(client, email, PASSWORD, OWNER)
    assert owner.status_code == 302 and "_auth_user_id" in client.session

    failures = platform_audit_events("login_failed")
    assert len(failures) == 6
    assert {event["ip_address"] for event in failures} == {ATTACKER}
    assert [bool(event["detail"].get("throttled")) for event in failures] == [False] * 5 + [True]
    logins = platform_audit_events("login")
    assert [(event["actor_label"], event["ip_address"]) for event in logins] == [(email, OWNER)]


@pytest.mark.django_db(transaction=True)
def test_the_throttle_escalates_for_one_address(client, staff_a):
    """Past the short window the longer limit of the same address and account still holds (a short window
    and a small daily count stand in for 15 minutes and 30 a day)."""
    email = staff_a[Role.NURSE].email
    with override_settings(ACCOUNT_RATE_LIMITS={"login_failed": "50/m/ip,3/2s/key,5/24h/key"}):
        for _ in range(3):
            post_login(client, email, WRONG, ATTACKER)
        assert b"Too many failed login attempts" in post_login(client, email, PASSWORD, ATTACKER).content
        time.sleep(2.1)  # the short window passes
        for _ in range(2):
            assert b"Too many" not in post_login(client, email, WRONG, ATTACKER).content
        assert b"Too many failed login attempts" in post_login(client, email, PASSWORD, ATTACKER).content
        assert post_login(client, email, PASSWORD, OWNER).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_too_many_requests_from_an_address_is_429_and_audited(client, staff_a):
    email = staff_a[Role.NURSE].email
    with override_settings(ACCOUNT_RATE_LIMITS={"login": "3/m/ip", "login_failed": "20/m/ip,5/15m/key"}):
        for _ in range(3):
            assert post_login(client, email, WRONG, ATTACKER).status_code == 200
        refused = post_login(client, email, PASSWORD, ATTACKER)
    assert refused.status_code == 429
    assert b"Too many attempts" in refused.content
    assert "_auth_user_id" not in client.session
    failures = platform_audit_events("login_failed")
    assert len(failures) == 4
    last = failures[-1]
    assert last["detail"] == {"email": email, "throttled": True, "limit": "requests per address"}
    assert last["actor_id"] is None and last["ip_address"] == ATTACKER


@pytest.fixture
def nurse_with_totp(staff_a):
    user = staff_a[Role.NURSE]
    TOTP.activate(user, SECRET)
    return user


@pytest.mark.django_db(transaction=True)
def test_wrong_two_factor_code_is_audited_and_the_right_one_signs_in(client, nurse_with_totp):
    user = nurse_with_totp
    assert post_login(client, user.email, PASSWORD, OWNER)["Location"] == reverse("mfa_authenticate")
    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"}, REMOTE_ADDR=OWNER)
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session
    assert platform_audit_events("login") == []  # the password alone does not sign in

    right = client.post(reverse("mfa_authenticate"), {"code": current_code(SECRET)}, REMOTE_ADDR=OWNER)
    assert right.status_code == 302 and "_auth_user_id" in client.session

    failures = platform_audit_events("login_failed")
    assert [(event["actor_id"], event["detail"]) for event in failures] == [
        (user.pk, {"email": user.email, "stage": "mfa", "authenticator": "totp"})
    ]
    assert failures[0]["ip_address"] == OWNER
    assert [event["actor_id"] for event in platform_audit_events("login")] == [user.pk]


@pytest.mark.django_db(transaction=True)
def test_two_factor_throttle_is_audited(client, nurse_with_totp):
    user = nurse_with_totp
    post_login(client, user.email, PASSWORD, OWNER)
    for _ in range(5):
        client.post(reverse("mfa_authenticate"), {"code": "000000"}, REMOTE_ADDR=OWNER)
    refused = client.post(reverse("mfa_authenticate"), {"code": current_code(SECRET)}, REMOTE_ADDR=OWNER)
    assert refused.status_code == 200 and b"Too many failed login attempts" in refused.content
    assert "_auth_user_id" not in client.session

    failures = platform_audit_events("login_failed")
    assert [event["detail"].get("stage") for event in failures] == ["mfa"] * 6
    assert [bool(event["detail"].get("throttled")) for event in failures] == [False] * 5 + [True]
    assert {event["actor_id"] for event in failures} == {user.pk}
