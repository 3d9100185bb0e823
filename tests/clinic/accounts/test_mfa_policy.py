"""A clinic that requires MFA sends members without an authenticator to enrolment, without loops;
enrolment and removal are audited on the platform chain."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.urls import reverse
from django.utils import timezone

from clinic.tenancy.roles import Role
from tests.clinic.accounts.helpers import platform_audit_events, sign_in


def current_code(secret: str) -> str:
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


@pytest.fixture
def strict_clinic(clinic_a):
    clinic_a.require_mfa = True
    clinic_a.save()
    return clinic_a


@pytest.mark.django_db
def test_member_without_mfa_is_sent_to_setup_without_loop(client, strict_clinic, staff_a):
    sign_in(client, staff_a[Role.NURSE].email)
    response = client.get(f"/c/{strict_clinic.slug}/patients/")
    assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp")
    setup = client.get(response["Location"])
    assert setup.status_code == 200 and b"Set up two-factor authentication" in setup.content
    assert b"requires two-factor authentication" in setup.content
    # Everything outside the clinic stays reachable: security pages, password change, sign-out.
    for name in ("mfa_index", "account_change_password", "account_logout"):
        assert client.get(reverse(name)).status_code == 200, name
    assert client.session["stepdown_after_mfa"] == f"/c/{strict_clinic.slug}/patients/"


@pytest.mark.django_db
def test_member_with_mfa_gets_in(client, strict_clinic, staff_a):
    user = staff_a[Role.NURSE]
    TOTP.activate(user, "JBSWY3DPEHPK3PXP")
    client.force_login(user)
    assert client.get(f"/c/{strict_clinic.slug}/").status_code == 200


@pytest.mark.django_db
def test_clinic_without_requirement_lets_member_in(client, clinic_a, staff_a):
    sign_in(client, staff_a[Role.NURSE].email)
    assert client.get(f"/c/{clinic_a.slug}/").status_code == 200


@pytest.mark.django_db
def test_htmx_request_is_redirected_as_a_page(client, strict_clinic, staff_a):
    sign_in(client, staff_a[Role.NURSE].email)
    response = client.get(f"/c/{strict_clinic.slug}/patients/", headers={"HX-Request": "true"})
    assert response["HX-Redirect"] == reverse("mfa_activate_totp")


@pytest.mark.django_db(transaction=True)
def test_activation_and_deactivation_are_audited(client, strict_clinic, staff_a):
    user = staff_a[Role.NURSE]
    sign_in(client, user.email)
    assert client.get(f"/c/{strict_clinic.slug}/")["Location"] == reverse("mfa_activate_totp")
    client.get(reverse("mfa_activate_totp"))
    secret = client.session["mfa.totp.secret"]
    bad_code = "000000" if current_code(secret) != "000000" else "111111"
    wrong = client.post(reverse("mfa_activate_totp"), {"code": bad_code})
    assert wrong.status_code == 200 and wrong.context["form"].errors["code"]

    activated = client.post(reverse("mfa_activate_totp"), {"code": current_code(secret)})
    assert activated.status_code == 302 and activated["Location"] == reverse("mfa_view_recovery_codes")
    codes_page = client.get(activated["Location"])
    assert codes_page.status_code == 200
    # "Continue" returns to the clinic page that sent the person to enrol.
    assert f'href="/c/{strict_clinic.slug}/"'.encode() in codes_page.content
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert client.get(f"/c/{strict_clinic.slug}/").status_code == 200

    # Still within the sign-in that set it up: it may be removed again without another prompt.
    assert client.post(reverse("mfa_deactivate_totp"))["Location"] == reverse("mfa_index")
    assert not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    events = [(event["actor_id"], event["detail"]) for event in platform_audit_events("mfa")]
    assert (user.pk, {"event": "authenticator_added", "authenticator": "totp"}) in events
    assert (user.pk, {"event": "authenticator_added", "authenticator": "recovery_codes"}) in events
    assert (user.pk, {"event": "authenticator_removed", "authenticator": "totp"}) in events


@pytest.mark.django_db
def test_removing_an_older_authenticator_asks_for_a_fresh_code(client, clinic_a, staff_a):
    user = staff_a[Role.NURSE]
    secret = "JBSWY3DPEHPK3PXP"
    TOTP.activate(user, secret)
    Authenticator.objects.filter(user=user).update(created_at=timezone.now() - timedelta(days=1))
    staged = sign_in(client, user.email)
    assert staged["Location"] == reverse("mfa_authenticate")
    assert client.post(reverse("mfa_authenticate"), {"code": current_code(secret)}).status_code == 302
    asked = client.post(reverse("mfa_deactivate_totp"))
    assert "/reauthenticate/" in asked["Location"]
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
