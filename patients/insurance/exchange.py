"""The electronic eligibility exchange: an X12 270 inquiry out through the transport, the 271 answer in.

`eligibility_check_start` builds a 270 from the coverage, the patient and the clinic's billing profile
(a Part 2 disclosure to the payer, through the consent gate) and hands it to the transport;
`eligibility_check_receive` reads the 271 and records the verification of benefits; the poll job picks
up waiting answers. A 271 that cannot be read marks the check `error` and changes nothing else. The X12
itself is built and parsed by the pure `patients.eligibility` package.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from clinic.actors import ActorLike, as_actor
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
from patients.insurance.models import BenefitVerification, ClinicBillingProfile, Coverage, EligibilityCheck
from patients.insurance.transport import get_transport
from patients.insurance.validators import full_clean
from patients.models import Patient

Action = AuditEvent.Action
MAX_271_CHARS = 1_000_000  # a one-patient 271 is a few kilobytes; anything near this is the wrong file
X12_RELATIONSHIP = {"spouse": "01", "child": "19", "other": "34"}
X12_GENDER = {Patient.SexAtBirth.FEMALE: "F", Patient.SexAtBirth.MALE: "M"}


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
    *, actor: ActorLike, coverage: Coverage, service_types: Iterable[str] | None = None
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
        requested_by=as_actor(actor).user,
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


def _disclose_to_payer(*, actor: ActorLike, coverage: Coverage, service_types: Iterable[str]) -> None:
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
    *, check: EligibilityCheck, text: str | bytes, actor: ActorLike = None
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
        full_clean(verification, exclude=("coverage", "verified_by", "eligibility_check"))
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


__all__ = ["MAX_271_CHARS", "eligibility_check_receive", "eligibility_check_start", "eligibility_poll_sent"]
