"""Writes of the insurance area: validated, atomic, audited in the same transaction.

Electronic eligibility: `eligibility_check_start` builds a 270 from the coverage, the patient and the clinic's
billing profile and hands it to the transport; `eligibility_check_receive` reads the 271 and records the
verification of benefits. A 271 that cannot be read marks the check `error` and changes nothing else.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from clinic.actors import as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import require_clinic
from patients.eligibility.inquiry import (
    IOP_INQUIRY_SERVICE_TYPES,
    Dependent,
    EligibilityInquiry,
    InquiryError,
    build_270,
)
from patients.eligibility.response import (
    X12SyntaxError,
    X12ValidationError,
    parse_271,
    summarise_for_verification,
)
from patients.eligibility.transport import TransportError
from patients.eligibility.x12 import spec_data as x12_spec
from patients.insurance import rules
from patients.insurance.models import (
    Authorization,
    AuthorizationUsage,
    BenefitVerification,
    ClinicBillingProfile,
    Coverage,
    EligibilityCheck,
)
from patients.insurance.transport import get_transport
from patients.models import Patient

Action = AuditEvent.Action
MAX_271_CHARS = 1_000_000  # a one-patient 271 is a few kilobytes; anything near this is the wrong file

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
X12_RELATIONSHIP = {"spouse": "01", "child": "19", "other": "34"}
X12_GENDER = {Patient.SexAtBirth.FEMALE: "F", Patient.SexAtBirth.MALE: "M"}


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


def _full_clean(obj, *, exclude: Iterable[str] = ()) -> None:
    # Constraints are checked by the service itself (with field-level messages) or by the database.
    obj.full_clean(exclude=list(exclude), validate_constraints=False)


def _changed(obj, values: Mapping[str, Any]) -> list[str]:
    return sorted(name for name, value in values.items() if getattr(obj, name) != value)


# --- billing profile ----------------------------------------------------------------------------------------
@transaction.atomic
def billing_profile_save(*, actor: Any, fields: Mapping[str, Any]) -> ClinicBillingProfile:
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
    _full_clean(profile)
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
        _full_clean(coverage, exclude=("patient",))
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
def coverage_create(*, actor: Any, patient: Patient, fields: Mapping[str, Any]) -> Coverage:
    values = _values(fields, COVERAGE_FIELDS)
    _normalise_subscriber(values)
    coverage = Coverage(clinic=require_clinic(), patient=patient, **values)
    _validate_coverage(coverage)
    _save_coverage(coverage)
    audit(actor=actor, action=Action.CREATE, obj=coverage, patient=patient, detail={"fields": sorted(values)})
    return coverage


@transaction.atomic
def coverage_update(*, actor: Any, coverage: Coverage, fields: Mapping[str, Any]) -> Coverage:
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
def verification_record(*, actor: Any, coverage: Coverage, fields: Mapping[str, Any]) -> BenefitVerification:
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
        clinic=require_clinic(), coverage=coverage, verified_by=_user(actor), **values
    )
    _full_clean(verification, exclude=("coverage", "verified_by", "eligibility_check"))
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
    *, actor: Any, verification: BenefitVerification, fields: Mapping[str, Any]
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
    _full_clean(verification, exclude=("coverage", "verified_by", "eligibility_check"))
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


def _user(actor: Any):
    """The staff user behind an actor (an API client acts for nobody in particular)."""
    return as_actor(actor).user


# --- electronic eligibility ---------------------------------------------------------------------------------
def _next_interchange_number() -> int:
    """The clinic's next ISA13; the advisory lock keeps two concurrent checks from sharing one."""
    clinic = require_clinic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('eligibility-isa13'), %s)", [clinic.pk])
        cursor.execute(
            "SELECT max(interchange_control_number) FROM insurance_eligibilitycheck WHERE clinic_id = %s",
            [clinic.pk],
        )
        (highest,) = cursor.fetchone()
    return (highest or 0) % 999_999_999 + 1


def _new_trace() -> str:
    # Random, not a counter: the trace names the file in a shared outbox, so it must not repeat even when
    # a database is restored or a test database is recreated.
    return "SD" + secrets.token_hex(8).upper()


def _inquiry(
    *,
    coverage: Coverage,
    profile: ClinicBillingProfile,
    service_types: tuple[str, ...],
    trace: str,
    isa13: int,
) -> EligibilityInquiry:
    patient = coverage.patient
    gender = X12_GENDER.get(patient.sex_at_birth)
    common = dict(
        submitter_id=profile.submitter_id,
        receiver_id=profile.receiver_id,
        payer_name=coverage.payer_name.upper(),
        payer_id=coverage.payer_id,
        provider_name=profile.organization_name.upper(),
        provider_npi=profile.npi,
        member_id=coverage.member_id,
        group_number=coverage.group_number or None,
        service_types=service_types,
        date_of_service=timezone.localdate(),
        interchange_control_number=isa13,
        group_control_number=isa13,
        transaction_control_number=f"{isa13 % 10000:04d}",
        trace_number=trace,
        usage_indicator=profile.usage_indicator,
    )
    if coverage.patient_is_subscriber:
        return EligibilityInquiry(
            subscriber_first_name=patient.first_name.upper(),
            subscriber_last_name=patient.last_name.upper(),
            subscriber_date_of_birth=patient.date_of_birth,
            subscriber_gender=gender,
            **common,
        )
    dependent = Dependent(
        relationship=X12_RELATIONSHIP[coverage.subscriber_relationship],
        first_name=patient.first_name.upper(),
        last_name=patient.last_name.upper(),
        date_of_birth=patient.date_of_birth,
        gender=gender,
    )
    return EligibilityInquiry(
        subscriber_first_name=coverage.subscriber_first_name.upper(),
        subscriber_last_name=coverage.subscriber_last_name.upper(),
        subscriber_date_of_birth=coverage.subscriber_date_of_birth,
        dependent=dependent,
        **common,
    )


_INQUIRY_FIELD_LABELS = {
    "member_id": "the coverage's member id",
    "payer_id": "the coverage's payer id",
    "payer_name": "the payer name",
    "provider_npi": "the clinic's NPI (insurance settings)",
    "provider_name": "the clinic's billing name (insurance settings)",
    "subscriber_first_name": "the subscriber's first name",
    "subscriber_last_name": "the subscriber's last name",
    "dependent.first_name": "the patient's first name",
    "dependent.last_name": "the patient's last name",
    "service_types": "the service types",
}


def _service_types(values: Iterable[str] | None) -> tuple[str, ...]:
    types = tuple(
        dict.fromkeys(v.strip().upper() for v in (values or IOP_INQUIRY_SERVICE_TYPES) if v.strip())
    )
    unknown = [t for t in types if t not in x12_spec.SERVICE_TYPES]
    if not types or unknown:
        raise ValidationError(
            {"service_types": f"Unknown X12 service type code(s): {', '.join(unknown) or '-'}."}
        )
    if len(types) > 99:
        raise ValidationError({"service_types": "At most 99 service types fit in one inquiry."})
    return types


@transaction.atomic
def eligibility_check_start(
    *, actor: Any, coverage: Coverage, service_types: Iterable[str] | None = None
) -> EligibilityCheck:
    """Build the 270 and send it. Refuses (ValidationError) without a billing profile or an inactive coverage.

    The check row is written first and the file sent last, so the only way to send without a row is a failed
    commit (an orphan 270 whose answer nobody polls for). A transport failure is recorded on the check.
    """
    profile = ClinicBillingProfile.objects.first()
    if profile is None:
        raise ValidationError(
            "Electronic eligibility needs the clinic's billing profile (NPI, submitter and receiver ids). "
            "A clinic admin can add it under Insurance → Settings."
        )
    if not coverage.is_active:
        raise ValidationError("This coverage is inactive; make it active before checking eligibility.")
    types = _service_types(service_types)
    trace = _new_trace()
    isa13 = _next_interchange_number()
    try:
        inquiry = _inquiry(coverage=coverage, profile=profile, service_types=types, trace=trace, isa13=isa13)
        text = build_270(inquiry, timestamp=timezone.now())
    except InquiryError as error:
        what = _INQUIRY_FIELD_LABELS.get(error.field, error.field)
        message = str(error).split(": ", 1)[-1]
        raise ValidationError(f"Cannot build the 270: {what} {message}.") from error
    check = EligibilityCheck(
        clinic=require_clinic(),
        coverage=coverage,
        trace_number=trace,
        interchange_control_number=isa13,
        service_types=list(types),
        request_text=text,
        requested_by=_user(actor),
    )
    _disclose_to_payer(actor=actor, coverage=coverage, service_types=types)
    check.save()
    audit(
        actor=actor,
        action=Action.CREATE,
        obj=check,
        patient=coverage.patient_id,
        detail={"payer_id": coverage.payer_id, "service_types": list(types)},
    )
    try:
        get_transport().send(text, trace=trace)
    except (TransportError, OSError) as error:
        check.status = EligibilityCheck.Status.ERROR
        check.error_message = f"Could not send the inquiry: {error}"[:2000]
    else:
        check.status = EligibilityCheck.Status.SENT
        check.sent_at = timezone.now()
    check.save(update_fields=["status", "error_message", "sent_at", "updated_at"])
    return check


def _disclose_to_payer(*, actor: Any, coverage: Coverage, service_types: Iterable[str]) -> None:
    """A 270 tells the payer this person seeks substance-use treatment: a Part 2 disclosure for payment.

    It goes through the consent gate like every other disclosure, and is entered in the accounting."""
    from patients.consent.services import DisclosureRefused, disclose, recipient_for_payer

    payer = recipient_for_payer(actor=actor, payer_name=coverage.payer_name, payer_id=coverage.payer_id)
    try:
        disclose(
            actor=actor,
            patient=coverage.patient,
            recipient=payer,
            purpose="payment",
            information=["demographics"],
            channel="edi",
            description=f"Eligibility inquiry (X12 270) for service types {', '.join(service_types)}",
        )
    except DisclosureRefused as refused:
        raise ValidationError(
            f"42 CFR Part 2: no consent allows sending this inquiry to {coverage.payer_name} for payment ("
            + "; ".join(refused.reasons)
            + "). Record the patient's consent (a TPO consent covers payers), then try again."
        ) from refused


def _record_error(check: EligibilityCheck, text: str, message: str) -> EligibilityCheck:
    check.status = EligibilityCheck.Status.ERROR
    check.error_message = message[:2000]
    check.response_text = text[:MAX_271_CHARS]
    check.save(update_fields=["status", "error_message", "response_text", "updated_at"])
    return check


@transaction.atomic
def eligibility_check_receive(
    *, check: EligibilityCheck, text: str | bytes, actor: Any = None
) -> EligibilityCheck:
    """Read the 271 answering `check`. Unreadable or foreign: status `error` + reason, nothing else."""
    check = EligibilityCheck.objects.select_for_update().select_related("coverage").get(pk=check.pk)
    if check.status in (EligibilityCheck.Status.ANSWERED, EligibilityCheck.Status.REJECTED):
        raise ValidationError("This check already has its answer; start a new check to ask again.")
    if check.status == EligibilityCheck.Status.QUEUED:
        raise ValidationError("This inquiry was never sent; there is nothing to answer.")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return _record_error(check, "", "The response is not a text file (it is not UTF-8/ASCII).")
    if len(text) > MAX_271_CHARS:
        return _record_error(
            check, "", f"The response is larger than {MAX_271_CHARS:,} characters; not a 271."
        )
    try:
        result = parse_271(text)
    except (X12SyntaxError, X12ValidationError) as error:
        return _record_error(check, text, str(error))
    if result.trace_number != check.trace_number:
        got = result.trace_number or "no trace number"
        return _record_error(
            check, text, f"This 271 answers trace {got}, not this check's {check.trace_number}: wrong file?"
        )
    summary = summarise_for_verification(result)
    now = timezone.now()
    check.response_text = text
    check.answered_at = now
    check.rejections = rules.rejection_rows(result.rejections)
    check.summary = {**rules.summary_json(summary), "benefits": rules.benefit_rows(result)}
    check.error_message = ""
    verification = None
    if result.rejections and not result.benefits:
        check.status = EligibilityCheck.Status.REJECTED
    else:
        check.status = EligibilityCheck.Status.ANSWERED
        verification = BenefitVerification(
            clinic=require_clinic(),
            coverage=check.coverage,
            method=BenefitVerification.Method.ELECTRONIC,
            verified_by=check.requested_by,
            verified_at=now,
            eligibility_check=check,
            **rules.verification_fields(summary),
        )
        _full_clean(verification, exclude=("coverage", "verified_by", "eligibility_check"))
    check.save()
    patient_id = check.coverage.patient_id
    audit(
        actor=actor,
        action=Action.UPDATE,
        obj=check,
        patient=patient_id,
        detail={"status": check.status, "rejections": [r["code"] for r in check.rejections]},
    )
    if verification is not None:
        verification.save()
        audit(
            actor=actor,
            action=Action.CREATE,
            obj=verification,
            patient=patient_id,
            detail={"method": "electronic", "eligibility_check": str(check.pk)},
        )
    return check


def eligibility_poll_sent(*, limit: int = 200) -> dict[str, int]:
    """Pick up waiting 271s from the transport for this clinic's sent checks (one transaction each)."""
    transport = get_transport()
    counts = {"checked": 0, "received": 0}
    pending = list(
        EligibilityCheck.objects.filter(status=EligibilityCheck.Status.SENT)
        .order_by("sent_at")
        .values_list("pk", "trace_number")[:limit]
    )
    for pk, trace in pending:
        counts["checked"] += 1
        text = transport.poll(trace)
        if text is None:
            continue
        # The transport has claimed the file; receive it in its own transaction so one bad file cannot undo
        # the others.
        with transaction.atomic():
            eligibility_check_receive(check=EligibilityCheck.objects.get(pk=pk), text=text)
        counts["received"] += 1
    return counts


# --- authorizations -----------------------------------------------------------------------------------------
def _validate_authorization(auth: Authorization) -> None:
    errors: dict[str, list[str]] = {}
    try:
        _full_clean(auth, exclude=("coverage",))
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
def authorization_create(*, actor: Any, coverage: Coverage, fields: Mapping[str, Any]) -> Authorization:
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
    *, actor: Any, authorization: Authorization, fields: Mapping[str, Any]
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
    actor: Any,
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
        entered_by=_user(actor),
    )
    _full_clean(usage, exclude=("authorization", "entered_by"))
    usage.save()
    audit(
        actor=actor,
        action=Action.CREATE,
        obj=usage,
        patient=auth.coverage.patient_id,
        detail={"units": units, "source": source},
    )
    return usage
