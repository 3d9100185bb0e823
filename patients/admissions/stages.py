"""The admissions pipeline as a pure state machine: which stage may follow which, and what each move needs.

No Django here: the services ask `transition_errors(...)` before they write, the views ask
`next_stages(...)` for the buttons they draw, and the property tests walk the table directly.

    new → pre_screened → benefits_verified → intake_scheduled → assessed → admitted
    any open stage → referred_out | declined (with a reason)

The pipeline only moves forward, one stage at a time; admitted, referred out and declined are terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Stage(StrEnum):
    NEW = "new"
    PRE_SCREENED = "pre_screened"
    BENEFITS_VERIFIED = "benefits_verified"
    INTAKE_SCHEDULED = "intake_scheduled"
    ASSESSED = "assessed"
    ADMITTED = "admitted"
    REFERRED_OUT = "referred_out"
    DECLINED = "declined"

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS: dict[Stage, str] = {
    Stage.NEW: "New",
    Stage.PRE_SCREENED: "Pre-screened",
    Stage.BENEFITS_VERIFIED: "Benefits verified",
    Stage.INTAKE_SCHEDULED: "Intake scheduled",
    Stage.ASSESSED: "Assessed",
    Stage.ADMITTED: "Admitted",
    Stage.REFERRED_OUT: "Referred out",
    Stage.DECLINED: "Declined",
}
CHOICES = [(stage.value, stage.label) for stage in Stage]
# What the button that moves an inquiry *to* the stage says.
ACTION_LABELS: dict[Stage, str] = {
    Stage.PRE_SCREENED: "Mark pre-screened",
    Stage.BENEFITS_VERIFIED: "Mark benefits verified",
    Stage.INTAKE_SCHEDULED: "Schedule intake",
    Stage.ASSESSED: "Record assessment",
    Stage.ADMITTED: "Admit",
    Stage.REFERRED_OUT: "Refer out",
    Stage.DECLINED: "Decline",
}

PIPELINE: tuple[Stage, ...] = (
    Stage.NEW,
    Stage.PRE_SCREENED,
    Stage.BENEFITS_VERIFIED,
    Stage.INTAKE_SCHEDULED,
    Stage.ASSESSED,
    Stage.ADMITTED,
)
OPEN_STAGES: tuple[Stage, ...] = PIPELINE[:-1]
CLOSING_STAGES: tuple[Stage, ...] = (Stage.REFERRED_OUT, Stage.DECLINED)
CLOSED_STAGES: frozenset[Stage] = frozenset({Stage.ADMITTED, *CLOSING_STAGES})


def _build_transitions() -> dict[Stage, frozenset[Stage]]:
    table: dict[Stage, frozenset[Stage]] = {}
    for position, stage in enumerate(OPEN_STAGES):
        table[stage] = frozenset({PIPELINE[position + 1], *CLOSING_STAGES})
    for stage in CLOSED_STAGES:
        table[stage] = frozenset()
    return table


TRANSITIONS: dict[Stage, frozenset[Stage]] = _build_transitions()

# An inquiry sitting longer than this in a stage is highlighted on the board. New calls should be returned
# the same or next day; an intake is often booked a week out.
STALE_AFTER_DAYS: dict[Stage, int] = {
    Stage.NEW: 1,
    Stage.PRE_SCREENED: 3,
    Stage.BENEFITS_VERIFIED: 3,
    Stage.INTAKE_SCHEDULED: 7,
    Stage.ASSESSED: 3,
}


@dataclass(frozen=True)
class Requirement:
    name: str  # the value's key in the `values` mapping (a form/API field, or a fact such as "patient")
    message: str  # shown when it is missing


REQUIREMENTS: dict[Stage, tuple[Requirement, ...]] = {
    Stage.INTAKE_SCHEDULED: (Requirement("intake_at", "Give the date and time of the intake appointment."),),
    Stage.ASSESSED: (Requirement("level_of_care", "Choose the level of care the assessment recommends."),),
    Stage.ADMITTED: (
        Requirement("level_of_care", "Choose the level of care the patient is admitted to."),
        Requirement("admitted_on", "Give the admission date."),
        Requirement(
            "patient", "Convert the inquiry to a patient (or link the existing patient) before admitting."
        ),
    ),
    Stage.REFERRED_OUT: (Requirement("closed_reason", "Choose why the inquiry was referred out."),),
    Stage.DECLINED: (Requirement("closed_reason", "Choose why the inquiry was declined."),),
}


def parse(value: Any) -> Stage | None:
    try:
        return Stage(value)
    except ValueError:
        return None


def is_open(stage: Stage | str) -> bool:
    return parse(stage) in OPEN_STAGES


def next_stages(stage: Stage | str) -> tuple[Stage, ...]:
    """The stages an inquiry may move to from `stage`, pipeline stage first, in a stable order."""
    current = parse(stage)
    if current is None:
        return ()
    allowed = TRANSITIONS[current]
    return tuple(candidate for candidate in Stage if candidate in allowed)


def requirements(to_stage: Stage | str) -> tuple[Requirement, ...]:
    target = parse(to_stage)
    return REQUIREMENTS.get(target, ()) if target is not None else ()


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    return True


def transition_errors(from_stage: Any, to_stage: Any, values: Mapping[str, Any]) -> dict[str, str]:
    """Why the move is refused, keyed by field ("to_stage" for the move itself); empty when allowed."""
    current, target = parse(from_stage), parse(to_stage)
    if target is None:
        return {"to_stage": f"{to_stage!r} is not a stage of the admissions pipeline."}
    if current is None:
        return {"to_stage": f"The inquiry is in an unknown stage {from_stage!r}."}
    if target not in TRANSITIONS[current]:
        if current in CLOSED_STAGES:
            return {
                "to_stage": f"The inquiry is already {current.label.lower()}; closed inquiries do not move."
            }
        allowed = ", ".join(stage.label for stage in next_stages(current))
        return {"to_stage": f"An inquiry that is {current.label.lower()} can only move to: {allowed}."}
    return {
        req.name: req.message for req in REQUIREMENTS.get(target, ()) if not _present(values.get(req.name))
    }
