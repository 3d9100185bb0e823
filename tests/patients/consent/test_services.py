"""Consent services and THE gate against the real database: validation, immutability, revocation,
exactly one accounting row per allowed disclosure and none for a refused one."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from patients.consent import services
from patients.consent.models import Consent, ConsentRecipient, Disclosure
from tests.dates import clinic_date
from tests.patients.consent.factories import consent_in, recipient_in, signed_fields, tpo_fields

pytestmark = pytest.mark.django_db
TODAY = clinic_date()


def _counts(clinic):
    with tenant_context(clinic):
        return Consent.objects.count(), ConsentRecipient.objects.count(), Disclosure.objects.count()


def _send(clinic, patient, recipient, **kw):
    args = {
        "purpose": "treatment",
        "information": ["medications"],
        "channel": "fax",
        "description": "Taper summary",
        **kw,
    }
    with tenant_context(clinic):
        return services.disclose(actor=None, patient=patient, recipient=recipient, **args)


def test_allowed_disclosure_writes_exactly_one_row_and_a_disclose_event(clinic_a, patient_a, prescriber):
    consent = consent_in(clinic_a, patient_a, recipients=[prescriber])
    row = _send(clinic_a, patient_a, prescriber, document=b"%PDF-fake")
    with tenant_context(clinic_a):
        assert Disclosure.objects.count() == 1
        assert row.consent_id == consent.pk and row.channel == "fax" and len(row.document_sha256) == 64
        event = AuditEvent.objects.filter(action=AuditEvent.Action.DISCLOSE).get()
        assert event.patient_id == patient_a.pk and event.object_id == str(row.pk)


@pytest.mark.parametrize(
    ("overrides", "ask", "reason"),
    [
        ({}, {"purpose": "payment"}, "purpose payment not covered"),
        ({}, {"information": ["diagnoses"]}, "information not covered"),
        ({"expires_on": TODAY}, {}, "consent expired on"),
        ({"signed_on": None, "signed_by": "", "signature_method": ""}, {}, "not signed yet"),
    ],
)
def test_refused_disclosure_writes_nothing(clinic_a, patient_a, prescriber, overrides, ask, reason):
    consent_in(clinic_a, patient_a, recipients=[prescriber], **overrides)
    with tenant_context(clinic_a):
        before = AuditEvent.objects.count()
    with pytest.raises(services.DisclosureRefused) as refused:
        _send(clinic_a, patient_a, prescriber, **ask)
    assert any(reason in r for r in refused.value.reasons), refused.value.reasons
    with tenant_context(clinic_a):
        assert Disclosure.objects.count() == 0 and AuditEvent.objects.count() == before


def test_unnamed_recipient_and_revoked_consent_are_refused(clinic_a, patient_a, prescriber):
    consent = consent_in(clinic_a, patient_a, recipients=[prescriber])
    other = recipient_in(clinic_a)
    with tenant_context(clinic_a):
        assert (
            "recipient not named"
            in services.may_disclose(
                patient=patient_a, recipient=other, purpose="treatment", information=["medications"]
            ).reasons[0]
        )
        services.consent_revoke(actor=None, consent=consent, revoked_on=TODAY, method="oral", reason="moved")
        decision = services.may_disclose(
            patient=patient_a, recipient=prescriber, purpose="treatment", information=["medications"]
        )
        assert not decision.allowed and "revoked on" in decision.reasons[0]
        # Nothing was deleted: the consent is still there with its revocation appended.
        kept = Consent.objects.get(pk=consent.pk)
        assert (
            kept.revoked_on == TODAY
            and kept.revocation_method == "oral"
            and kept.recipient_links.count() == 1
        )


def test_gate_decides_for_the_day_asked(clinic_a, patient_a, prescriber):
    consent_in(clinic_a, patient_a, recipients=[prescriber], expires_on=TODAY + datetime.timedelta(days=5))
    with tenant_context(clinic_a):
        ask = {
            "patient": patient_a,
            "recipient": prescriber,
            "purpose": "treatment",
            "information": ["medications"],
        }
        assert services.may_disclose(**ask).allowed
        assert not services.may_disclose(**ask, at=TODAY + datetime.timedelta(days=5)).allowed


@pytest.mark.parametrize(
    ("fields", "recipients", "field"),
    [
        ({"expires_on": TODAY - datetime.timedelta(days=30)}, True, "expires_on"),
        ({"information_categories": ["counseling_notes", "medications"]}, True, "information_categories"),
        ({"purpose_other": "x" * 301, "purpose": "other"}, True, "purpose_other"),
        ({}, False, "recipients"),
        ({"signed_on": TODAY + datetime.timedelta(days=1)}, True, "signed_on"),
        ({"signed_by": "representative"}, True, "representative_name"),
        ({"signature_method": "electronic"}, True, "signature_name"),
        ({"expiry_kind": "none", "expires_on": None}, True, "expiry_kind"),
    ],
)
def test_bad_consent_is_refused_and_nothing_half_saved(
    clinic_a, patient_a, prescriber, fields, recipients, field
):
    before = _counts(clinic_a)
    with tenant_context(clinic_a), pytest.raises(ValidationError) as error:
        services.consent_create(
            actor=None,
            patient=patient_a,
            fields=signed_fields(**fields),
            recipients=[prescriber] if recipients else [],
        )
    assert field in error.value.message_dict
    assert _counts(clinic_a) == before


def test_signed_consent_is_immutable_and_a_draft_is_signed_once(clinic_a, patient_a, prescriber):
    signed = consent_in(clinic_a, patient_a, recipients=[prescriber])
    draft = consent_in(
        clinic_a, patient_a, recipients=[prescriber], signed_on=None, signed_by="", signature_method=""
    )
    with tenant_context(clinic_a):
        with pytest.raises(ValidationError, match="cannot be changed"):
            services.consent_sign(actor=None, consent=signed, fields={"signed_on": TODAY})
        services.consent_sign(
            actor=None,
            consent=draft,
            fields={"signed_on": TODAY, "signed_by": "patient", "signature_method": "wet"},
        )
        assert Consent.objects.get(pk=draft.pk).status == "active"
        with pytest.raises(ValidationError):
            services.consent_sign(actor=None, consent=draft, fields={"signed_on": TODAY})


def test_tpo_consent_is_revoked_in_writing_only(clinic_a, patient_a):
    tpo = consent_in(clinic_a, patient_a, **tpo_fields())
    with tenant_context(clinic_a):
        with pytest.raises(ValidationError, match="in writing"):
            services.consent_revoke(actor=None, consent=tpo, revoked_on=TODAY, method="oral")
        with pytest.raises(ValidationError, match="before the consent was signed"):
            services.consent_revoke(
                actor=None, consent=tpo, revoked_on=TODAY - datetime.timedelta(days=400), method="written"
            )
        services.consent_revoke(actor=None, consent=tpo, revoked_on=TODAY, method="written")
        with pytest.raises(ValidationError, match="already revoked"):
            services.consent_revoke(actor=None, consent=tpo, revoked_on=TODAY, method="written")


def test_disclosure_rows_cannot_be_changed_or_deleted(clinic_a, patient_a, prescriber):
    consent_in(clinic_a, patient_a, recipients=[prescriber])
    row = _send(clinic_a, patient_a, prescriber)
    with tenant_context(clinic_a):
        for sql in (
            "UPDATE consent_disclosure SET description = 'x' WHERE id = %s",
            "DELETE FROM consent_disclosure WHERE id = %s",
        ):
            with (
                pytest.raises(Exception, match=r"append-only|permission denied"),
                transaction.atomic(),
                connection.cursor() as cur,
            ):
                cur.execute(sql, [row.pk])


def test_intermediary_needs_named_participants(clinic_a):
    with tenant_context(clinic_a), pytest.raises(ValidationError) as error:
        services.recipient_create(actor=None, fields={"name": "State HIE", "kind": "intermediary"})
    assert "participants" in error.value.message_dict


def test_notice_defaults_to_the_verified_opening_and_tracks_verification(clinic_a, staff_a):
    from clinic.tenancy.roles import Role
    from patients.consent.notice import CORE_PHRASE, STATEMENT_1_OPENING

    admin = staff_a[Role.CLINIC_ADMIN]
    with tenant_context(clinic_a):
        notice = services.current_notice()
        assert notice.text.startswith(STATEMENT_1_OPENING) and not notice.is_verified
        saved = services.notice_update(actor=admin, statement="1", text=notice.text + " (i) …", verified=True)
        assert saved.is_verified and saved.verified_by == admin
        edited = services.notice_update(actor=admin, statement="1", text=saved.text + " more", verified=False)
        assert not edited.is_verified
        with pytest.raises(ValidationError):
            services.notice_update(actor=admin, statement="1", text="Something else", verified=True)
    assert CORE_PHRASE in STATEMENT_1_OPENING
