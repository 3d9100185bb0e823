"""The rule parameters as data, and the rules' purity (no database)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from prescribers import rules as corx
from safety import rules_catalogue
from safety import scheduling as attendance_rules
from safety.rules.checkins import MISSED_RULE
from safety.rules.instruments import instrument_conditions
from safety.rules.policy import POLICY_FILE, parse_policy, policy
from safety.rules.trend import TREND_RULE


def test_every_rule_the_rules_can_raise_is_in_the_catalogue():
    p = policy()
    ids = {r.rule_id for r in p.vital_rules} | {r.rule_id for r in p.instrument_rules}
    ids |= set(p.guidance_rules.values()) | {MISSED_RULE, TREND_RULE}
    ids |= set(corx.rule_ids())  # the co-prescription rules (prescribers/rules.py)
    ids |= set(attendance_rules.RULE_IDS)  # missed sessions and weekly hours (safety/scheduling.py)
    for rule_id in ids:
        assert rules_catalogue.rule(rule_id).what_to_do
    assert ids == {r.id for r in rules_catalogue.all_rules()}


def test_trend_rule_suggests_a_hold_and_never_applies_one():
    text = rules_catalogue.rule(TREND_RULE).what_to_do.lower()
    assert "hold" in text and "never" in text


def test_instrument_flags_exist_in_the_instrument_data():
    conditions = {c.rule_id: c for c in instrument_conditions()}
    assert conditions["phq9_item9_positive"].flag.item == "9"
    assert (
        conditions["withdrawal_score_severe"].flag.op,
        conditions["withdrawal_score_severe"].flag.value,
    ) == (
        ">=",
        41,
    )


def test_every_program_policy_number_has_a_source_and_a_status():
    raw = json.loads(POLICY_FILE.read_text())
    for section in ("checkin_missed", "recent_facts", "withdrawal_trend_rising"):
        assert raw[section]["status"] in {"V", "S", "U"} and raw[section]["source"]
    for series in raw["withdrawal_trend_rising"]["series"]:
        assert series["status"] == "U" and series["source"]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("withdrawal_trend_rising", "window_days"), 0, "window_days"),
        (("checkin_missed", "lookback_days"), "3", "lookback_days"),
        (("withdrawal_trend_rising", "status"), "X", "status"),
    ],
)
def test_bad_policy_is_refused(path, value, message):
    raw = json.loads(POLICY_FILE.read_text())
    raw[path[0]][path[1]] = value
    with pytest.raises(ValueError, match=message):
        parse_policy(raw)


def test_bad_trend_rise_is_refused():
    raw = json.loads(POLICY_FILE.read_text())
    raw["withdrawal_trend_rising"]["series"][0]["min_rise"] = 0
    with pytest.raises(ValueError, match="min_rise"):
        parse_policy(raw)


def test_rule_modules_do_not_import_django():
    code = (
        "import sys; import safety.rules, safety.rules.checkins, safety.rules.trend, safety.rules.vitals, "
        "safety.rules.instruments, safety.findings; "
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
