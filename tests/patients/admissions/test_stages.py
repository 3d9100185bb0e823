"""The pipeline state machine, pure: property tests over random walks and random requests."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from patients.admissions import stages
from patients.admissions.stages import (
    CLOSED_STAGES,
    CLOSING_STAGES,
    PIPELINE,
    REQUIREMENTS,
    TRANSITIONS,
    Stage,
    next_stages,
    transition_errors,
)

ALL_NAMES = sorted({req.name for reqs in REQUIREMENTS.values() for req in reqs})
FULL_VALUES = {name: "given" for name in ALL_NAMES}
stage_values = st.sampled_from(list(Stage))
# Requests include garbage stage names, so "unknown stage" is exercised alongside the real ones.
requested = st.one_of(stage_values.map(str), st.text(max_size=12))


@given(st.lists(st.tuples(requested, st.sets(st.sampled_from(ALL_NAMES))), max_size=40))
def test_admitted_is_reached_only_through_every_stage_in_order(requests):
    """Apply random requests (with random subsets of requirements) the way the service does: a request
    moves the inquiry only when transition_errors says nothing. Whatever path results, reaching
    admitted means the path was exactly the pipeline."""
    path = [Stage.NEW]
    for to_stage, provided in requests:
        values = {name: "given" for name in provided}
        if not transition_errors(path[-1], to_stage, values):
            path.append(Stage(to_stage))
    if path[-1] == Stage.ADMITTED:
        assert tuple(path) == PIPELINE
    # Whatever happened, stages were visited in pipeline order and at most one closing stage ends the path.
    pipeline_part = [stage for stage in path if stage in PIPELINE]
    assert tuple(pipeline_part) == PIPELINE[: len(pipeline_part)]
    assert all(stage not in CLOSING_STAGES for stage in path[:-1])


@given(stage_values, requested)
def test_closed_stages_are_terminal(current, to_stage):
    if current in CLOSED_STAGES:
        assert transition_errors(current, to_stage, FULL_VALUES)
        assert next_stages(current) == ()


@given(st.sampled_from(stages.OPEN_STAGES))
def test_every_open_stage_can_close_or_take_one_step(current):
    position = PIPELINE.index(current)
    assert set(next_stages(current)) == {PIPELINE[position + 1], *CLOSING_STAGES}


@given(st.data())
def test_every_allowed_transition_checks_each_of_its_requirements(data):
    current = data.draw(st.sampled_from(stages.OPEN_STAGES))
    target = data.draw(st.sampled_from(sorted(TRANSITIONS[current])))
    needed = {req.name for req in REQUIREMENTS.get(target, ())}
    provided = data.draw(st.sets(st.sampled_from(ALL_NAMES)))
    blank = data.draw(st.sampled_from([None, "", "   "]))
    values = {name: ("given" if name in provided else blank) for name in ALL_NAMES}
    errors = transition_errors(current, target, values)
    assert set(errors) == needed - provided
    assert all(errors.values())


def test_unknown_stages_are_refused_with_a_clear_message():
    assert "not a stage" in transition_errors(Stage.NEW, "teleported", {})["to_stage"]
    assert "unknown stage" in transition_errors("limbo", Stage.PRE_SCREENED, {})["to_stage"]
    skipping = transition_errors(Stage.NEW, Stage.ADMITTED, FULL_VALUES)["to_stage"]
    assert "can only move to" in skipping and "Pre-screened" in skipping


def test_each_stage_has_a_label_and_each_move_a_button_label():
    assert all(stage.label for stage in Stage)
    assert set(stages.ACTION_LABELS) == {stage for stage in Stage if stage != Stage.NEW}
    assert set(stages.STALE_AFTER_DAYS) == set(stages.OPEN_STAGES)
