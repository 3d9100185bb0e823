"""A check-in link that is expired, revoked, tampered with, malformed or for another clinic is refused
with a plain page, and records nothing — for a GET and for a POST of a complete check-in."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from clinic.tenancy.context import tenant_context
from tests.clinic.tenancy.registry import snapshot
from tests.conftest import make_patient
from tests.vitals.checkins.factories import form_data, make_link
from vitals.checkins import services
from vitals.checkins.models import CheckInLink
from vitals.checkins.selectors import TOKEN_SALT, checkin_link_token

pytestmark = pytest.mark.django_db


def _sign(payload, salt: str = TOKEN_SALT) -> str:
    return signing.Signer(salt=salt).sign_object(payload)


def _url(token: str) -> str:
    return reverse("checkin-public:checkin", kwargs={"token": token})


def _token(clinic, link) -> str:
    with tenant_context(clinic):
        return checkin_link_token(link)


def _assert_refused(token: str, clinics, *, status: int, words: str) -> None:
    before = [snapshot(clinic) for clinic in clinics]
    client = Client()
    for response in (client.get(_url(token)), client.post(_url(token), form_data(with_plan=False))):
        assert response.status_code == status, response.status_code
        body = response.content.decode()
        assert words in body
        assert "Nothing was saved" in body
        assert "Avery" not in body and "Blake" not in body  # no patient data on a refusal
        assert response["X-Robots-Tag"].startswith("noindex")
    assert [snapshot(clinic) for clinic in clinics] == before, "a refused link wrote something"


def test_expired_link_is_410(clinic_a, clinic_b, patient, link):
    with tenant_context(clinic_a):
        CheckInLink.objects.filter(pk=link.pk).update(
            expires_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
        )
    _assert_refused(
        _token(clinic_a, link),
        [clinic_a, clinic_b],
        status=410,
        words="This link has expired — ask your care team for a new one.",
    )


def test_revoked_link_is_410(clinic_a, clinic_b, patient, link, staff_a):
    with tenant_context(clinic_a):
        services.checkin_link_revoke(actor=staff_a["nurse"], link=link, reason="lost phone")
    _assert_refused(_token(clinic_a, link), [clinic_a, clinic_b], status=410, words="turned off")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature changed
        lambda t: ("x" + t[1:]) if t[0] != "x" else ("y" + t[1:]),  # payload changed
        lambda t: t.split(":")[0],  # signature removed
        lambda t: t + "x",
    ],
)
def test_tampered_token_is_404(clinic_a, clinic_b, patient, link, tamper):
    _assert_refused(tamper(_token(clinic_a, link)), [clinic_a, clinic_b], status=404, words="does not work")


def test_token_signed_for_another_purpose_is_404(clinic_a, clinic_b, patient, link):
    token = _sign([clinic_a.pk, link.pk.hex], salt="stepdown.accounts.invitation")
    _assert_refused(token, [clinic_a, clinic_b], status=404, words="does not work")


def test_other_clinics_link_under_this_clinics_id_is_404(clinic_a, clinic_b, patient, link):
    """A validly signed token whose clinic id is not the link's clinic: the lookup runs inside the named
    clinic, where the other clinic's link does not exist."""
    patient_b = make_patient(clinic_b, first_name="Blake", last_name="Birch", status="active")
    link_b = make_link(clinic_b, patient_b)
    for clinic_id, link_id in ((clinic_a.pk, link_b.pk), (clinic_b.pk, link.pk)):
        token = _sign([clinic_id, link_id.hex])
        _assert_refused(token, [clinic_a, clinic_b], status=404, words="does not work")


@pytest.mark.parametrize(
    "payload",
    [
        {"c": 1},
        [1],
        ["1", uuid.uuid4().hex],
        [True, uuid.uuid4().hex],
        [1, "not-a-uuid"],
        [1, 12345],
        "hello",
        None,
    ],
)
def test_signed_but_malformed_payload_is_404(clinic_a, clinic_b, patient, link, payload):
    _assert_refused(_sign(payload), [clinic_a, clinic_b], status=404, words="does not work")


@pytest.mark.parametrize("token", ["not-a-token", "a" * 300, "%00", "..", "é"])
def test_garbage_token_is_404(clinic_a, clinic_b, token):
    _assert_refused(token, [clinic_a, clinic_b], status=404, words="does not work")


def test_unknown_link_and_unknown_clinic_are_404(clinic_a, clinic_b, patient, link):
    for payload in ([clinic_a.pk, uuid.uuid4().hex], [987654, link.pk.hex]):
        _assert_refused(_sign(payload), [clinic_a, clinic_b], status=404, words="does not work")


def test_link_of_an_inactive_clinic_is_404(clinic_a, clinic_b, patient, link):
    clinic_a.is_active = False
    clinic_a.save(update_fields=["is_active"])
    _assert_refused(_token(clinic_a, link), [clinic_a, clinic_b], status=404, words="does not work")


def test_refusal_page_still_shows_emergency_numbers(clinic_a, patient, link):
    with tenant_context(clinic_a):
        services.checkin_link_revoke(actor=None, link=link)
    body = Client().get(_url(_token(clinic_a, link))).content.decode()
    assert 'href="tel:911"' in body and 'href="tel:988"' in body


def test_token_is_stable_and_names_no_patient(clinic_a, patient, link):
    token = _token(clinic_a, link)
    assert token == _token(clinic_a, link)
    assert _sign([clinic_a.pk, link.pk.hex]) == token
    # A timestamped token (signing.dumps) of the same payload is not accepted: one format only.
    _assert_refused(
        signing.dumps([clinic_a.pk, link.pk.hex], salt=TOKEN_SALT),
        [clinic_a],
        status=404,
        words="does not work",
    )
    assert "Avery" not in signing.b64_decode(token.split(":")[0].encode() + b"==").decode(errors="ignore")


# --- link service rules -----------------------------------------------------------------------------------
def test_link_lifetime_bounds(clinic_a, patient):
    from django.core.exceptions import ValidationError

    with tenant_context(clinic_a):
        for days in (0, 91, "x"):
            with pytest.raises(ValidationError):
                services.checkin_link_create(actor=None, patient=patient, days=days)
        link = services.checkin_link_create(actor=None, patient=patient, days=90)
    assert (
        datetime.timedelta(days=89, hours=23)
        < link.expires_at - link.created_at
        <= datetime.timedelta(days=90)
    )


def test_no_link_for_a_discharged_patient(clinic_a):
    from django.core.exceptions import ValidationError

    gone = make_patient(clinic_a, status="discharged")
    with tenant_context(clinic_a), pytest.raises(ValidationError, match="discharged"):
        services.checkin_link_create(actor=None, patient=gone)


def test_create_and_revoke_are_audited(clinic_a, patient, staff_a):
    from clinic.audit.models import AuditEvent

    nurse = staff_a["nurse"]
    with tenant_context(clinic_a):
        link = services.checkin_link_create(actor=nurse, patient=patient, days=14)
        services.checkin_link_revoke(actor=nurse, link=link, reason="lost phone")
        services.checkin_link_revoke(actor=nurse, link=link, reason="again")  # no second event
        events = list(AuditEvent.objects.filter(object_id=str(link.pk)).order_by("id"))
        link.refresh_from_db()
    assert [e.detail["event"] for e in events] == ["checkin_link_created", "checkin_link_revoked"]
    assert all(e.actor_id == nurse.pk and str(e.patient_id) == str(patient.pk) for e in events)
    assert link.revoked_by == nurse and link.revoke_reason == "lost phone"
