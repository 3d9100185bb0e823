"""Pure instrument rules (no database): PHQ-9 item 9 and the severe CIWA-B band, from instrument data."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safety.rules.facts import InstrumentScore
from safety.rules.instruments import instrument_findings
from vitals.scoring import builtin

PATIENT = uuid.UUID(int=1)
RESULT = uuid.UUID(int=3)
AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def phq9(item9: int, others: int = 0) -> InstrumentScore:
    answers = {str(i): others for i in range(1, 9)} | {"9": item9}
    return InstrumentScore(RESULT, PATIENT, "phq9", Decimal(sum(answers.values())), answers, AT)


def ciwa_b(total: int) -> InstrumentScore:
    answers = {str(i): 0 for i in range(1, 21)}
    remaining = total
    for i in range(1, 21):
        answers[str(i)] = min(4, remaining)
        remaining -= answers[str(i)]
    return InstrumentScore(RESULT, PATIENT, "ciwa_b", Decimal(total), answers, AT)


@pytest.mark.parametrize(("item9", "fires"), [(0, False), (1, True), (2, True), (3, True)])
def test_phq9_item9(item9, fires):
    findings = instrument_findings(phq9(item9))
    assert [f.rule_id for f in findings] == (["phq9_item9_positive"] if fires else [])


def test_phq9_high_total_with_item9_zero_raises_nothing():
    assert instrument_findings(phq9(0, others=3)) == []


def test_phq9_finding_evidence():
    (finding,) = instrument_findings(phq9(2))
    assert finding.dedup_key == f"phq9_item9_positive:{RESULT}"
    assert finding.evidence["observed"] == "item 9 = 2"
    assert finding.evidence["rule"] == "item 9 > 0"
    assert "hurting yourself" in finding.evidence["item_text"]
    assert finding.evidence["status"] == "S" and "clinical.md 3c" in finding.evidence["source"]


@pytest.mark.parametrize(("total", "fires"), [(0, False), (20, False), (40, False), (41, True), (80, True)])
def test_ciwa_b_severe_band_boundary(total, fires):
    findings = instrument_findings(ciwa_b(total))
    assert [f.rule_id for f in findings] == (["withdrawal_score_severe"] if fires else [])


def test_ciwa_b_threshold_is_the_severe_band_of_the_data():
    severe = next(b for b in builtin("ciwa_b").bands if b.label == "severe")
    assert [f.rule_id for f in instrument_findings(ciwa_b(severe.min))] == ["withdrawal_score_severe"]
    assert instrument_findings(ciwa_b(severe.min - 1)) == []


def test_other_instruments_raise_nothing():
    gad7 = InstrumentScore(RESULT, PATIENT, "gad7", Decimal(21), {str(i): 3 for i in range(1, 8)}, AT)
    assert instrument_findings(gad7) == []


@given(low=st.integers(0, 80), high=st.integers(0, 80))
def test_ciwa_b_rule_is_monotone(low, high):
    low, high = min(low, high), max(low, high)
    if instrument_findings(ciwa_b(low)):
        assert instrument_findings(ciwa_b(high))
