"""The rule catalogue is data with sources: every rule the contract names, each severity as agreed, and
an unknown id is an error. No database."""

from __future__ import annotations

import copy
import json

import pytest

from safety import rules_catalogue
from safety.rules_catalogue import CatalogueError, UnknownRule

CONTRACT = {
    "phq9_item9_positive": "critical",
    "withdrawal_score_severe": "high",
    "bp_hypertensive_crisis": "high",
    "bp_stage2": "high",
    "respiratory_rate_low": "critical",
    "spo2_low": "critical",
    "checkin_guidance_emergency": None,
    "checkin_guidance_call_team": None,
    "checkin_missed": "moderate",
    "withdrawal_trend_rising": "moderate",
}


def raw() -> dict:
    return json.loads(rules_catalogue.DATA.read_text(encoding="utf-8"))


def test_every_contract_rule_is_in_the_catalogue_with_its_severity():
    for rule_id, severity in CONTRACT.items():
        rule = rules_catalogue.rule(rule_id)
        if severity is not None:
            assert rule.severity == severity, rule_id
        assert rule.title and rule.what_to_do and rule.source and rule.reference
        assert rule.status in ("V", "S", "U")


def test_every_rule_cites_the_shared_reference_or_program_policy():
    for rule in rules_catalogue.all_rules():
        assert "clinical.md" in rule.reference or "issue 5" in rule.reference, rule.id
        if rule.status == "U":
            assert "policy" in rule.source.lower() or "U" in rule.reference, rule.id


def test_unknown_rule_id_is_an_error():
    with pytest.raises(UnknownRule):
        rules_catalogue.rule("made_up_rule")


def test_rules_are_listed_most_severe_first():
    ranks = [rule.severity_rank for rule in rules_catalogue.all_rules()]
    assert ranks == sorted(ranks, reverse=True)


def test_defaults_come_from_data_with_a_source():
    defaults = rules_catalogue.defaults()
    assert defaults.escalate_after_minutes == raw()["settings_defaults"]["escalate_after_minutes"]["value"]
    assert defaults.checkin_cutoff.strftime("%H:%M") == "20:00"
    assert defaults.notify_severities == {"high", "critical"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["rules"][0].update(severity="urgent"), "severity"),
        (lambda d: d["rules"][0].update(status="X"), "status"),
        (lambda d: d["rules"][0].pop("source"), "missing source"),
        (lambda d: d["rules"][0].update(extra="x"), "unknown keys"),
        (lambda d: d["rules"].append(copy.deepcopy(d["rules"][0])), "twice"),
        (lambda d: d["settings_defaults"]["escalate_after_minutes"].update(value=1), "min/max"),
        (lambda d: d["settings_defaults"]["checkin_cutoff"].update(value="8pm"), "settings_defaults"),
        (lambda d: d["notify_severities"].update(value=["urgent"]), "notify_severities"),
    ],
)
def test_malformed_catalogue_is_refused(change, message):
    document = raw()
    change(document)
    with pytest.raises(CatalogueError, match=message):
        rules_catalogue.parse(document)


def test_the_shipped_catalogue_parses():
    assert rules_catalogue.parse(raw()).rules.keys() >= CONTRACT.keys()
