"""Consent writes: recipients, consents (drafted, signed, revoked, expired on an event), the redisclosure
notice, and API clients as disclosure recipients.

The disclosure gate and the accounting of disclosures are `patients.consent.gate`; `disclose`,
`may_disclose` and the rest of the gate are importable from here too.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import clinic_today, require_clinic
from patients.consent import notice as notice_defaults
from patients.consent import rules
from patients.consent.gate import DisclosureRefused, disclose, disclose_many, may_disclose, may_disclose_many
from patients.consent.models import Consent, ConsentRecipient, Recipient, RedisclosureNotice
from patients.models import Patient


# --- helpers ------------------------------------------------------------------------------------------------
def _strip(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}


def _full_clean(obj, exclude: Iterable[str] = ()) -> None:
    obj.full_clean(exclude=list(exclude), validate_constraints=False)


# --- recipients -------------------------------------------------------------------------------------------
RECIPIENT_FIELDS = ("name", "kind", "organization", "address", "phone", "fax", "email", "participants")


@transaction.atomic
def recipient_create(*, actor: ActorLike, fields: Mapping[str, Any]) -> Recipient:
    values = _strip({k: v for k, v in fields.items() if k in RECIPIENT_FIELDS})
    recipient = Recipient(clinic=require_clinic(), **values)
    errors: dict[str, list[str]] = {}
    try:
        _full_clean(recipient)
    except ValidationError as error:
        errors = error.message_dict
    if recipient.kind == "intermediary" and not recipient.participants:
        errors.setdefault("participants", []).append(
            "Name the participants of the information exchange who may receive the information."
        )
    if errors:
        raise ValidationError(errors)
    recipient.save()
    audit(actor=actor, action=AuditEvent.Action.CREATE, obj=recipient, detail={"kind": recipient.kind})
    return recipient


def recipient_for_payer(*, actor: ActorLike, payer_name: str, payer_id: str) -> Recipient:
    """The health plan a coverage names, as a disclosure recipient (made on first use, keyed by payer id)."""
    organization = f"Payer id {payer_id}"
    found = (
        Recipient.objects.filter(kind="health_plan", organization=organization).order_by("created_at").first()
    )
    if found is not None:
        return found
    return recipient_create(
        actor=actor, fields={"name": payer_name, "kind": "health_plan", "organization": organization}
    )


# --- consents ---------------------------------------------------------------------------------------------
CONSENT_FIELDS = (
    "disclosing_party",
    "general_designation",
    "purpose",
    "purpose_other",
    "information_categories",
    "information_other",
    "expiry_kind",
    "expires_on",
    "expiry_event",
)


SIGNATURE_FIELDS = (
    "signed_by",
    "representative_name",
    "representative_relationship",
    "signature_method",
    "signature_name",
    "signed_on",
)


def _signature_errors(consent: Consent, today: datetime.date) -> dict[str, str]:
    errors: dict[str, str] = {}
    if consent.signed_on is None:
        return errors
    if consent.signed_on > today:
        errors["signed_on"] = "The signature date cannot be in the future."
    if consent.signed_on < consent.patient.date_of_birth:
        errors["signed_on"] = "The signature date is before the patient's date of birth."
    if consent.signed_by not in Consent.SignedBy.values:
        errors["signed_by"] = "Say who signed: the patient or an authorized representative."
    elif consent.signed_by == Consent.SignedBy.REPRESENTATIVE:
        if not consent.representative_name:
            errors["representative_name"] = "Give the representative's name."
        if not consent.representative_relationship:
            errors["representative_relationship"] = "Give the representative's relationship or authority."
    if consent.signature_method not in Consent.SignatureMethod.values:
        errors["signature_method"] = "Say how it was signed: on paper or electronically."
    elif consent.signature_method == Consent.SignatureMethod.ELECTRONIC and not consent.signature_name:
        errors["signature_name"] = "Record the name as typed in the electronic signature."
    return errors


def _validate_consent(consent: Consent, recipients: Sequence[Recipient]) -> None:
    errors: dict[str, list[str]] = {}
    try:
        _full_clean(consent, exclude=["recipients"])
    except ValidationError as error:
        errors = {k: list(v) for k, v in error.message_dict.items()}
    element_errors = rules.validate(
        purpose=consent.purpose,
        purpose_other=consent.purpose_other,
        categories=consent.information_categories,
        information_other=consent.information_other,
        general_designation=consent.general_designation,
        has_named_recipients=bool(recipients),
        expiry_kind=consent.expiry_kind,
        expires_on=consent.expires_on,
        expiry_event=consent.expiry_event,
        signed_on=consent.signed_on,
    )
    element_errors.update(_signature_errors(consent, clinic_today()))
    for name, message in element_errors.items():
        if message not in errors.get(name, []):
            errors.setdefault(name, []).append(message)
    inactive = [r.name for r in recipients if not r.is_active]
    if inactive:
        errors.setdefault("recipients", []).append(f"No longer active: {', '.join(inactive)}.")
    if errors:
        raise ValidationError(errors)


def _normalise(consent: Consent) -> None:
    # Fields that do not apply to the chosen options are cleared so the record says one thing.
    if consent.purpose != "other":
        consent.purpose_other = ""
    if "other" not in consent.information_categories:
        consent.information_other = ""
    consent.information_categories = sorted(set(consent.information_categories))
    if consent.expiry_kind != "date":
        consent.expires_on = None
    if consent.expiry_kind != "event":
        consent.expiry_event = ""
    if consent.signed_by != Consent.SignedBy.REPRESENTATIVE:
        consent.representative_name = consent.representative_relationship = ""
    if consent.signature_method != Consent.SignatureMethod.ELECTRONIC:
        consent.signature_name = ""


@transaction.atomic
def consent_create(
    *, actor: ActorLike, patient: Patient, fields: Mapping[str, Any], recipients: Sequence[Recipient] = ()
) -> Consent:
    """A new consent: signed when the signature fields are given, otherwise a draft to print and sign."""
    unknown = set(fields) - set(CONSENT_FIELDS) - set(SIGNATURE_FIELDS)
    if unknown:
        raise TypeError(f"Not consent fields: {', '.join(sorted(unknown))}")
    values = _strip(fields)
    values["disclosing_party"] = values.get("disclosing_party") or require_clinic().name
    consent = Consent(clinic=require_clinic(), patient=patient, **values)
    if consent.signed_on is not None:
        consent.recorded_by = as_actor(actor).user
    _normalise(consent)
    recipients = list(dict.fromkeys(recipients))
    _validate_consent(consent, recipients)
    consent.save()
    ConsentRecipient.objects.bulk_create(
        [ConsentRecipient(clinic=consent.clinic, consent=consent, recipient=r) for r in recipients]
    )
    audit(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        obj=consent,
        patient=patient,
        detail={"purpose": consent.purpose, "signed": consent.is_signed, "recipients": len(recipients)},
    )
    return consent


LOCKED = "A signed consent cannot be changed. Revoke it if needed and record a new consent."


@transaction.atomic
def consent_sign(*, actor: ActorLike, consent: Consent, fields: Mapping[str, Any]) -> Consent:
    """Record the signature on a draft (after the patient signed the printed form, or e-signed)."""
    consent = Consent.objects.select_for_update().select_related("patient").get(pk=consent.pk)
    if consent.is_signed:
        raise ValidationError({"__all__": [LOCKED]})
    unknown = set(fields) - set(SIGNATURE_FIELDS)
    if unknown:
        raise TypeError(f"Not signature fields: {', '.join(sorted(unknown))}")
    for name, value in _strip(fields).items():
        setattr(consent, name, value)
    if consent.signed_on is None:
        raise ValidationError({"signed_on": ["Give the date the consent was signed."]})
    consent.recorded_by = as_actor(actor).user
    _normalise(consent)
    _validate_consent(
        consent, [link.recipient for link in consent.recipient_links.select_related("recipient")]
    )
    consent.save()
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=consent,
        patient=consent.patient_id,
        detail={"event": "signed", "method": consent.signature_method},
    )
    return consent


@transaction.atomic
def consent_revoke(
    *, actor: ActorLike, consent: Consent, revoked_on: datetime.date, method: str, reason: str = ""
) -> Consent:
    """Append the revocation. Nothing is deleted; disclosures already made in reliance stay accounted."""
    consent = Consent.objects.select_for_update().get(pk=consent.pk)
    errors: dict[str, list[str]] = {}
    if not consent.is_signed:
        errors["__all__"] = ["Only a signed consent can be revoked; an unsigned draft was never in force."]
    elif consent.revoked_on is not None:
        errors["__all__"] = [
            f"This consent was already revoked on {consent.revoked_on:%b} {consent.revoked_on.day}, "
            f"{consent.revoked_on.year}."
        ]
    else:
        if method not in Consent.RevocationMethod.values:
            errors["method"] = ["Say how the patient revoked: in writing or orally."]
        elif consent.purpose == "tpo" and method != Consent.RevocationMethod.WRITTEN:
            # §2.33(a)(2): a single TPO consent stays in force "until such time as the patient revokes such
            # consent in writing".
            errors["method"] = [
                "A TPO consent is revoked in writing: ask the patient for a written revocation."
            ]
        if revoked_on is None:
            errors["revoked_on"] = ["Give the date of the revocation."]
        elif revoked_on > clinic_today():
            errors["revoked_on"] = ["The revocation date cannot be in the future."]
        elif revoked_on < consent.signed_on:
            errors["revoked_on"] = ["The revocation date is before the consent was signed."]
        if reason and len(reason) > 500:
            errors["reason"] = ["Keep the note under 500 characters."]
    if errors:
        raise ValidationError(errors)
    consent.revoked_on = revoked_on
    consent.revocation_method = method
    consent.revocation_reason = (reason or "").strip()
    consent.revoked_by = as_actor(actor).user
    consent.revocation_recorded_at = timezone.now()
    consent.save(
        update_fields=[
            "revoked_on",
            "revocation_method",
            "revocation_reason",
            "revoked_by",
            "revocation_recorded_at",
            "updated_at",
        ]
    )
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=consent,
        patient=consent.patient_id,
        detail={"event": "revoked", "method": method},
    )
    return consent


@transaction.atomic
def consent_record_expiry_event(*, actor: ActorLike, consent: Consent, occurred_on: datetime.date) -> Consent:
    """The event named as the consent's expiration (e.g. end of treatment) happened on `occurred_on`."""
    consent = Consent.objects.select_for_update().get(pk=consent.pk)
    if consent.expiry_kind != "event" or not consent.is_signed:
        raise ValidationError({"__all__": ["This consent does not expire on an event."]})
    if consent.expiry_event_on is not None:
        raise ValidationError({"__all__": ["The expiry event was already recorded."]})
    if occurred_on is None or occurred_on > clinic_today() or occurred_on < consent.signed_on:
        raise ValidationError({"occurred_on": ["Give a date between the signature and today."]})
    consent.expiry_event_on = occurred_on
    consent.save(update_fields=["expiry_event_on", "updated_at"])
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=consent,
        patient=consent.patient_id,
        detail={"event": "expiry_event_recorded"},
    )
    return consent


# --- the redisclosure notice ------------------------------------------------------------------------------
def current_notice() -> RedisclosureNotice:
    """The clinic's notice, or the unsaved default (verified opening + pointer, not verified)."""
    found = RedisclosureNotice.objects.first()
    if found is not None:
        return found
    return RedisclosureNotice(
        clinic=require_clinic(),
        statement=RedisclosureNotice.Statement.STATEMENT_1,
        text=notice_defaults.DEFAULT_TEXT,
    )


@transaction.atomic
def notice_update(*, actor: ActorLike, statement: str, text: str, verified: bool) -> RedisclosureNotice:
    """Save the clinic's wording. `verified` = the admin confirms it matches the current eCFR §2.32."""
    notice = RedisclosureNotice.objects.select_for_update().first() or current_notice()
    notice.statement = statement
    notice.text = (text or "").strip()
    errors: dict[str, list[str]] = {}
    try:
        _full_clean(notice)
    except ValidationError as error:
        errors = error.message_dict
    if (
        notice.statement == RedisclosureNotice.Statement.STATEMENT_1
        and notice_defaults.CORE_PHRASE not in notice.text
    ):
        errors.setdefault("text", []).append(
            f"Statement 1 includes the words “{notice_defaults.CORE_PHRASE}”: check the text against eCFR."
        )
    if errors:
        raise ValidationError(errors)
    if verified:
        notice.verified_sha256 = notice.fingerprint(notice.text)
        notice.verified_by = as_actor(actor).user
        notice.verified_at = timezone.now()
    elif not notice.is_verified:
        notice.verified_sha256, notice.verified_by, notice.verified_at = "", None, None
    notice.save()
    audit(
        actor=actor,
        action=AuditEvent.Action.ADMIN,
        obj=notice,
        detail={"event": "redisclosure_notice_saved", "verified": notice.is_verified},
    )
    return notice


# --- API clients as disclosure recipients ----------------------------------------------------------------
@transaction.atomic
def api_client_set_disclosure(
    *, actor: ActorLike, client, is_outside_system: bool, recipient: Recipient | None, purpose: str
):
    """Mark an API client as the program's own system (reads are internal communications, §2.12(c)(3)) or as
    an outside system whose patient-data reads are disclosures to `recipient` for `purpose`."""
    if client.clinic_id != require_clinic().pk:
        raise PermissionError("Not this clinic's client")
    errors: dict[str, list[str]] = {}
    if is_outside_system:
        if recipient is None:
            errors["recipient"] = ["Choose the recipient this outside system stands for."]
        if purpose not in rules.PURPOSES:
            errors["disclosure_purpose"] = ["Choose why this system reads patient data."]
    if errors:
        raise ValidationError(errors)
    client.is_outside_system = is_outside_system
    client.recipient = recipient if is_outside_system else None
    client.disclosure_purpose = purpose if is_outside_system else ""
    client.save(update_fields=["is_outside_system", "recipient", "disclosure_purpose"])
    audit(
        actor=actor,
        action=AuditEvent.Action.ADMIN,
        obj=client,
        detail={"event": "api_client_disclosure_set", "outside": is_outside_system},
    )
    return client


__all__ = [
    "CONSENT_FIELDS",
    "LOCKED",
    "RECIPIENT_FIELDS",
    "SIGNATURE_FIELDS",
    "DisclosureRefused",
    "api_client_set_disclosure",
    "consent_create",
    "consent_record_expiry_event",
    "consent_revoke",
    "consent_sign",
    "current_notice",
    "disclose",
    "disclose_many",
    "may_disclose",
    "may_disclose_many",
    "notice_update",
    "recipient_create",
    "recipient_for_payer",
]
