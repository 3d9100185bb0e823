"""The level-of-care suggestion rules: the table's cases, and properties over every possible rating."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patients.intake import asam
from patients.levels_of_care import BY_CODE

ratings_strategy = st.fixed_dictionaries({n: st.integers(0, 4) for n in asam.DIMENSION_NUMBERS})
history_strategy = st.builds(asam.History, seizures=st.booleans(), delirium=st.booleans())


def ratings(**by_dimension: int) -> dict[int, int]:
    base = dict.fromkeys(asam.DIMENSION_NUMBERS, 0)
    base.update({int(key[1:]): value for key, value in by_dimension.items()})
    return base


@pytest.mark.parametrize(
    ("given_ratings", "history", "level", "higher"),
    [
        (ratings(), asam.History(), "op", False),
        (ratings(d1=1, d2=1, d3=1, d4=1, d5=1, d6=1), asam.History(), "op", False),
        (ratings(d4=2), asam.History(), "iop", False),
        (ratings(d5=3, d6=4), asam.History(), "iop", False),
        (ratings(d1=3), asam.History(), "php", True),
        (ratings(d2=3), asam.History(), "php", False),
        (ratings(d3=4), asam.History(), "php", False),
        (ratings(), asam.History(seizures=True), "php", True),
        (ratings(), asam.History(delirium=True), "php", True),
    ],
)
def test_rule_table_cases(given_ratings, history, level, higher):
    suggestion = asam.suggest_level(given_ratings, history)
    assert suggestion.level == level
    assert suggestion.higher_level_may_be_needed is higher
    assert suggestion.reasons
    if higher:
        assert any("2.7" in note and "4th ed" in note for note in suggestion.notes)


def test_every_rule_names_its_source_status_and_a_known_level():
    for rule in asam.RULES:
        assert rule.source and rule.status in {"V", "S", "U"} and rule.reason
        assert rule.floor in BY_CODE and rule.floor in asam.LEVEL_ORDER
    assert set(asam.LEVEL_ORDER) == set(BY_CODE)


@pytest.mark.parametrize("bad", [{1: 5}, {1: -1}, {1: "2"}, {1: True}, {1: 2.5}])
def test_ratings_outside_0_to_4_are_refused(bad):
    with pytest.raises(asam.InvalidRatings):
        asam.suggest_level({**ratings(), **bad})


def test_missing_dimension_is_refused():
    partial = ratings()
    del partial[6]
    with pytest.raises(asam.InvalidRatings):
        asam.suggest_level(partial)


@given(ratings_strategy, history_strategy, st.sampled_from(asam.DIMENSION_NUMBERS), st.integers(1, 4))
def test_raising_any_rating_never_lowers_the_level(given_ratings, history, dimension, step):
    before = asam.suggest_level(given_ratings, history)
    raised = {**given_ratings, dimension: min(4, given_ratings[dimension] + step)}
    after = asam.suggest_level(raised, history)
    assert asam.level_rank(after.level) >= asam.level_rank(before.level)
    assert after.higher_level_may_be_needed >= before.higher_level_may_be_needed


@given(ratings_strategy, history_strategy)
def test_adding_withdrawal_history_never_lowers_the_level(given_ratings, history):
    before = asam.suggest_level(given_ratings, history)
    worse = asam.History(seizures=True, delirium=history.delirium)
    assert asam.level_rank(asam.suggest_level(given_ratings, worse).level) >= asam.level_rank(before.level)


@given(ratings_strategy, st.booleans(), st.booleans())
def test_seizure_or_delirium_history_never_suggests_below_php(given_ratings, seizures, delirium):
    if not (seizures or delirium):
        seizures = True
    suggestion = asam.suggest_level(given_ratings, asam.History(seizures=seizures, delirium=delirium))
    assert suggestion.level == "php"
    assert suggestion.higher_level_may_be_needed


@given(ratings_strategy)
def test_outpatient_exactly_when_every_rating_is_at_most_mild(given_ratings):
    suggestion = asam.suggest_level(given_ratings)
    assert (suggestion.level == "op") == all(value <= 1 for value in given_ratings.values())
