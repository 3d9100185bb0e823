"""Electronic eligibility through the app: the 270 it builds, and what each 271 turns into."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from clinic.tenancy.context import tenant_context
from patients.eligibility.x12.validate import errors, validate_270
from patients.insurance.models import BenefitVerification, Coverage, EligibilityCheck
from patients.insurance.services import eligibility_check_receive, eligibility_check_start
from tests.patients.insurance.conftest import answer_for, sample

pytestmark = pytest.mark.django_db


def start(clinic, coverage, actor=None, service_types=("AI", "AK", "CJ", "BB")):
    with tenant_context(clinic):
        return eligibility_check_start(actor=actor, coverage=coverage, service_types=service_types)


def receive(clinic, check, text):
    with tenant_context(clinic):
        return eligibility_check_receive(check=check, text=text)


def test_270_for_a_subscriber_validates_and_is_dropped_in_the_outbox(
    clinic_a, profile, coverage, eligibility_folders
):
    check = start(clinic_a, coverage)
    assert check.status == EligibilityCheck.Status.SENT and check.sent_at is not None
    assert errors(validate_270(check.request_text)) == []
    text = check.request_text
    assert "NM1*IL*1*ALDER*AVERY****MI*ABC-123~" in text
    assert "NM1*1P*2*ALDER CLINIC*****XX*1234567893~" in text
    assert "EQ*AI^AK^CJ^BB~" in text and "HL*4" not in text
    assert f"TRN*1*{check.trace_number}*" in text
    dropped = eligibility_folders / "outbox" / f"{check.trace_number}.270"
    assert dropped.read_text() == text


def test_270_for_a_dependent_validates_with_the_patient_in_2000d(clinic_a, profile, dependent_coverage):
    check = start(clinic_a, dependent_coverage)
    assert errors(validate_270(check.request_text)) == []
    text = check.request_text
    assert "NM1*IL*1*DOE*JANE****MI*ABC-123~" in text
    assert "HL*4*3*23*0~" in text and "NM1*03*1*DOE*TOM~" in text and "INS*N*19~" in text
    assert "DMG*D8*19800102~" in text and "DMG*D8*20080505~" in text


def test_interchange_numbers_and_traces_differ_between_checks(clinic_a, profile, coverage):
    first, second = start(clinic_a, coverage), start(clinic_a, coverage)
    assert second.interchange_control_number == first.interchange_control_number + 1
    assert first.trace_number != second.trace_number


def test_no_billing_profile_is_a_clear_refusal(clinic_a, coverage):
    with pytest.raises(ValidationError, match="billing profile"):
        start(clinic_a, coverage)
    with tenant_context(clinic_a):
        assert EligibilityCheck.objects.count() == 0


def test_a_name_x12_cannot_carry_is_a_clear_refusal(clinic_a, profile, coverage):
    with tenant_context(clinic_a):
        Coverage.objects.filter(pk=coverage.pk).update(payer_name="ACME*HEALTH")
        coverage.refresh_from_db()
    with pytest.raises(ValidationError, match="payer name contains the X12 separator"):
        start(clinic_a, coverage)


def test_transport_failure_is_recorded_on_the_check(clinic_a, profile, coverage, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    settings.ELIGIBILITY_OUTBOX = blocker  # mkdir fails: a file is in the way
    check = start(clinic_a, coverage)
    assert check.status == EligibilityCheck.Status.ERROR and "Could not send" in check.error_message


def _verification(clinic, check) -> BenefitVerification:
    with tenant_context(clinic):
        return BenefitVerification.objects.get(eligibility_check=check)


def test_active_271_becomes_an_electronic_verification(clinic_a, profile, coverage, staff_a):
    from clinic.tenancy.roles import Role

    check = start(clinic_a, coverage, actor=staff_a[Role.ADMISSIONS])
    check = receive(clinic_a, check, answer_for(check, "271_active.x12"))
    assert check.status == EligibilityCheck.Status.ANSWERED and check.error_message == ""
    v = _verification(clinic_a, check)
    assert v.method == "electronic" and v.verified_by == staff_a[Role.ADMISSIONS]
    assert (v.coverage_active, v.iop_covered, v.php_covered) == ("yes", "yes", "yes")
    assert v.copay_amount == Decimal("40") and v.coinsurance_percent == Decimal("20.00")
    assert v.deductible_amount == Decimal("1500") and v.deductible_met == Decimal("524.5")
    assert v.out_of_pocket_max == Decimal("6000") and v.out_of_pocket_met == Decimal("1800")
    assert v.prior_authorization_required == "yes" and v.reference_number == "ACME-REF-778899"
    assert "Copay out of network: $80" in v.notes and "Coinsurance out of network: 40.00%" in v.notes
    assert "PRIOR AUTHORIZATION REQUIRED FOR PARTIAL HOSPITALIZATION" in v.notes
    assert check.summary["plan_name"] == "GOLD PPO 1500" and len(check.summary["benefits"]) == 14
    assert check.rejections == []


def test_inactive_271_records_not_covered(clinic_a, profile, coverage):
    check = start(clinic_a, coverage)
    check = receive(clinic_a, check, answer_for(check, "271_inactive.x12"))
    v = _verification(clinic_a, check)
    assert (v.coverage_active, v.iop_covered, v.php_covered) == ("no", "no", "no")
    assert v.copay_amount is None and v.deductible_amount is None
    assert "COVERAGE TERMINATED 12/31/2025" in v.notes


def test_several_eb_loops_with_pipe_separators(clinic_a, profile, coverage):
    check = start(clinic_a, coverage)
    check = receive(clinic_a, check, answer_for(check, "271_pipe_separators.x12"))
    v = _verification(clinic_a, check)
    assert (v.iop_covered, v.php_covered) == ("yes", "yes")
    assert v.copay_amount == Decimal("25") and v.coinsurance_percent == Decimal("10.00")
    assert "Copay out of network" not in v.notes  # W: the same amount applies in and out of network
    assert [b["label"] for b in check.summary["benefits"]][-1].startswith("Non-Covered")


def test_dependent_271(clinic_a, profile, dependent_coverage):
    check = start(clinic_a, dependent_coverage)
    check = receive(clinic_a, check, answer_for(check, "271_dependent.x12"))
    v = _verification(clinic_a, check)
    assert (v.iop_covered, v.php_covered) == ("yes", "yes")
    assert v.copay_amount == Decimal("35") and v.deductible_met == Decimal("0")
    assert "PHP: plan active (30)" in v.notes  # generic coverage: staff should confirm


def test_rejected_271_keeps_reasons_and_records_no_verification(clinic_a, profile, coverage):
    check = start(clinic_a, coverage)
    check = receive(clinic_a, check, answer_for(check, "271_rejected_subscriber.x12"))
    assert check.status == EligibilityCheck.Status.REJECTED
    assert [(r["code"], r["reason"]) for r in check.rejections] == [
        ("72", "Invalid/Missing Subscriber/Insured ID"),
        ("73", "Invalid/Missing Subscriber/Insured Name"),
        ("75", "Subscriber/Insured Not Found"),
    ]
    assert check.rejections[0]["follow_up"] == "Please Correct and Resubmit"
    with tenant_context(clinic_a):
        assert not BenefitVerification.objects.exists()


def test_payer_level_rejection_without_trace_is_an_error(clinic_a, profile, coverage):
    """The payer-unavailable 271 carries no TRN: it cannot be matched to this check, so it is refused."""
    check = start(clinic_a, coverage)
    check = receive(clinic_a, check, sample("271_payer_unavailable.x12"))
    assert check.status == EligibilityCheck.Status.ERROR and "no trace number" in check.error_message


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("271_malformed_truncated.x12", "truncated"),
        ("271_malformed_se_count.x12", "SE01 says"),
        ("271_malformed_isa_length.x12", "ISA06 must be exactly 15"),
        ("271_malformed_unknown_eb01.x12", "'ZZ' is not a known code"),
        ("271_malformed_missing_nm1.x12", "loop 2100C"),
    ],
)
def test_malformed_271_is_an_error_and_changes_nothing_else(clinic_a, profile, coverage, name, message):
    check = start(clinic_a, coverage)
    check = receive(clinic_a, check, answer_for(check, name))
    assert check.status == EligibilityCheck.Status.ERROR
    assert message in check.error_message and "segment " in check.error_message
    assert check.summary == {} and check.rejections == [] and check.answered_at is None
    with tenant_context(clinic_a):
        assert not BenefitVerification.objects.exists()
        coverage_after = Coverage.objects.get(pk=coverage.pk)
    assert coverage_after.updated_at == coverage.updated_at
    # A good file afterwards still answers the check.
    check = receive(clinic_a, check, answer_for(check, "271_active.x12"))
    assert check.status == EligibilityCheck.Status.ANSWERED


def test_wrong_trace_is_an_error(clinic_a, profile, coverage):
    check = start(clinic_a, coverage)
    check = receive(clinic_a, check, sample("271_active.x12"))
    assert check.status == EligibilityCheck.Status.ERROR and "TRACE0001" in check.error_message


def test_an_answered_check_cannot_be_answered_again(clinic_a, profile, coverage):
    check = start(clinic_a, coverage)
    receive(clinic_a, check, answer_for(check, "271_active.x12"))
    with pytest.raises(ValidationError, match="already has its answer"):
        receive(clinic_a, check, answer_for(check, "271_inactive.x12"))
    with tenant_context(clinic_a):
        assert BenefitVerification.objects.count() == 1


def test_poll_task_body_receives_waiting_responses(
    clinic_a, clinic_b, profile, coverage, eligibility_folders
):
    from patients.insurance.tasks import poll_eligibility_responses

    answered, waiting = start(clinic_a, coverage), start(clinic_a, coverage)
    inbox = eligibility_folders / "inbox"
    inbox.mkdir()
    (inbox / f"{answered.trace_number}.271").write_text(answer_for(answered, "271_active.x12"))
    assert poll_eligibility_responses.run(clinic_a.pk) == {"checked": 2, "received": 1}
    assert poll_eligibility_responses.run(clinic_b.pk) == {"checked": 0, "received": 0}
    with tenant_context(clinic_a):
        assert EligibilityCheck.objects.get(pk=answered.pk).status == "answered"
        assert EligibilityCheck.objects.get(pk=waiting.pk).status == "sent"
    assert (inbox / "processed" / f"{answered.trace_number}.271").exists()
    # Re-running finds nothing new: the file was claimed and the check is no longer waiting.
    assert poll_eligibility_responses.run(clinic_a.pk) == {"checked": 1, "received": 0}


def test_poll_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["eligibility-responses"]
    assert entry["task"] == "patients.insurance.tasks.poll_all_eligibility_responses"
    assert entry["schedule"] == 120.0


def test_without_a_part2_consent_the_inquiry_is_refused_and_nothing_is_sent(
    clinic_a, profile, eligibility_folders
):
    from patients.consent.models import Disclosure
    from patients.insurance.services import coverage_create
    from tests.conftest import make_patient
    from tests.patients.insurance.conftest import coverage_fields

    patient = make_patient(clinic_a, first_name="Nora", last_name="Noconsent")
    with tenant_context(clinic_a):
        coverage = coverage_create(actor=None, patient=patient, fields=coverage_fields())
    with pytest.raises(ValidationError, match="42 CFR Part 2"):
        start(clinic_a, coverage)
    with tenant_context(clinic_a):
        assert not EligibilityCheck.objects.filter(coverage=coverage).exists()
        assert not Disclosure.objects.filter(patient=patient).exists()
    assert not list((eligibility_folders / "outbox").glob("*.270"))


def test_each_inquiry_is_entered_in_the_accounting_of_disclosures(clinic_a, profile, coverage):
    from patients.consent.models import Disclosure

    check = start(clinic_a, coverage)
    with tenant_context(clinic_a):
        rows = list(Disclosure.objects.filter(patient=coverage.patient).select_related("recipient"))
    assert len(rows) == 1
    assert rows[0].channel == "edi" and rows[0].purpose == "payment"
    assert rows[0].recipient.kind == "health_plan" and check.status == EligibilityCheck.Status.SENT
