"""Pure vital-sign threshold rules (no database): every boundary, clinic tightening, monotonicity."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safety.rules.facts import Reading
from safety.rules.vitals import reading_findings, reading_key, watched_checks
from vitals.thresholds import default_thresholds, merge_clinic_overrides, vital_specs

PATIENT = uuid.UUID(int=1)
READING = uuid.UUID(int=2)
TAKEN = datetime(2026, 3, 8, 14, 0, tzinfo=UTC)


def rules_for(**values) -> list[str]:
    reading = Reading(READING, PATIENT, TAKEN, {k: Decimal(str(v)) for k, v in values.items()})
    return [f.rule_id for f in reading_findings(reading)]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"respiratory_rate": 8}, ["respiratory_rate_low"]),
        ({"respiratory_rate": 9}, []),
        ({"respiratory_rate": 2}, ["respiratory_rate_low"]),
        ({"spo2": 91}, ["spo2_low"]),
        ({"spo2": 92}, []),
        ({"systolic_bp": 139, "diastolic_bp": 89}, []),
        ({"systolic_bp": 140, "diastolic_bp": 70}, ["bp_stage2"]),
        ({"systolic_bp": 120, "diastolic_bp": 90}, ["bp_stage2"]),
        ({"systolic_bp": 180, "diastolic_bp": 120}, ["bp_stage2"]),
        ({"systolic_bp": 181, "diastolic_bp": 80}, ["bp_hypertensive_crisis"]),
        ({"systolic_bp": 150, "diastolic_bp": 121}, ["bp_hypertensive_crisis"]),
        ({"heart_rate": 150, "body_temperature": "39.5"}, []),  # not safety alerts of this issue
        ({"systolic_bp": 190, "diastolic_bp": 100, "respiratory_rate": 6, "spo2": 85},
         ["bp_hypertensive_crisis", "respiratory_rate_low", "spo2_low"]),
    ],
)  # fmt: skip
def test_boundaries(values, expected):
    assert rules_for(**values) == expected


def test_finding_carries_key_evidence_and_source():
    reading = Reading(READING, PATIENT, TAKEN, {"systolic_bp": Decimal(185), "diastolic_bp": Decimal(95)})
    (finding,) = reading_findings(reading)
    assert (
        finding.dedup_key
        == reading_key("bp_hypertensive_crisis", READING)
        == f"bp_hypertensive_crisis:{READING}"
    )
    assert finding.patient_id == PATIENT and finding.occurred_at == TAKEN
    assert finding.evidence["values"] == {"diastolic_bp": "95", "systolic_bp": "185"}
    assert finding.evidence["bp_category"] == "Hypertensive crisis"
    (check,) = finding.evidence["checks"]
    assert check["id"] == "hypertensive_crisis_systolic" and check["rule"] == "systolic_bp > 180"
    assert "Whelton" in check["source"] and check["status"] == "S"


def test_same_reading_same_keys():
    a = reading_findings(Reading(READING, PATIENT, TAKEN, {"respiratory_rate": Decimal(7)}))
    b = reading_findings(Reading(READING, PATIENT, TAKEN, {"respiratory_rate": Decimal(7)}))
    assert [f.dedup_key for f in a] == [f.dedup_key for f in b]


def test_clinic_tightened_threshold_fires_earlier():
    tight = merge_clinic_overrides(
        default_thresholds(), {"checks": {"oversedation_low_respiratory_rate": {"value": 10}}}
    )
    reading = Reading(READING, PATIENT, TAKEN, {"respiratory_rate": Decimal(10)})
    assert [f.rule_id for f in reading_findings(reading, tight)] == ["respiratory_rate_low"]
    assert reading_findings(reading) == []
    assert reading_findings(Reading(READING, PATIENT, TAKEN, {"respiratory_rate": Decimal(11)}), tight) == []


def test_every_watched_check_exists_in_vitals_data():
    ids = {c.id for c in watched_checks()}
    assert ids == {
        "hypertensive_crisis_systolic",
        "hypertensive_crisis_diastolic",
        "hypertensive_reading_systolic",
        "hypertensive_reading_diastolic",
        "oversedation_low_respiratory_rate",
        "oversedation_low_spo2",
    }


def _possible(vital: str):
    spec = vital_specs()[vital]
    return st.integers(int(spec.possible.min), int(spec.possible.max)).map(Decimal)


@given(rr=_possible("respiratory_rate"), lower=_possible("respiratory_rate"))
def test_low_respiratory_rate_is_monotone(rr, lower):
    """If a rate fires, every lower rate fires too."""
    if lower <= rr and "respiratory_rate_low" in rules_for(respiratory_rate=rr):
        assert "respiratory_rate_low" in rules_for(respiratory_rate=lower)


@given(spo2=_possible("spo2"), lower=_possible("spo2"))
def test_low_spo2_is_monotone(spo2, lower):
    if lower <= spo2 and "spo2_low" in rules_for(spo2=spo2):
        assert "spo2_low" in rules_for(spo2=lower)


BP_RANK = {None: 0, "bp_stage2": 1, "bp_hypertensive_crisis": 2}


def _bp_rule(sbp, dbp):
    found = [r for r in rules_for(systolic_bp=sbp, diastolic_bp=dbp) if r.startswith("bp_")]
    assert len(found) <= 1, "one blood-pressure alert per reading"
    return found[0] if found else None


@given(
    sbp=_possible("systolic_bp"),
    dbp=_possible("diastolic_bp"),
    d_sbp=st.integers(0, 60),
    d_dbp=st.integers(0, 40),
)
def test_bp_alert_never_drops_as_pressure_rises(sbp, dbp, d_sbp, d_dbp):
    higher_sbp = min(sbp + d_sbp, vital_specs()["systolic_bp"].possible.max)
    higher_dbp = min(dbp + d_dbp, vital_specs()["diastolic_bp"].possible.max)
    assert BP_RANK[_bp_rule(higher_sbp, higher_dbp)] >= BP_RANK[_bp_rule(sbp, dbp)]


@given(
    rr_limit=st.integers(8, 12),
    spo2_limit=st.integers(91, 95),
    sbp_limit=st.integers(130, 140),
    rr=_possible("respiratory_rate"),
    spo2=_possible("spo2"),
    sbp=_possible("systolic_bp"),
)
def test_tightening_never_removes_a_finding(rr_limit, spo2_limit, sbp_limit, rr, spo2, sbp):
    tight = merge_clinic_overrides(
        default_thresholds(),
        {
            "checks": {
                "oversedation_low_respiratory_rate": {"value": rr_limit},
                "oversedation_low_spo2": {"value": spo2_limit},
                "hypertensive_reading_systolic": {"value": sbp_limit},
            }
        },
    )
    reading = Reading(
        READING,
        PATIENT,
        TAKEN,
        {"respiratory_rate": rr, "spo2": spo2, "systolic_bp": sbp, "diastolic_bp": Decimal(30)},
    )
    default_rules = {f.rule_id for f in reading_findings(reading)}
    tight_rules = {f.rule_id for f in reading_findings(reading, tight)}
    assert default_rules <= tight_rules
