import datetime as dt
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patients.eligibility.inquiry import (
    IOP_INQUIRY_SERVICE_TYPES,
    Dependent,
    EligibilityInquiry,
    InquiryError,
    build_270,
    npi_check_digit,
    npi_is_valid,
)
from patients.eligibility.x12 import spec_data as spec
from patients.eligibility.x12.tokens import Separators, parse_interchange
from patients.eligibility.x12.validate import errors, validate_270

WHEN = dt.datetime(2026, 3, 1, 9, 30)
NPI = "1234567893"  # the CMS example NPI (valid check digit)


def inquiry(**over) -> EligibilityInquiry:
    base = dict(
        submitter_id="STEPDOWN",
        receiver_id="CLEARHOUSE",
        payer_name="ACME HEALTH PLAN",
        payer_id="ACME1",
        provider_name="STEPDOWN CLINIC",
        provider_npi=NPI,
        subscriber_first_name="JANE",
        subscriber_last_name="DOE",
        member_id="ABC-123",
        subscriber_date_of_birth=dt.date(1980, 1, 2),
        interchange_control_number=42,
        group_control_number=7,
        transaction_control_number="0042",
        trace_number="TRACE0042",
    )
    base.update(over)
    return EligibilityInquiry(**base)


def test_npi_luhn_with_80840_prefix():
    assert npi_is_valid("1234567893")
    assert not npi_is_valid("1234567890")
    assert not npi_is_valid("123456789")
    assert npi_is_valid("987654321" + npi_check_digit("987654321"))


def test_default_inquiry_is_a_valid_generic_30_request():
    text = build_270(inquiry(), timestamp=WHEN)
    assert validate_270(text) == []
    assert "EQ*30~" in text
    assert text.startswith(
        "ISA*00*          *00*          *ZZ*STEPDOWN       *ZZ*CLEARHOUSE     *260301*0930*^*00501*"
        "000000042*0*T*:~"
    )
    assert "TRN*1*TRACE0042*9999999999~" in text
    assert text.endswith("SE*12*0042~GE*1*7~IEA*1*000000042~")


@pytest.mark.parametrize(
    "over",
    [
        dict(service_types=IOP_INQUIRY_SERVICE_TYPES, date_of_service=dt.date(2026, 3, 2)),
        dict(
            service_types=("30", "MH", "AI", "AK", "CJ", "CH", "BB"),
            group_number="GRP-7781",
            subscriber_gender="F",
            provider_taxonomy="261QR0405X",
            usage_indicator="P",
        ),
        dict(
            dependent=Dependent("19", "TOM", "DOE", dt.date(2008, 5, 5), "M"),
            service_types=("CJ", "BB"),
            date_of_service=dt.date(2026, 3, 2),
        ),
        dict(dependent=Dependent("01", "JOHN", "DOE", dt.date(1979, 1, 1))),
    ],
)
def test_built_270s_validate(over):
    text = build_270(inquiry(**over), timestamp=WHEN)
    assert validate_270(text) == [], [str(p) for p in validate_270(text)]


def test_repetition_separator_carries_several_service_types():
    text = build_270(inquiry(service_types=("AI", "AK", "CJ", "BB")), timestamp=WHEN)
    eq = next(s for s in parse_interchange(text).segments if s.tag == "EQ")
    assert eq.get(1) == "AI^AK^CJ^BB"
    assert eq.repeats(1) == ["AI", "AK", "CJ", "BB"]


def test_other_separators_and_newlines():
    seps = Separators(element="|", component=">", repetition="!", segment="\\")
    text = build_270(inquiry(service_types=("AI", "BB")), separators=seps, timestamp=WHEN, newline=True)
    assert validate_270(text) == []
    ix = parse_interchange(text)
    assert ix.separators == seps
    assert next(s for s in ix.segments if s.tag == "EQ").repeats(1) == ["AI", "BB"]


def test_dependent_puts_patient_data_in_2000d():
    text = build_270(inquiry(dependent=Dependent("19", "TOM", "DOE", dt.date(2008, 5, 5))), timestamp=WHEN)
    tags = [s.tag for s in parse_interchange(text).segments]
    assert tags.index("EQ") > tags.index("INS") > [i for i, t in enumerate(tags) if t == "HL"][-1]
    assert "HL*3*2*22*1~" in text and "HL*4*3*23*0~" in text and "INS*N*19~" in text


def test_build_is_deterministic():
    assert build_270(inquiry(), timestamp=WHEN) == build_270(inquiry(), timestamp=WHEN)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        (dict(provider_npi="1234567890"), "provider_npi"),
        (dict(member_id="A"), "member_id"),
        (dict(member_id="ABC 123"), "member_id"),
        (dict(member_id="ABC*123"), "member_id"),
        (dict(member_id="X" * 81), "member_id"),
        (dict(service_types=("ZZ",)), "service_types"),
        (dict(service_types=()), "service_types"),
        (dict(service_types="30"), "service_types"),
        (dict(service_types=("30", "30")), "service_types"),
        (dict(subscriber_first_name=""), "subscriber_first_name"),
        (dict(subscriber_last_name="X" * 61), "subscriber_last_name"),
        (dict(subscriber_gender="X"), "subscriber_gender"),
        (dict(date_of_service=dt.date(1970, 1, 1)), "date_of_service"),
        (dict(transaction_control_number="1"), "transaction_control_number"),
        (dict(interchange_control_number=10**9), "interchange_control_number"),
        (dict(trace_originator="123"), "trace_originator"),
        (dict(submitter_id="TOO LONG SUBMITTER ID"), "submitter_id"),
        (dict(usage_indicator="X"), "usage_indicator"),
    ],
)
def test_bad_inquiry_fields_are_named(over, field):
    with pytest.raises(InquiryError) as err:
        inquiry(**over)
    assert err.value.field == field


def test_bad_dependent_relationship():
    with pytest.raises(InquiryError, match=r"dependent\.relationship"):
        Dependent("18", "TOM", "DOE", dt.date(2008, 5, 5))


def test_separator_inside_a_name_is_refused():
    with pytest.raises(InquiryError, match="separator"):
        build_270(inquiry(subscriber_last_name="O*BRIEN"), timestamp=WHEN)
    with pytest.raises(InquiryError, match="separator"):
        build_270(inquiry(payer_name="A~B"), timestamp=WHEN)


names = st.text(alphabet=string.ascii_uppercase + " '.", min_size=1, max_size=35).filter(str.strip)
member_ids = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=2, max_size=80)
stcs = st.lists(st.sampled_from(sorted(spec.SERVICE_TYPES)), min_size=1, max_size=12, unique=True)
dobs = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31))
npis = st.text(alphabet=string.digits, min_size=9, max_size=9).map(lambda d: d + npi_check_digit(d))
separator_sets = st.sampled_from(
    [
        Separators(),
        Separators(element="|", component=">", repetition="^", segment="~"),
        Separators(element="*", component=":", repetition="{", segment="\n"),
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    first=names,
    last=names,
    member=member_ids,
    types=stcs,
    dob=dobs,
    npi=npis,
    seps=separator_sets,
    icn=st.integers(1, 999_999_999),
    dependent=st.booleans(),
    group=st.none() | member_ids.map(lambda m: m[:50]),
)
def test_any_valid_inquiry_builds_a_valid_270(
    first, last, member, types, dob, npi, seps, icn, dependent, group
):
    dep = Dependent("19", first, last, dob) if dependent else None
    q = inquiry(
        subscriber_first_name=first,
        subscriber_last_name=last,
        member_id=member,
        service_types=tuple(types),
        subscriber_date_of_birth=dob,
        provider_npi=npi,
        interchange_control_number=icn,
        dependent=dep,
        group_number=group,
        date_of_service=dt.date(2026, 1, 1),
    )
    text = build_270(q, separators=seps, timestamp=WHEN)
    problems = validate_270(text)
    assert errors(problems) == [], [str(p) for p in problems]
    ix = parse_interchange(text)
    eq = next(s for s in ix.segments if s.tag == "EQ")
    assert eq.repeats(1) == list(types)
    nm1 = next(s for s in ix.segments if s.tag == "NM1" and s.get(1) == "IL")
    assert (nm1.get(3), nm1.get(4), nm1.get(9)) == (last, first, member)
