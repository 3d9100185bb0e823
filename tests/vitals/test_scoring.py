"""Instruments as data: built-in definitions, worked examples, flags, refusals, loader validation.

The reference (clinical.md 3) gives no published worked example for any of the three instruments, so every
example below is HAND-COMPUTED from the definition's sum rule and bands and labelled as such.
"""

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitals.errors import AnswerError, DefinitionError
from vitals.scoring import BUILTIN_DIR, builtin, builtin_ids, load_definition, load_definition_file, score

ISI_EXAMPLE = BUILTIN_DIR / "examples" / "isi.example.json"


def answers_totalling(definition, total):
    """Fill items in order up to `total` (hand-computed examples use this to hit exact band edges)."""
    answers, left = {}, total
    for item in definition.items:
        answers[item.id] = min(item.scale.max, left)
        left -= answers[item.id]
    assert left == 0
    return answers


def test_only_the_three_unlicensed_instruments_are_built_in():
    assert builtin_ids() == ["ciwa_b", "gad7", "phq9"]  # no BWSQ, no ISI text in the repo


# ---- PHQ-9 ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "none/minimal"),
        (4, "none/minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately severe"),
        (19, "moderately severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_band_edges_hand_computed(total, band):
    result = score(builtin("phq9"), answers_totalling(builtin("phq9"), total))
    assert (result.total, result.band.label) == (total, band)


def test_phq9_worked_example_hand_computed():
    # Hand-computed: 2+2+3+1+1+0+1+0+0 = 10 → moderate (10-14); item 9 = 0 → no urgent flag.
    answers = {"1": 2, "2": 2, "3": 3, "4": 1, "5": 1, "6": 0, "7": 1, "8": 0, "9": 0}
    result = score(builtin("phq9"), answers)
    assert result.total == 10 and result.band.label == "moderate"
    assert result.flags == ()
    assert dict(result.item_answers) == answers
    assert result.loinc_total == "44261-6"


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_phq9_item9_above_zero_flags_urgent_even_with_a_minimal_total(item9):
    answers = {str(n): 0 for n in range(1, 9)} | {"9": item9}
    result = score(builtin("phq9"), answers)
    assert result.band.label == "none/minimal"
    (flag,) = result.flags
    assert flag.id == "urgent_item" and flag.severity == "urgent"
    assert "urgent safety assessment" in flag.reason
    assert flag.evidence == f"item 9 = {item9} (rule item 9 > 0)"


def test_phq9_item9_zero_never_flags():
    answers = {str(n): 3 for n in range(1, 9)} | {"9": 0}
    assert score(builtin("phq9"), answers).flags == ()


# ---- GAD-7 ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_band_edges_hand_computed(total, band):
    result = score(builtin("gad7"), answers_totalling(builtin("gad7"), total))
    assert result.band.label == band
    assert bool(result.flags) == (total >= 10)  # ≥10 = reasonable cut point (V, Pfizer form text)


def test_gad7_worked_example_hand_computed():
    # Hand-computed: 1+2+1+1+0+2+1 = 8 → mild (5-9), below the ≥10 cut point.
    result = score(builtin("gad7"), {"1": 1, "2": 2, "3": 1, "4": 1, "5": 0, "6": 2, "7": 1})
    assert (result.total, result.band.label, result.flags) == (8, "mild", ())
    assert result.loinc_total == "70274-6"


# ---- CIWA-B -----------------------------------------------------------------------------------------------
def test_ciwa_b_structure_is_not_ciwa_ar():
    d = builtin("ciwa_b")
    assert len(d.items) == 20 and (d.total_min, d.total_max) == (0, 80)  # CIWA-Ar: 10 items, max 67
    assert {i.scale.max for i in d.items} == {4}  # CIWA-Ar tremor etc. go to 7
    assert [i.id for i in d.items if i.rater == "observer"] == ["18", "19", "20"]
    assert d.items[0].text == "Do you feel irritable?"


def test_ciwa_b_unverified_parts_are_listed_for_review():
    assert builtin("ciwa_b").unverified_elements() == [
        "item 14",
        "item 15",
        "item 16",
        "item 17",
        "item 18",
        "item 19",
        "item 20",
        "band 0 (none)",
        "source",
        "licence",
    ]
    assert builtin("phq9").unverified_elements() == []


@pytest.mark.parametrize(
    ("total", "band", "status", "severe_flag"),
    [
        (0, "none", "U", False),  # clinical.md 3a: 0 none (U) — not "mild"
        (1, "mild", "S", False),
        (20, "mild", "S", False),
        (21, "moderate", "S", False),
        (40, "moderate", "S", False),
        (41, "severe", "S", True),
        (80, "severe", "S", True),
    ],
)
def test_ciwa_b_band_edges_hand_computed(total, band, status, severe_flag):
    result = score(builtin("ciwa_b"), answers_totalling(builtin("ciwa_b"), total))
    assert result.total == total
    assert (result.band.label, result.band.status) == (band, status)
    assert bool(result.flags) == severe_flag


def test_ciwa_b_bands_are_the_reference_table():
    # clinical.md 3a: 0 none (U), 1-20 mild (S), 21-40 moderate (S), 41-80 severe (S source; 41-60/61-80 U).
    bands = [(b.min, b.max, b.label, b.status) for b in builtin("ciwa_b").bands]
    assert bands == [
        (0, 0, "none", "U"),
        (1, 20, "mild", "S"),
        (21, 40, "moderate", "S"),
        (41, 80, "severe", "S"),
    ]


def test_ciwa_b_worked_example_hand_computed():
    # Hand-computed: items 1-10 = 2 each (20), 11-17 = 1 each (7), observer items 18-20 = 3 each (9) → 36.
    answers = (
        {str(n): 2 for n in range(1, 11)} | {str(n): 1 for n in range(11, 18)} | {"18": 3, "19": 3, "20": 3}
    )
    result = score(builtin("ciwa_b"), answers)
    assert (result.total, result.band.label, result.flags) == (36, "moderate", ())


# ---- refusals ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answers", "needle"),
    [
        ({str(n): 0 for n in range(1, 9)}, "missing answer(s) for item(s) 9"),
        ({str(n): 0 for n in range(1, 10)} | {"10": 0}, "unknown item(s) 10"),
        ({str(n): 0 for n in range(1, 9)} | {"9": 4}, "item 9: answer 4 is not one of 0, 1, 2, 3"),
        ({str(n): 0 for n in range(1, 9)} | {"9": -1}, "not one of"),
        ({str(n): 0 for n in range(1, 9)} | {"9": 1.0}, "must be a whole number"),
        ({str(n): 0 for n in range(1, 9)} | {"9": True}, "must be a whole number"),
        ({str(n): 0 for n in range(1, 9)} | {"9": "1"}, "must be a whole number"),
        ({n: 0 for n in range(1, 10)}, "missing answer(s)"),
        ([0] * 9, "must be a mapping"),
    ],
)
def test_bad_answers_refused(answers, needle):
    with pytest.raises(AnswerError) as exc:
        score(builtin("phq9"), answers)
    assert needle in str(exc.value)


# ---- Hypothesis: totals and bands -------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(data=st.data(), instrument=st.sampled_from(["ciwa_b", "gad7", "phq9"]))
def test_total_always_in_range_and_band_always_defined(data, instrument):
    d = builtin(instrument)
    answers = {i.id: data.draw(st.sampled_from(sorted(i.scale.values))) for i in d.items}
    result = score(d, answers)
    assert d.total_min <= result.total <= d.total_max
    assert result.band.min <= result.total <= result.band.max
    assert dict(result.item_answers) == answers


@settings(max_examples=200, deadline=None)
@given(data=st.data(), instrument=st.sampled_from(["ciwa_b", "gad7", "phq9"]))
def test_any_out_of_range_answer_is_refused(data, instrument):
    d = builtin(instrument)
    answers = {i.id: 0 for i in d.items}
    victim = data.draw(st.sampled_from(d.items))
    answers[victim.id] = data.draw(st.integers().filter(lambda v: v not in victim.scale.values))
    with pytest.raises(AnswerError):
        score(d, answers)


# ---- loader ------------------------------------------------------------------------------------------------
def minimal(**changes):
    """A small valid definition (synthetic, for loader tests only)."""
    d = {
        "schema_version": 1,
        "id": "demo",
        "name": "Demo scale",
        "short_name": "DEMO",
        "version": "1",
        "source": {"citation": "synthetic test fixture", "status": "U"},
        "licence": {"summary": "test only", "item_text_included": True, "status": "U"},
        "answer_scales": {
            "s": {"status": "U", "options": [{"value": v, "label": f"L{v}"} for v in range(4)]}
        },
        "items": [
            {"id": "a", "text": "Item A", "scale": "s", "status": "U"},
            {"id": "b", "text": "Item B", "scale": "s", "reverse": True, "status": "U"},
        ],
        "scoring": {"method": "sum", "total_min": 0, "total_max": 6, "status": "U"},
        "bands": [
            {"min": 0, "max": 2, "label": "low", "status": "U"},
            {"min": 3, "max": 6, "label": "high", "status": "U"},
        ],
        "flags": [
            {
                "id": "b_high",
                "when": {"item": "b", "op": ">=", "value": 2},
                "severity": "high",
                "reason": "r",
                "source": "s",
                "status": "U",
            }
        ],
    }
    d.update(changes)
    return d


def test_adding_an_instrument_is_data_and_reverse_items_work():
    d = load_definition(minimal())
    # Hand-computed: a=3 scores 3; b is reversed, answer 0 scores 3-0 = 3 → total 6 (high).
    result = score(d, {"a": 3, "b": 0})
    assert result.total == 6 and result.band.label == "high"
    assert dict(result.item_answers) == {"a": 3, "b": 0} and dict(result.item_scores) == {"a": 3, "b": 3}
    assert result.flags == ()  # item flags look at the answer given (0), not the reversed score
    assert score(d, {"a": 0, "b": 3}).total == 0


def broken(mutate):
    d = minimal()
    mutate(d)
    return d


@pytest.mark.parametrize(
    ("definition", "needle"),
    [
        (broken(lambda d: d.pop("bands")), "missing required key(s): ['bands']"),
        (broken(lambda d: d.update(extra=1)), "unknown key(s): ['extra']"),
        (broken(lambda d: d.update(schema_version=2)), "schema_version must be 1"),
        (broken(lambda d: d.update(id="Demo Scale")), "id must be a snake_case id"),
        (broken(lambda d: d["source"].update(status="verified")), "source.status must be one of V, S, U"),
        (broken(lambda d: d["items"][1].update(id="a")), "duplicate item id"),
        (broken(lambda d: d["items"][0].update(scale="nope")), "is not one of answer_scales"),
        (broken(lambda d: d["items"][0].update(rater="parent")), "rater must be one of"),
        (broken(lambda d: d["items"][0].update(text="  ")), "text must be non-empty text"),
        (broken(lambda d: d["items"][0].update(weight=2)), "unknown key(s) ['weight']"),
        (
            broken(lambda d: d["answer_scales"]["s"]["options"].append({"value": 3, "label": "dup"})),
            "duplicate values",
        ),
        (
            broken(lambda d: d["answer_scales"]["s"]["options"].append({"value": 1.5, "label": "x"})),
            "must be an integer",
        ),
        (broken(lambda d: d["scoring"].update(total_max=7)), "does not match the items (0–6)"),
        (broken(lambda d: d["scoring"].update(method="mean")), "scoring.method must be 'sum'"),
        (broken(lambda d: d["bands"][1].update(min=4)), "leave a gap or overlap"),
        (broken(lambda d: d["bands"][1].update(min=2)), "leave a gap or overlap"),
        (broken(lambda d: d["bands"][1].update(max=5)), "bands end at 5"),
        (broken(lambda d: d["bands"].reverse()), "lowest to highest"),
        (broken(lambda d: d["flags"][0]["when"].update(item="z")), "'z' is not an item"),
        (broken(lambda d: d["flags"][0]["when"].update(value=9)), "outside item b's scale"),
        (broken(lambda d: d["flags"][0]["when"].update(op="~")), "when.op must be one of"),
        (broken(lambda d: d["flags"][0].update(severity="panic")), "severity must be one of"),
        (broken(lambda d: d["flags"][0].update(when={"op": ">", "value": 1})), '"total": true'),
        (
            broken(lambda d: d.update(loinc={"total": {"code": "44261", "status": "S"}})),
            "is not a LOINC code",
        ),
    ],
)
def test_loader_rejects_with_a_clear_message(definition, needle):
    with pytest.raises(DefinitionError) as exc:
        load_definition(definition, origin="demo.json")
    assert any(needle in problem for problem in exc.value.problems), exc.value.problems
    assert str(exc.value).startswith("demo.json: invalid instrument definition")


def test_loader_reports_every_problem_at_once():
    d = minimal(extra=1, schema_version=9)
    d["items"][0]["rater"] = "parent"
    with pytest.raises(DefinitionError) as exc:
        load_definition(d)
    assert len(exc.value.problems) >= 3


def test_loader_refuses_non_objects_and_bad_json(tmp_path):
    with pytest.raises(DefinitionError):
        load_definition([])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DefinitionError) as exc:
        load_definition_file(bad)
    assert "not valid JSON" in str(exc.value)


def test_unknown_builtin():
    with pytest.raises(KeyError, match="bwsq"):
        builtin("bwsq")


# ---- licensed instrument example (ISI) ---------------------------------------------------------------------
def test_licensed_example_ships_without_text_and_does_not_load():
    raw = json.loads(ISI_EXAMPLE.read_text())
    assert all(item["text"] is None for item in raw["items"])
    assert raw["licence"]["item_text_included"] is False
    with pytest.raises(DefinitionError) as exc:
        load_definition_file(ISI_EXAMPLE)
    assert "fill every item text and answer label" in str(exc.value)


def test_a_clinic_filling_its_licensed_text_can_load_and_score(tmp_path: Path):
    raw = copy.deepcopy(json.loads(ISI_EXAMPLE.read_text()))
    for item in raw["items"]:
        item["text"] = f"[clinic's licensed text for item {item['id']}]"  # synthetic stand-in
    for option in raw["answer_scales"]["severity_0_4"]["options"]:
        option["label"] = f"[licensed label {option['value']}]"
    raw["licence"]["item_text_included"] = True
    path = tmp_path / "isi.json"
    path.write_text(json.dumps(raw))
    d = load_definition_file(path)
    # Hand-computed: 7 items, answers 2,2,2,2,2,2,2 → 14 = subthreshold (8-14); 15 → clinical moderate.
    assert score(d, {str(n): 2 for n in range(1, 8)}).band.label == "subthreshold insomnia"
    assert score(d, {str(n): 2 for n in range(1, 7)} | {"7": 3}).band.label == "clinical insomnia (moderate)"
    assert (d.total_min, d.total_max) == (0, 28)
