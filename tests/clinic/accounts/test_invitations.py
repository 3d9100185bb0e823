"""Inviting staff: the emailed link, accepting as a new or existing person, and every refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from clinic.accounts.models import Invitation, User
from clinic.accounts.services import INVITATION_SALT
from clinic.tenancy.models import Membership
from clinic.tenancy.roles import Role
from tests.clinic.accounts.helpers import last_invite_path, sign_in, staff_url
from tests.conftest import PASSWORD, make_member

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "tapering-slowly-42-weeks"


def invite(clinic_admin_client, clinic, capture, email="new.nurse@example.org", roles=("nurse",)):
    with capture(execute=True):
        response = clinic_admin_client.post(
            staff_url(clinic, "invite"), {"email": email, "roles": list(roles)}
        )
    return response


def test_admin_invites_and_email_carries_signed_link(
    clinic_admin_client, clinic_a, django_capture_on_commit_callbacks
):
    response = invite(
        clinic_admin_client, clinic_a, django_capture_on_commit_callbacks, roles=("nurse", "psychiatrist")
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get(clinic=clinic_a, email="new.nurse@example.org")
    assert invitation.roles == ["nurse", "psychiatrist"]
    assert invitation.expires_at - timezone.now() > timedelta(days=6, hours=23)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new.nurse@example.org"]
    path = last_invite_path()
    assert invitation.token_hash not in path  # the hash never leaves the database
    page = clinic_admin_client.get(staff_url(clinic_a, "staff"))
    assert b"new.nurse@example.org" in page.content


def test_new_person_accepts_with_name_and_password(
    clinic_admin_client, clinic_a, django_capture_on_commit_callbacks
):
    invite(clinic_admin_client, clinic_a, django_capture_on_commit_callbacks)
    path = last_invite_path()
    clinic_admin_client.logout()

    assert clinic_admin_client.get(path).status_code == 200
    weak = clinic_admin_client.post(
        path, {"full_name": "Nia Nurse", "password1": "12345678", "password2": "12345678"}
    )
    assert weak.status_code == 200
    assert weak.context["form"].errors["password1"]
    assert not User.objects.filter(email="new.nurse@example.org").exists()

    mismatch = clinic_admin_client.post(
        path, {"full_name": "Nia Nurse", "password1": NEW_PASSWORD, "password2": "other"}
    )
    assert "password2" in mismatch.context["form"].errors

    done = clinic_admin_client.post(
        path, {"full_name": "Nia Nurse", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert done.status_code == 302
    assert done["Location"] == reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug})
    user = User.objects.get(email="new.nurse@example.org")
    assert user.full_name == "Nia Nurse" and user.check_password(NEW_PASSWORD)
    assert EmailAddress.objects.filter(user=user, verified=True, primary=True).exists()
    membership = Membership.objects.get(user=user, clinic=clinic_a)
    assert membership.roles == ["nurse"] and membership.is_active
    assert Invitation.objects.get(email=user.email).accepted_by == user
    # Signed in straight away, and the dashboard opens.
    assert clinic_admin_client.get(done["Location"]).status_code == 200

    used = clinic_admin_client.get(path)
    assert used.status_code == 410
    assert b"already been used" in used.content


def test_existing_user_must_sign_in_as_that_email(
    client, staff_a, clinic_b, django_capture_on_commit_callbacks
):
    other_admin = make_member(clinic_b, Role.CLINIC_ADMIN, email="boss@clinic-b.example.org")
    existing = make_member(clinic_b, Role.NURSE, email="float.nurse@example.org")
    client.force_login(staff_a[Role.CLINIC_ADMIN])
    invite(
        client,
        staff_a[Role.CLINIC_ADMIN].memberships.get().clinic,
        django_capture_on_commit_callbacks,
        email="Float.Nurse@example.org",
        roles=("nurse", "admissions"),
    )
    path = last_invite_path()
    client.logout()

    anonymous = client.get(path)
    assert anonymous.status_code == 200 and b"Sign in to accept" in anonymous.content
    # Posting a new-account form for an address that has an account only shows the sign-in prompt again.
    again = client.post(path, {"full_name": "X", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert b"Sign in to accept" in again.content
    assert User.objects.filter(email__iexact="float.nurse@example.org").count() == 1

    client.force_login(other_admin)
    wrong = client.post(path)
    assert wrong.status_code == 403
    assert not Membership.objects.filter(user=other_admin, clinic__slug="clinic-a").exists()

    client.logout()
    sign_in(client, existing.email)
    accepted = client.post(path)
    assert accepted.status_code == 302
    membership = Membership.objects.get(user=existing, clinic__slug="clinic-a")
    assert sorted(membership.roles) == ["admissions", "nurse"]
    assert Membership.objects.get(user=existing, clinic=clinic_b).is_active  # other clinic untouched


def test_expired_link_is_refused(clinic_admin_client, clinic_a, django_capture_on_commit_callbacks):
    invite(clinic_admin_client, clinic_a, django_capture_on_commit_callbacks)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    clinic_admin_client.logout()
    response = clinic_admin_client.get(last_invite_path())
    assert response.status_code == 410 and b"expired" in response.content
    assert not User.objects.filter(email="new.nurse@example.org").exists()


def test_revoked_link_is_refused(clinic_admin_client, clinic_a, django_capture_on_commit_callbacks):
    invite(clinic_admin_client, clinic_a, django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get()
    revoke = clinic_admin_client.post(staff_url(clinic_a, "invitation-revoke", invitation_id=invitation.pk))
    assert revoke.status_code == 302
    clinic_admin_client.logout()
    path = last_invite_path()
    response = clinic_admin_client.post(
        path, {"full_name": "N", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 410 and b"withdrawn" in response.content
    assert not User.objects.filter(email="new.nurse@example.org").exists()


@pytest.mark.parametrize("tamper", ["signature", "token"])
def test_tampered_link_is_refused(clinic_admin_client, clinic_a, django_capture_on_commit_callbacks, tamper):
    invite(clinic_admin_client, clinic_a, django_capture_on_commit_callbacks)
    path = last_invite_path()
    invitation = Invitation.objects.get()
    if tamper == "signature":
        signed = path.split("/")[2]
        bad = f"/invite/{signed[:-3]}{'A' if signed[-3] != 'A' else 'B'}{signed[-2:]}/"
    else:  # correctly signed, but not the secret that was issued
        bad = "/invite/" + signing.dumps({"i": invitation.pk, "t": "guessed"}, salt=INVITATION_SALT) + "/"
    clinic_admin_client.logout()
    response = clinic_admin_client.post(
        bad, {"full_name": "N", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 410 and b"not valid" in response.content
    assert Invitation.objects.get().accepted_at is None


def test_reinvite_replaces_open_invitation(clinic_admin_client, clinic_a, django_capture_on_commit_callbacks):
    invite(clinic_admin_client, clinic_a, django_capture_on_commit_callbacks)
    first = last_invite_path()
    invite(clinic_admin_client, clinic_a, django_capture_on_commit_callbacks, roles=("admissions",))
    assert Invitation.objects.filter(revoked_at__isnull=True).get().roles == ["admissions"]
    clinic_admin_client.logout()
    assert clinic_admin_client.get(first).status_code == 410


def test_invite_form_errors(clinic_admin_client, clinic_a, staff_a, django_capture_on_commit_callbacks):
    member = invite(
        clinic_admin_client, clinic_a, django_capture_on_commit_callbacks, email=staff_a[Role.NURSE].email
    )
    assert member.status_code == 200 and "already a member" in str(member.context["invite_form"].errors)
    bad = clinic_admin_client.post(
        staff_url(clinic_a, "invite"), {"email": "not-an-email", "roles": ["wizard"]}
    )
    assert set(bad.context["invite_form"].errors) == {"email", "roles"}
    assert not Invitation.objects.exists() and not mail.outbox


def test_only_staff_managers_may_invite(client, clinic_a, staff_a):
    client.force_login(staff_a[Role.NURSE])
    assert (
        client.post(staff_url(clinic_a, "invite"), {"email": "x@example.org", "roles": ["nurse"]}).status_code
        == 403
    )
    assert client.get(staff_url(clinic_a, "staff")).status_code == 403
    assert not Invitation.objects.exists()


def test_cannot_revoke_other_clinics_invitation(
    client, clinic_a, clinic_b, staff_a, staff_b, django_capture_on_commit_callbacks
):
    client.force_login(staff_b[Role.CLINIC_ADMIN])
    invite(client, clinic_b, django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get()
    client.force_login(staff_a[Role.CLINIC_ADMIN])
    assert (
        client.post(staff_url(clinic_a, "invitation-revoke", invitation_id=invitation.pk)).status_code == 404
    )
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_password_is_never_in_email_or_db_plain(
    clinic_admin_client, clinic_a, django_capture_on_commit_callbacks
):
    invite(clinic_admin_client, clinic_a, django_capture_on_commit_callbacks)
    path = last_invite_path()
    clinic_admin_client.logout()
    clinic_admin_client.post(path, {"full_name": "Nia", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert User.objects.get(email="new.nurse@example.org").password != NEW_PASSWORD
    assert PASSWORD not in mail.outbox[0].body
