"""Threshold crossings on one vital-signs reading: hypertensive readings and over-sedation signs.

The thresholds are the vitals app's (vitals/data/vital_signs.json threshold_checks, with the clinic's
tighten-only overrides merged in by vitals.thresholds); which checks make which alert is data
(safety/data/sweep_policy.json). Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Mapping

from safety.findings import Finding
from safety.rules.facts import Reading
from safety.rules.policy import VitalRule, policy
from vitals.classification import bp_category
from vitals.errors import InvalidValue
from vitals.thresholds import ThresholdCheck, Thresholds, default_thresholds


def reading_key(rule_id: str, reading_id: object) -> str:
    return f"{rule_id}:{reading_id}"


def _fired(rule: VitalRule, reading: Reading, thresholds: Thresholds) -> list[ThresholdCheck]:
    hits = []
    for check_id in rule.checks:
        check = thresholds.checks[check_id]
        if check.vital in reading.values and check.fires(reading.values[check.vital]):
            hits.append(check)
    return hits


def watched_checks(thresholds: Thresholds | None = None) -> list[ThresholdCheck]:
    """Every threshold check some vital rule reads (the sweep pre-selects readings with SQL on these)."""
    thresholds = thresholds or default_thresholds()
    return [thresholds.checks[c] for rule in policy().vital_rules for c in rule.checks]


def _bp_label(values: Mapping) -> str | None:
    if "systolic_bp" not in values or "diastolic_bp" not in values:
        return None
    try:
        return bp_category(values["systolic_bp"], values["diastolic_bp"]).label
    except InvalidValue:
        return None


def reading_findings(reading: Reading, thresholds: Thresholds | None = None) -> list[Finding]:
    """The alerts one reading raises; one per rule, and a crisis reading raises no stage-2 alert too."""
    thresholds = thresholds or default_thresholds()
    rules = policy().vital_rules
    fired = {rule.rule_id: hits for rule in rules if (hits := _fired(rule, reading, thresholds))}
    findings = []
    for rule in rules:
        hits = fired.get(rule.rule_id)
        if not hits or (rule.unless is not None and rule.unless in fired):
            continue
        evidence = {
            "kind": "vital_reading",
            "reading_id": str(reading.id),
            "taken_at": reading.taken_at.isoformat(),
            "values": {name: str(value) for name, value in sorted(reading.values.items())},
            "checks": [
                {
                    "id": check.id,
                    "rule": check.describe(),
                    "observed": str(reading.values[check.vital]),
                    "meaning": check.meaning,
                    "source": check.source,
                    "status": check.status,
                }
                for check in hits
            ],
        }
        label = _bp_label(reading.values)
        if label is not None and rule.rule_id.startswith("bp_"):
            evidence["bp_category"] = label
        findings.append(
            Finding(
                rule.rule_id,
                reading.patient_id,
                reading_key(rule.rule_id, reading.id),
                evidence,
                reading.taken_at,
            )
        )
    return findings
