import re

import pytest

from patients.eligibility.x12 import spec_data as spec
from patients.eligibility.x12.validate import errors, validate_271

from .conftest import sample


def fixed(text: str) -> str:
    """Recount SE01 after a test edited the body."""
    segs = text.split("~\n")
    st = next(i for i, s in enumerate(segs) if s.startswith("ST*"))
    se = next(i for i, s in enumerate(segs) if s.startswith("SE*"))
    return re.sub(r"SE\*\d+\*", f"SE*{se - st + 1}*", text)


def problems(text: str) -> list[str]:
    return [str(p) for p in errors(validate_271(text))]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("EB*6*IND*30", "EB*6*IND*30*ZZZ", "'ZZZ' is not a known code for Insurance Type"),
        ("EB*6*IND*30", "EB*6*XXX*30", "not a known code for Coverage Level"),
        ("EB*6*IND*30", "EB*6*IND*30*****1.5", "percent '1.5' must be a decimal from 0 to 1"),
        ("EB*6*IND*30", "EB*6*IND*30****23*ABC", "'ABC' is not a number"),
        ("EB*6*IND*30", "EB*6*IND*30^Q9", "'Q9' is not a known code for Service Type"),
        ("EB*6*IND*30", "EB*6*IND*30******VS", "EB09 and EB10 must be used together"),
        ("EB*6*IND*30", "EB*6*IND*30*********Q", "not a known code for In Plan Network"),
        ("EB*6*IND*30", "EB*6^1*IND*30", "does not repeat"),
        ("EB*6*IND*30", "EB*6*IND*30:1", "not a composite"),
        ("DTP*346*D8*20240101", "DTP*346*D8*20240231", "not a CCYYMMDD date"),
        ("DTP*346*D8*20240101", "DTP*346*RD8*20241231-20240101", "ends before it starts"),
        ("DMG*D8*19751111*M", "DMG*D8*19751111*X", "not a known code for Gender"),
        ("NM1*IL*1*ROE*RICHARD****MI*XYZ-999", "NM1*IL*1*ROE*RICHARD****MI*X", "must be 2-80 characters"),
        ("NM1*IL*1*ROE*RICHARD****MI*XYZ-999", "NM1*IL*1*ROE*RICHARD****MI", "must be used together"),
        (
            "NM1*IL*1*ROE*RICHARD****MI*XYZ-999",
            "NM1*IL*2*ROE*RICHARD****MI*XYZ-999",
            "Entity Type Qualifier '2'",
        ),
        ("NM1*PR*2*ACME HEALTH PLAN*****PI*ACME1", "NM1*PR*2*ACME HEALTH PLAN", "required element"),
        ("HL*3*2*22*0", "HL*3*9*22*0", "should point to parent HL"),
        ("BHT*0022*11", "BHT*0022*13", "'13' is not a known code"),
        ("MSG*COVERAGE TERMINATED 12/31/2025", "MSG*" + "X" * 265, "must be 1-264 characters"),
        ("TRN*2*TRACE0002*9999999999", "TRN*2*TRACE0002*99", "must be 10 characters"),
    ],
)
def test_element_problems_are_reported_in_plain_language(old, new, expected):
    text = sample("271_inactive.x12")
    assert old in text
    found = problems(fixed(text.replace(old, new, 1)))
    assert any(expected in p for p in found), found
    assert all(p.startswith("segment ") for p in found)


def test_structure_problems():
    text = sample("271_inactive.x12")
    moved = fixed(
        text.replace("DMG*D8*19751111*M~\n", "").replace(
            "DTP*347*D8*20251231~\n", "DTP*347*D8*20251231~\nDMG*D8*19751111*M~\n"
        )
    )
    assert problems(moved) == []  # out of order is only a warning
    assert any("DMG is out of order" in str(p) for p in validate_271(moved))
    unexpected = problems(fixed(text.replace("EB*6*IND*30~\n", "EB*6*IND*30~\nEQ*30~\n")))
    assert any("unexpected EQ segment" in p for p in unexpected)
    too_many = problems(
        fixed(text.replace("DMG*D8*19751111*M~\n", "DMG*D8*19751111*M~\nDMG*D8*19751111*M~\n"))
    )
    assert any("DMG may appear at most 1" in p for p in too_many)
    no_payer = problems(fixed(text.replace("NM1*PR*2*ACME HEALTH PLAN*****PI*ACME1~\n", "")))
    assert any("loop 2100A" in p and "missing" in p for p in no_payer)


def test_aaa_codes_and_loop_lists():
    text = sample("271_rejected_subscriber.x12")
    assert problems(text.replace("AAA*N**72*C", "AAA*N**ZZ*C")) != []
    warn = [p for p in validate_271(text.replace("AAA*N**72*C", "AAA*N**04*C")) if p.severity == "warning"]
    assert any("unverified list" in str(p) for p in warn)
    assert problems(text.replace("AAA*N**72*C", "AAA*N**72*Q")) != []
    assert problems(text.replace("AAA*N**72*C", "AAA*N*XX*72*C")) != []  # AAA02 not used


def test_code_lists_cover_the_brief():
    for code in (
        "15",
        "41",
        "42",
        "43",
        "45",
        "47",
        "48",
        "49",
        "51",
        "52",
        "56",
        "57",
        "58",
        "60",
        "61",
        "62",
        "63",
        "69",
        "70",
        "71",
        "72",
        "73",
        "75",
        "76",
        "77",
        "78",
        "79",
        "80",
    ):
        assert code in spec.REJECT_REASON
    for code in ("30", "1", "MH", "AI", "AK", "BB", "CI", "CJ", "CH", "CF", "A4", "A8", "RT"):
        assert code in spec.SERVICE_TYPES
    assert spec.SERVICE_TYPES["60"] == "General Benefits"
    assert set("12345678") <= set(spec.EB01) and spec.EB01["U"].startswith("Contact Following Entity")
    assert {"291", "346", "347", "348", "356", "357", "307"} <= set(spec.DTP_QUALIFIER)
    assert set(spec.NETWORK_INDICATOR) == {"Y", "N", "U", "W"} and set(spec.AUTH_INDICATOR) == {"Y", "N", "U"}
