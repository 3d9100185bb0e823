"""Instrument results that need an alert: PHQ-9 item 9 above 0 (urgent) and a severe CIWA-B total.

The condition is the instrument's own flag rule (vitals/instruments/<id>.json); which flag raises which
alert is data (safety/data/sweep_policy.json). Pure: no Django.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from safety.findings import Finding
from safety.rules.facts import InstrumentScore
from safety.rules.policy import policy
from vitals.scoring import OPS, FlagRule, InstrumentDefinition, builtin


@dataclass(frozen=True)
class InstrumentCondition:
    rule_id: str
    instrument: str
    flag: FlagRule  # flag.item is None → the total is compared, else that item's raw answer
    definition: InstrumentDefinition


@lru_cache(maxsize=1)
def instrument_conditions() -> tuple[InstrumentCondition, ...]:
    conditions = []
    for rule in policy().instrument_rules:
        definition = builtin(rule.instrument)
        flags = {f.id: f for f in definition.flags}
        if rule.flag not in flags:
            raise ValueError(f"{rule.rule_id}: instrument {rule.instrument} has no flag {rule.flag!r}")
        conditions.append(InstrumentCondition(rule.rule_id, rule.instrument, flags[rule.flag], definition))
    return tuple(conditions)


def result_key(rule_id: str, result_id: object) -> str:
    return f"{rule_id}:{result_id}"


def instrument_findings(score: InstrumentScore) -> list[Finding]:
    findings = []
    for cond in instrument_conditions():
        if cond.instrument != score.instrument:
            continue
        flag = cond.flag
        observed = score.total if flag.item is None else score.answers.get(flag.item)
        if observed is None or not OPS[flag.op](observed, flag.value):
            continue
        subject = "total" if flag.item is None else f"item {flag.item}"
        evidence = {
            "kind": "instrument_result",
            "result_id": str(score.id),
            "instrument": score.instrument,
            "instrument_name": cond.definition.short_name,
            "completed_at": score.completed_at.isoformat(),
            "total": str(score.total),
            "observed": f"{subject} = {observed}",
            "rule": f"{subject} {flag.op} {flag.value}",
            "reason": flag.reason,
            "source": flag.source,
            "status": flag.status,
        }
        if flag.item is not None:
            evidence["item_text"] = next((i.text for i in cond.definition.items if i.id == flag.item), "")
        findings.append(
            Finding(
                cond.rule_id,
                score.patient_id,
                result_key(cond.rule_id, score.id),
                evidence,
                score.completed_at,
            )
        )
    return findings
