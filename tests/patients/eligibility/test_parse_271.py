import datetime as dt
from decimal import Decimal

import pytest

from patients.eligibility.response import (
    X12SyntaxError,
    X12ValidationError,
    parse_271,
    summarise_for_verification,
)

from .conftest import sample


def test_active_coverage_with_several_eb_loops():
    r = parse_271(sample("271_active.x12"))
    assert r.coverage_status == "active"
    assert (r.interchange_control_number, r.group_control_number, r.transaction_control_number) == (
        "000000101",
        "101",
        "0001",
    )
    assert r.trace_number == "TRACE0001"
    assert r.payer_trace_numbers == ("ACME-REF-778899",)
    assert r.submitter_transaction_id == "TRACE0001"
    assert r.created == dt.datetime(2026, 3, 1, 9, 31)
    assert (r.payer.name, r.payer.id_qualifier, r.payer.identifier) == ("ACME HEALTH PLAN", "PI", "ACME1")
    assert r.payer.contacts[0].numbers[0] == ("Telephone", "8005551212")
    assert (r.provider.identifier, r.provider.id_qualifier) == ("1234567893", "XX")
    s = r.subscriber
    assert (s.last_name, s.first_name, s.middle_name, s.member_id) == ("DOE", "JANE", "Q", "ABC-123")
    assert s.date_of_birth == dt.date(1980, 1, 2) and s.gender == "F"
    assert (s.group_number, s.group_name, s.plan_number, s.plan_name) == (
        "GRP-7781",
        "STEPDOWN EMPLOYERS GROUP",
        "PLN-22",
        "GOLD PPO 1500",
    )
    assert r.dependent is None and r.rejections == ()
    assert len(r.benefits) == 14
    first = r.benefits[0]
    assert (first.code, first.label, first.coverage_level) == ("1", "Active Coverage", "IND")
    assert first.service_types == ("30", "1", "MH", "AI", "AK", "CJ", "BB")
    assert first.insurance_type == "PR" and first.plan_description == "GOLD PPO 1500"
    copay = r.benefits[1]
    assert (copay.code, copay.amount, copay.in_network, copay.time_period_label) == (
        "B",
        Decimal("40"),
        True,
        "Visit",
    )
    assert copay.messages == ("COPAY PER DAY OF INTENSIVE OUTPATIENT TREATMENT",)
    coins = r.benefits[3]
    assert (coins.code, coins.percent, coins.in_network) == ("A", Decimal(".2"), True)
    php = next(b for b in r.benefits if b.service_types == ("BB",))
    assert (
        php.authorization_required is True
        and php.quantity == Decimal("20")
        and php.quantity_qualifier == "VS"
    )
    assert php.dates[0].qualifier == "348" and php.dates[0].start == dt.date(2026, 1, 1)
    carve = r.benefits[-1]
    assert carve.code == "U" and carve.label.startswith("Contact Following Entity")
    entity = carve.related_entities[0]
    assert (entity.entity_code, entity.entity_label, entity.name) == (
        "X3",
        "Utilization Management Organization",
        "MINDWELL BEHAVIORAL HEALTH",
    )
    assert entity.contacts[0].numbers == (("Telephone", "8005553434"),)


def test_active_summary_for_verification():
    v = summarise_for_verification(parse_271(sample("271_active.x12")))
    assert v.coverage_status == "active"
    assert v.iop_covered is True and v.iop.basis == "specific" and v.iop.service_types == ("AI", "AK", "CJ")
    assert v.php_covered is True and v.php.authorization_required is True
    assert v.prior_authorization_required is True
    assert (v.copay.in_network, v.copay.out_of_network) == (Decimal("40"), Decimal("80"))
    assert (v.coinsurance_percent.in_network, v.coinsurance_percent.out_of_network) == (
        Decimal(".2"),
        Decimal(".4"),
    )
    assert (v.deductible.in_network, v.deductible.out_of_network) == (Decimal("1500"), Decimal("3000"))
    assert v.deductible_remaining.in_network == Decimal("975.5")
    assert (v.out_of_pocket.in_network, v.out_of_pocket.out_of_network) == (Decimal("6000"), Decimal("12000"))
    assert v.out_of_pocket_remaining.in_network == Decimal("4200")
    assert (v.plan_name, v.group_number, v.group_name) == (
        "GOLD PPO 1500",
        "GRP-7781",
        "STEPDOWN EMPLOYERS GROUP",
    )
    assert (v.effective_from, v.effective_to) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert v.reference_number == "ACME-REF-778899" and v.trace_number == "TRACE0001"
    assert "PRIOR AUTHORIZATION REQUIRED FOR PARTIAL HOSPITALIZATION" in v.messages


def test_inactive():
    r = parse_271(sample("271_inactive.x12"))
    assert r.coverage_status == "inactive"
    v = summarise_for_verification(r)
    assert v.iop_covered is False and v.php_covered is False
    assert (v.effective_from, v.effective_to) == (dt.date(2024, 1, 1), dt.date(2025, 12, 31))
    assert v.messages == ("COVERAGE TERMINATED 12/31/2025",)


def test_rejected_at_subscriber_level():
    r = parse_271(sample("271_rejected_subscriber.x12"))
    assert r.coverage_status == "unknown" and r.benefits == ()
    assert [(x.loop, x.reason_code, x.valid_request, x.follow_up_code) for x in r.rejections] == [
        ("2100C", "72", False, "C"),
        ("2100C", "73", False, "C"),
        ("2100C", "75", False, "C"),
    ]
    assert r.rejections[0].reason == "Invalid/Missing Subscriber/Insured ID"
    assert r.rejections[2].reason == "Subscriber/Insured Not Found"
    assert r.rejections[0].follow_up == "Please Correct and Resubmit"
    v = summarise_for_verification(r)
    assert v.iop_covered is None and v.rejections == r.rejections


def test_rejected_at_payer_level():
    r = parse_271(sample("271_payer_unavailable.x12"))
    assert r.subscriber is None and r.provider is None and r.coverage_status == "unknown"
    (rej,) = r.rejections
    assert (rej.loop, rej.reason_code, rej.reason, rej.follow_up) == (
        "2100A",
        "42",
        "Unable to Respond at Current Time",
        "Resubmission Allowed",
    )


def test_other_separators_and_repetitions():
    r = parse_271(sample("271_pipe_separators.x12"))
    assert r.coverage_status == "active" and r.trace_number == "TRACE0006"
    assert r.benefits[0].service_types == ("30", "AI", "AK", "CJ", "BB")
    assert r.benefits[1].service_types == ("CJ", "AI") and r.benefits[1].network_code == "W"
    assert r.benefits[3].code == "I" and r.benefits[3].service_types == ("CI",)
    v = summarise_for_verification(r)
    # W (network does not apply) counts for both networks
    assert (v.copay.in_network, v.copay.out_of_network) == (Decimal("25"), Decimal("25"))
    assert v.coinsurance_percent.in_network == Decimal("0.1")
    assert (v.effective_from, v.effective_to) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))  # DTP 291 RD8
    assert v.iop_covered is True and v.php_covered is True


def test_dependent_response():
    r = parse_271(sample("271_dependent.x12"))
    assert r.subscriber.member_id == "ABC-123"
    d = r.dependent
    assert (d.first_name, d.last_name, d.date_of_birth, d.relationship) == (
        "TOM",
        "DOE",
        dt.date(2008, 5, 5),
        "Child",
    )
    assert r.patient is d and r.trace_number == "TRACE0005"
    assert [b.loop for b in r.benefits] == ["2110D"] * 4
    v = summarise_for_verification(r)
    assert v.iop_covered is True and v.iop.service_types == ("AK", "CJ")
    assert v.php_covered is True and v.php.basis == "generic"  # only plan-level 30 active for BB
    assert v.copay.in_network == Decimal("35") and v.copay.out_of_network is None
    assert v.deductible_remaining.in_network == Decimal("2000")
    assert v.effective_from == dt.date(2025, 6, 1) and v.group_number == "GRP-7781"


def test_carve_out_rule():
    text = sample("271_active.x12")
    # drop every service-specific row so only the generic 30 and the U carve-out for MH remain
    lines = [
        ln
        for ln in text.split("\n")
        if not ln.startswith(("EB*B", "EB*A", "EB*1*IND*BB", "MSG*COPAY", "MSG*PRIOR", "DTP*348"))
    ]
    lines = [ln.replace("EB*1*IND*30^1^MH^AI^AK^CJ^BB", "EB*1*IND*30") for ln in lines]
    body = "\n".join(lines)
    count = sum(1 for ln in lines if ln and not ln.startswith(("ISA", "GS", "GE", "IEA")))
    import re

    body = re.sub(r"SE\*\d+\*0001", f"SE*{count}*0001", body)
    v = summarise_for_verification(parse_271(body))
    assert v.iop_covered is None and v.iop.basis == "carve_out"
    assert v.iop.carve_out.name == "MINDWELL BEHAVIORAL HEALTH"


@pytest.mark.parametrize(
    ("name", "error", "text_in_message"),
    [
        ("271_malformed_truncated.x12", X12SyntaxError, "truncated"),
        ("271_malformed_se_count.x12", X12SyntaxError, "SE01 says"),
        ("271_malformed_isa_length.x12", X12SyntaxError, "ISA06 must be exactly 15"),
        ("271_malformed_unknown_eb01.x12", X12ValidationError, "'ZZ' is not a known code"),
        ("271_malformed_missing_nm1.x12", X12ValidationError, "loop 2100C"),
    ],
)
def test_malformed_271_raises_clear_error_with_position(name, error, text_in_message):
    with pytest.raises(error) as err:
        parse_271(sample(name))
    assert text_in_message in str(err.value)
    assert "segment " in str(err.value)


def test_validation_error_carries_position_and_all_problems():
    with pytest.raises(X12ValidationError) as err:
        parse_271(sample("271_malformed_unknown_eb01.x12"))
    assert err.value.position == 24
    assert err.value.problems[0].element == "EB01"


def test_270_is_not_a_271():
    import datetime as _dt

    from patients.eligibility.inquiry import build_270

    from .test_build_270 import inquiry

    with pytest.raises(X12ValidationError, match="GS01 must be HB"):
        parse_271(build_270(inquiry(), timestamp=_dt.datetime(2026, 1, 1)))
