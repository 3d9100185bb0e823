"""The symptom short form and the guidance thresholds: data that loads, and rules that behave."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitals.checkins import rules
from vitals.checkins.rules import Answers, evaluate, symptom_form

FORM = symptom_form()
ITEM_IDS = [item.id for item in FORM.items]
FLAG_IDS = [flag.id for flag in FORM.red_flags]


def test_data_files_carry_source_and_status():
    for path in (rules.DATA / "symptoms.json", rules.DATA / "guidance.json"):
        raw = json.loads(path.read_text())
        assert raw["source"] and raw["status"] in ("V", "S", "U")
    for item in FORM.items + FORM.red_flags:
        assert item.source and item.status in ("V", "S", "U")
    for rule in rules.guidance_rules().rules:
        assert rule.basis and rule.status in ("V", "S", "U")
    for contact in rules.guidance_rules().contacts:
        assert contact.source and contact.status in ("V", "S", "U")


def test_short_form_shape():
    assert [v.label for v in FORM.scale] == ["None", "Mild", "Moderate", "Severe"]
    assert FORM.max_score == 3 * len(FORM.items)
    assert set(FLAG_IDS) == {"seizure", "confusion", "hallucinations", "self_harm"}


def test_calm_day_needs_nothing():
    guidance = evaluate(
        Answers(dose_status="taken_as_planned", symptoms={"tremor": 1}, anxiety=3, cravings=2)
    )
    assert guidance.level == "" and guidance.flags == () and guidance.contacts == ()


@pytest.mark.parametrize("flag", ["seizure", "confusion", "hallucinations"])
def test_red_flags_are_emergencies_with_911(flag):
    guidance = evaluate(Answers(red_flags={flag: True}))
    assert guidance.level == "emergency"
    assert guidance.contacts[0] == "911"
    assert flag in guidance.flags


def test_thoughts_of_self_harm_point_to_988_first():
    guidance = evaluate(Answers(red_flags={"self_harm": True}, anxiety=9))
    assert guidance.level == "emergency"
    assert guidance.contacts == ("988", "911")
    # The call-team rule also fired (a flag for staff), but the patient's reasons are the emergency's.
    assert "anxiety_high" in guidance.flags
    assert guidance.reasons == ("You said you have had thoughts of ending your life or hurting yourself.",)


def test_two_severe_symptoms_call_the_team_one_does_not():
    one = evaluate(Answers(symptoms={"tremor": 3}))
    two = evaluate(Answers(symptoms={"tremor": 3, "heart": 3}))
    assert one.level == ""
    assert two.level == "call_team" and "several_severe_symptoms" in two.flags


@pytest.mark.parametrize(
    ("name", "value", "level"),
    [("anxiety", 7, ""), ("anxiety", 8, "call_team"), ("cravings", 7, ""), ("cravings", 8, "call_team")],
)
def test_scale_thresholds_at_the_boundary(name, value, level):
    assert evaluate(Answers(**{name: value})).level == level


def test_symptom_score_threshold_boundary():
    threshold = next(r for r in rules.guidance_rules().rules if r.id == "symptom_score_high")
    limit = threshold.when["symptom_score_at_least"]
    # Spread the score over moderate ratings so the severe-count rule cannot fire.
    below = dict.fromkeys(ITEM_IDS, 0)
    remaining = limit - 1
    for item in ITEM_IDS:
        below[item] = min(2, remaining)
        remaining -= below[item]
    assert rules.symptom_score(below) == limit - 1
    assert evaluate(Answers(symptoms=below)).level == ""
    at = dict(below)
    bump = next(i for i in ITEM_IDS if at[i] < 2)
    at[bump] += 1
    assert rules.symptom_score(at) == limit
    assert evaluate(Answers(symptoms=at)).level == "call_team"


def test_notes_are_flags_only():
    guidance = evaluate(Answers(dose_status="missed", alcohol=True, other_drugs=True, sleep_hours=Decimal(2)))
    assert guidance.level == ""
    assert set(guidance.flags) == {"dose_missed", "alcohol", "other_drugs", "sleep_very_short"}
    assert evaluate(Answers(sleep_hours=Decimal(3))).flags == ()


def test_took_more_calls_the_team():
    assert evaluate(Answers(dose_status="took_more")).level == "call_team"
    assert evaluate(Answers(dose_status="took_less")).level == ""


def _raw_guidance():
    return json.loads((rules.DATA / "guidance.json").read_text())


@pytest.mark.parametrize(
    "breakage",
    [
        lambda raw: raw["rules"][0].update(level="panic"),
        lambda raw: raw["rules"][0].update(when={"red_flag": "nosebleed"}),
        lambda raw: raw["rules"][0].update(when={"answer": "mood", "at_least": 3}),
        lambda raw: raw["rules"][0].update(contacts=[]),
        lambda raw: raw["rules"][0].update(contacts=["999"]),
        lambda raw: raw["rules"].append(copy.deepcopy(raw["rules"][0])),
        lambda raw: raw["rules"][0].pop("basis"),
    ],
)
def test_broken_guidance_data_is_refused(breakage):
    raw = _raw_guidance()
    breakage(raw)
    with pytest.raises(rules.RulesDataError):
        rules.parse_guidance(raw, FORM)


# --- properties ------------------------------------------------------------------------------------------
ratings = st.fixed_dictionaries({item: st.integers(0, FORM.max_rating) for item in ITEM_IDS})
flags = st.fixed_dictionaries({flag: st.booleans() for flag in FLAG_IDS})
answers = st.builds(
    Answers,
    dose_status=st.sampled_from(rules.DOSE_STATUSES),
    symptoms=ratings,
    red_flags=flags,
    sleep_hours=st.decimals(0, 24, places=1),
    anxiety=st.integers(0, 10),
    cravings=st.integers(0, 10),
    alcohol=st.booleans(),
    other_drugs=st.booleans(),
)
RANK = rules.LEVEL_RANK
# No deadline: the machine is shared, and a slow example is not a wrong one.
PROPS = settings(max_examples=200, deadline=None)


@PROPS
@given(answers)
def test_emergency_exactly_when_a_red_flag_is_yes(a):
    assert (evaluate(a).level == "emergency") == any(a.red_flags.values())


@PROPS
@given(answers, st.sampled_from(ITEM_IDS), st.sampled_from(["anxiety", "cravings"]))
def test_worse_answers_never_lower_the_guidance(a, item, scale):
    before = RANK[evaluate(a).level]
    worse_symptom = Answers(**{**a.__dict__, "symptoms": {**a.symptoms, item: FORM.max_rating}})
    worse_scale = Answers(**{**a.__dict__, scale: 10})
    assert RANK[evaluate(worse_symptom).level] >= before
    assert RANK[evaluate(worse_scale).level] >= before


@PROPS
@given(answers)
def test_guidance_explains_itself(a):
    guidance = evaluate(a)
    assert rules.symptom_score(a.symptoms) == sum(a.symptoms.values())
    if guidance.level:
        assert guidance.reasons, "a level without a reason"
    if guidance.level == "emergency":
        assert guidance.contacts
    assert len(set(guidance.flags)) == len(guidance.flags)
