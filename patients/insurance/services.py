"""Writes of the insurance area: validated, atomic, audited in the same transaction.

Billing profile, coverages, verifications of benefits (by phone or portal) and authorizations with their
usage are written here. The electronic eligibility exchange (270 out, 271 in) lives in
`patients.insurance.exchange`; its writes are importable from here too, as part of this write API.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import require_clinic
from patients.insurance import rules
from patients.insurance.exchange import (
    eligibility_check_receive,
    eligibility_check_start,
    eligibility_poll_sent,
)
from patients.insurance.models import (
    Authorization,
    AuthorizationUsage,
    BenefitVerification,
    ClinicBillingProfile,
    Coverage,
)
from patients.insurance.validators import full_clean
from patients.models import Patient

Action = AuditEvent.Action

COVERAGE_FIELDS = (
    "payer_name",
    "payer_id",
    "plan_name",
    "member_id",
    "group_number",
    "subscriber_relationship",
    "subscriber_first_name",
    "subscriber_last_name",
    "subscriber_date_of_birth",
    "effective_from",
    "effective_to",
    "priority",
    "is_active",
)
VERIFICATION_FIELDS = (
    "method",
    "verified_at",
    "reference_number",
    "coverage_active",
    "iop_covered",
    "php_covered",
    "copay_amount",
    "coinsurance_percent",
    "deductible_amount",
    "deductible_met",
    "out_of_pocket_max",
    "out_of_pocket_met",
    "prior_authorization_required",
    "in_network",
    "notes",
)
AUTHORIZATION_FIELDS = (
    "level_of_care",
    "authorization_number",
    "units_authorized",
    "unit_type",
    "start_date",
    "end_date",
    "next_review_date",
    "status",
    "notes",
)
BILLING_PROFILE_FIELDS = ("organization_name", "npi", "submitter_id", "receiver_id", "usage_indicator")
DUPLICATE_PRIORITY = "This patient already has an active {priority} coverage. Make that one inactive first."


def _values(fields: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(f"Not editable: {', '.join(sorted(unknown))}")
    values = dict(fields)
    for name, value in values.items():
        if isinstance(value, str):
            values[name] = value.strip()
        if value is None and name in ("notes", "reference_number", "plan_name", "group_number"):
            values[name] = ""
    return values


def _changed(obj, values: Mapping[str, Any]) -> list[str]:
    return sorted(name for name, value in values.items() if getattr(obj, name) != value)


# --- billing profile ----------------------------------------------------------------------------------------
@transaction.atomic
def billing_profile_save(*, actor: ActorLike, fields: Mapping[str, Any]) -> ClinicBillingProfile:
    values = _values(fields, BILLING_PROFILE_FIELDS)
    for name in ("submitter_id", "receiver_id"):
        if isinstance(values.get(name), str):
            values[name] = values[name].upper()
    profile = ClinicBillingProfile.objects.select_for_update().first()
    created = profile is None
    profile = profile or ClinicBillingProfile(clinic=require_clinic())
    changed = _changed(profile, values) if not created else sorted(values)
    for name, value in values.items():
        setattr(profile, name, value)
    full_clean(profile)
    profile.save()
    if changed:
        audit(
            actor=actor,
            action=Action.CREATE if created else Action.UPDATE,
            obj=profile,
            detail={"fields": changed},
        )
    return profile


# --- coverages ----------------------------------------------------------------------------------------------
def _validate_coverage(coverage: Coverage) -> None:
    errors: dict[str, list[str]] = {}
    try:
        full_clean(coverage, exclude=("patient",))
    except ValidationError as error:
        errors = error.message_dict
    if coverage.effective_to and coverage.effective_from and coverage.effective_to < coverage.effective_from:
        errors.setdefault("effective_to", []).append("The coverage cannot end before it starts.")
    if not coverage.patient_is_subscriber:
        for name in ("subscriber_first_name", "subscriber_last_name", "subscriber_date_of_birth"):
            if not getattr(coverage, name):
                errors.setdefault(name, []).append(
                    "Required when the patient is not the subscriber (as printed on the card)."
                )
        dob = coverage.subscriber_date_of_birth
        if dob and dob > timezone.localdate():
            errors.setdefault("subscriber_date_of_birth", []).append("Date of birth cannot be in the future.")
    if coverage.is_active and "priority" not in errors:
        clash = (
            Coverage.objects.filter(
                patient_id=coverage.patient_id, priority=coverage.priority, is_active=True
            )
            .exclude(pk=coverage.pk)
            .exists()
        )
        if clash:
            errors.setdefault("priority", []).append(
                DUPLICATE_PRIORITY.format(priority=coverage.get_priority_display().lower())
            )
    if errors:
        raise ValidationError(errors)


def _save_coverage(coverage: Coverage) -> None:
    """Save; a concurrent save that took the same active priority becomes a field error, not a 500."""
    try:
        with transaction.atomic():
            coverage.save()
    except IntegrityError as error:
        if "coverage_one_active_per_priority" not in str(error):
            raise
        raise ValidationError(
            {"priority": DUPLICATE_PRIORITY.format(priority=coverage.get_priority_display().lower())}
        ) from error


def _normalise_subscriber(values: dict[str, Any]) -> None:
    if values.get("subscriber_relationship", "self") == Coverage.Relationship.SELF:
        # The patient is the subscriber: a second copy of their name would only drift.
        values.update(subscriber_first_name="", subscriber_last_name="", subscriber_date_of_birth=None)
    if isinstance(values.get("member_id"), str):
        values["member_id"] = values["member_id"].upper()


@transaction.atomic
def coverage_create(*, actor: ActorLike, patient: Patient, fields: Mapping[str, Any]) -> Coverage:
    values = _values(fields, COVERAGE_FIELDS)
    _normalise_subscriber(values)
    coverage = Coverage(clinic=require_clinic(), patient=patient, **values)
    _validate_coverage(coverage)
    _save_coverage(coverage)
    audit(actor=actor, action=Action.CREATE, obj=coverage, patient=patient, detail={"fields": sorted(values)})
    return coverage


@transaction.atomic
def coverage_update(*, actor: ActorLike, coverage: Coverage, fields: Mapping[str, Any]) -> Coverage:
    values = _values(fields, COVERAGE_FIELDS)
    if "subscriber_relationship" in values or any(k.startswith("subscriber_") for k in values):
        values.setdefault("subscriber_relationship", coverage.subscriber_relationship)
    _normalise_subscriber(values)
    changed = _changed(coverage, values)
    if not changed:
        return coverage
    for name in changed:
        setattr(coverage, name, values[name])
    _validate_coverage(coverage)
    _save_coverage(coverage)
    audit(
        actor=actor,
        action=Action.UPDATE,
        obj=coverage,
        patient=coverage.patient_id,
        detail={"fields": changed},
    )
    return coverage


# --- verifications ------------------------------------------------------------------------------------------
def _check_money(verification: BenefitVerification) -> None:
    errors = {}
    pairs = (("deductible_met", "deductible_amount"), ("out_of_pocket_met", "out_of_pocket_max"))
    for met, total in pairs:
        a, b = getattr(verification, met), getattr(verification, total)
        if a is not None and b is not None and a > b:
            errors[met] = "Cannot be more than the amount it counts toward."
    if verification.verified_at and verification.verified_at > timezone.now() + dt.timedelta(minutes=5):
        errors["verified_at"] = "A verification cannot be in the future."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def verification_record(
    *, actor: ActorLike, coverage: Coverage, fields: Mapping[str, Any]
) -> BenefitVerification:
    """A verification by phone or portal (electronic ones come from eligibility_check_receive)."""
    values = _values(fields, VERIFICATION_FIELDS)
    if values.get("method") == BenefitVerification.Method.ELECTRONIC:
        raise ValidationError(
            {"method": "Electronic verifications come from an eligibility check (270/271); start one."}
        )
    values.setdefault("verified_at", timezone.now())
    if values["verified_at"] is None:
        values["verified_at"] = timezone.now()
    verification = BenefitVerification(
        clinic=require_clinic(), coverage=coverage, verified_by=as_actor(actor).user, **values
    )
    full_clean(verification, exclude=("coverage", "verified_by", "eligibility_check"))
    _check_money(verification)
    verification.save()
    audit(
        actor=actor,
        action=Action.CREATE,
        obj=verification,
        patient=coverage.patient_id,
        detail={"method": verification.method},
    )
    return verification


@transaction.atomic
def verification_update(
    *, actor: ActorLike, verification: BenefitVerification, fields: Mapping[str, Any]
) -> BenefitVerification:
    if verification.method == BenefitVerification.Method.ELECTRONIC:
        raise ValidationError(
            "This verification records what the payer's 271 said and cannot be edited; record a new one."
        )
    values = _values(fields, VERIFICATION_FIELDS)
    if values.get("method") == BenefitVerification.Method.ELECTRONIC:
        raise ValidationError({"method": "Only an eligibility check can record an electronic verification."})
    changed = _changed(verification, values)
    if not changed:
        return verification
    for name in changed:
        setattr(verification, name, values[name])
    full_clean(verification, exclude=("coverage", "verified_by", "eligibility_check"))
    _check_money(verification)
    verification.save()
    audit(
        actor=actor,
        action=Action.UPDATE,
        obj=verification,
        patient=verification.coverage.patient_id,
        detail={"fields": changed},
    )
    return verification


# --- authorizations -----------------------------------------------------------------------------------------
def _validate_authorization(auth: Authorization) -> None:
    errors: dict[str, list[str]] = {}
    try:
        full_clean(auth, exclude=("coverage",))
    except ValidationError as error:
        errors = error.message_dict
    if auth.start_date and auth.end_date and auth.end_date < auth.start_date:
        errors.setdefault("end_date", []).append("The authorization cannot end before it starts.")
    if auth.pk and auth.units_authorized:
        used = units_used(auth)
        if auth.units_authorized < used:
            errors.setdefault("units_authorized", []).append(
                f"{used} {auth.get_unit_type_display().lower()} are recorded; authorize at least that many."
            )
    if errors:
        raise ValidationError(errors)


def units_used(auth: Authorization) -> int:
    return AuthorizationUsage.objects.filter(authorization=auth).aggregate(n=Sum("units"))["n"] or 0


@transaction.atomic
def authorization_create(*, actor: ActorLike, coverage: Coverage, fields: Mapping[str, Any]) -> Authorization:
    values = _values(fields, AUTHORIZATION_FIELDS)
    auth = Authorization(clinic=require_clinic(), coverage=coverage, **values)
    _validate_authorization(auth)
    auth.save()
    audit(
        actor=actor,
        action=Action.CREATE,
        obj=auth,
        patient=coverage.patient_id,
        detail={"fields": sorted(values)},
    )
    return auth


@transaction.atomic
def authorization_update(
    *, actor: ActorLike, authorization: Authorization, fields: Mapping[str, Any]
) -> Authorization:
    values = _values(fields, AUTHORIZATION_FIELDS)
    auth = Authorization.objects.select_for_update().get(pk=authorization.pk)
    changed = _changed(auth, values)
    if not changed:
        return auth
    for name in changed:
        setattr(auth, name, values[name])
    _validate_authorization(auth)
    auth.save()
    audit(
        actor=actor,
        action=Action.UPDATE,
        obj=auth,
        patient=auth.coverage.patient_id,
        detail={"fields": changed},
    )
    return auth


@transaction.atomic
def authorization_usage_add(
    *,
    actor: ActorLike,
    authorization: Authorization,
    service_date,
    units: int = 1,
    note: str = "",
    source: str = AuthorizationUsage.Source.MANUAL,
    source_key: str = "",
) -> AuthorizationUsage:
    """Record units used. Refused outside the authorized dates, beyond what is left, or when denied/pending.

    `source`/`source_key` let attendance (a later issue) feed this idempotently: the same attendance row
    adds a usage once.
    """
    auth = Authorization.objects.select_for_update().select_related("coverage").get(pk=authorization.pk)
    if source_key:
        existing = AuthorizationUsage.objects.filter(
            authorization=auth, source=source, source_key=source_key
        ).first()
        if existing is not None:
            return existing
    if not isinstance(units, int) or units < 1:
        raise ValidationError({"units": "Enter a whole number of at least 1."})
    remaining = max(auth.units_authorized - units_used(auth), 0)
    problem = rules.usage_problem(
        service_date=service_date,
        units=units,
        start_date=auth.start_date,
        end_date=auth.end_date,
        remaining=remaining,
        status=auth.status,
    )
    if problem:
        field, message = problem
        raise ValidationError({field: message} if field != "__all__" else message)
    usage = AuthorizationUsage(
        clinic=require_clinic(),
        authorization=auth,
        service_date=service_date,
        units=units,
        note=(note or "").strip(),
        source=source,
        source_key=source_key,
        entered_by=as_actor(actor).user,
    )
    full_clean(usage, exclude=("authorization", "entered_by"))
    usage.save()
    audit(
        actor=actor,
        action=Action.CREATE,
        obj=usage,
        patient=auth.coverage.patient_id,
        detail={"units": units, "source": source},
    )
    return usage


@transaction.atomic
def authorization_usage_withdraw(*, actor: ActorLike, source: str, source_key: str) -> int:
    """Take back a usage a feed added (attendance corrected to absent): matched by its source key, so a
    manual entry is never touched. Returns how many were removed (0 or 1 per authorization)."""
    if not source_key or source == AuthorizationUsage.Source.MANUAL:
        raise ValueError("only fed usages are withdrawn, by their source key")
    found = list(
        AuthorizationUsage.objects.select_for_update()
        .filter(source=source, source_key=source_key)
        .select_related("authorization__coverage")
    )
    for usage in found:
        audit(
            actor=actor,
            action=Action.DELETE,
            obj=usage,
            patient=usage.authorization.coverage.patient_id,
            detail={"units": usage.units, "source": source, "withdrawn": source_key},
        )
        usage.delete()
    return len(found)


__all__ = [
    "AUTHORIZATION_FIELDS",
    "BILLING_PROFILE_FIELDS",
    "COVERAGE_FIELDS",
    "VERIFICATION_FIELDS",
    "authorization_create",
    "authorization_update",
    "authorization_usage_add",
    "authorization_usage_withdraw",
    "billing_profile_save",
    "coverage_create",
    "coverage_update",
    "eligibility_check_receive",
    "eligibility_check_start",
    "eligibility_poll_sent",
    "units_used",
    "verification_record",
    "verification_update",
]
