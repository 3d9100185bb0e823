"""Email sign-in, throttling after failed attempts, failed-login audit, password reset, closed sign-up."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from clinic.tenancy.roles import Role
from tests.clinic.accounts.helpers import platform_audit_events, sign_in
from tests.conftest import PASSWORD

WRONG = "not-the-password"


@pytest.mark.django_db
def test_login_page_has_labels_and_no_signup_link(client):
    page = client.get(reverse("account_login"))
    assert page.status_code == 200
    body = page.content.decode()
    assert '<label for="id_login">' in body and '<label for="id_password">' in body
    assert "Forgot your password?" in body
    assert reverse("account_signup") not in body


@pytest.mark.django_db
def test_signup_is_closed(client):
    page = client.get(reverse("account_signup"))
    assert b"Sign-up is closed" in page.content
    client.post(
        reverse("account_signup"), {"email": "x@example.org", "password1": PASSWORD, "password2": PASSWORD}
    )
    from clinic.accounts.models import User

    assert not User.objects.filter(email="x@example.org").exists()


@pytest.mark.django_db
def test_email_login_reaches_the_clinic(client, staff_a, clinic_a):
    response = sign_in(client, staff_a[Role.NURSE].email.upper())
    assert response.status_code == 302
    assert client.get(response["Location"], follow=True).redirect_chain[-1][0] == f"/c/{clinic_a.slug}/"


@pytest.mark.django_db
def test_wrong_password_gives_clear_error(client, staff_a):
    response = sign_in(client, staff_a[Role.NURSE].email, WRONG)
    assert response.status_code == 200
    assert b"email address and/or password you specified are not correct" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db(transaction=True)
def test_five_failures_lock_the_account_and_are_audited(client, staff_a):
    email = staff_a[Role.NURSE].email
    for _ in range(5):
        assert sign_in(client, email, WRONG).status_code == 200
    refused = sign_in(client, email, PASSWORD)
    assert refused.status_code == 200
    assert b"Too many failed login attempts" in refused.content
    assert "_auth_user_id" not in client.session

    failures = platform_audit_events("login_failed")
    # Five wrong passwords, then the refused (throttled) sixth attempt: every failed sign-in is audited.
    assert len(failures) == 6
    assert [bool(event["detail"].get("throttled")) for event in failures] == [False] * 5 + [True]
    assert {event["actor_label"] for event in failures} == {email}
    assert all(event["actor_id"] is None and "password" not in event["detail"] for event in failures)
    assert platform_audit_events("login") == []

    # Another account from the same browser is not locked by this one's failures.
    other = sign_in(client, staff_a[Role.ADMISSIONS].email, PASSWORD)
    assert other.status_code == 302
    assert [event["actor_label"] for event in platform_audit_events("login")] == [
        staff_a[Role.ADMISSIONS].email
    ]


@pytest.mark.django_db
def test_password_reset_end_to_end(client, staff_a):
    user = staff_a[Role.NURSE]
    response = client.post(reverse("account_reset_password"), {"email": user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", mail.outbox[0].body).group(1)

    form_page = client.get(link, follow=True)
    assert b"Choose a new password" in form_page.content
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    weak = client.post(set_url, {"password1": "short", "password2": "short"})
    assert weak.status_code == 200 and b"too short" in weak.content

    new_password = "a-brand-new-passphrase-9"
    done = client.post(set_url, {"password1": new_password, "password2": new_password})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new_password)
    assert sign_in(client, user.email, new_password).status_code == 302

    client.logout()
    reused = client.get(link, follow=True)
    assert b"cannot be used" in reused.content


@pytest.mark.django_db
def test_unknown_email_reset_does_not_reveal_accounts(client):
    response = client.post(reverse("account_reset_password"), {"email": "nobody@example.org"})
    assert response.status_code == 302
    assert b"Check your email" in client.get(response["Location"]).content
