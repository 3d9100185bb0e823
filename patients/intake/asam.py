"""ASAM dimensions, risk ratings and the level-of-care suggestion rules. Pure: no Django.

The software suggests, the clinician decides: `suggest_level` returns a floor with its reasons, and the
assessment form asks the clinician to say why when the chosen level differs.

Statuses follow ../shared/reference/clinical.md: V verified, S secondary, U unverified (from memory or
program policy; a clinician must review before this is relied on).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

# Intensity order of the levels this program offers (codes of patients.levels_of_care).
LEVEL_ORDER: tuple[str, ...] = ("op", "iop", "php")
LEVEL_NAMES = {
    "op": "Outpatient (ASAM 1)",
    "iop": "Intensive outpatient (ASAM 2.1)",
    "php": "Partial hospitalization (ASAM 2.5)",
}

ASAM_3RD = "ASAM Criteria 3rd ed. (2013)"
JGIM_2025 = "Joint CPG on Benzodiazepine Tapering (ASAM et al., JGIM 2025)"


@dataclass(frozen=True)
class Dimension:
    number: int
    name: str
    asks: str


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension(
        1,
        "Acute intoxication and/or withdrawal potential",
        "Current intoxication, withdrawal signs, and the risk of severe or complicated withdrawal.",
    ),
    Dimension(
        2,
        "Biomedical conditions and complications",
        "Physical health conditions that complicate treatment or need medical management.",
    ),
    Dimension(
        3,
        "Emotional, behavioral or cognitive conditions and complications",
        "Psychiatric symptoms, cognition, and risk of harm to self or others.",
    ),
    Dimension(4, "Readiness to change", "Engagement, motivation and interest in tapering and recovery."),
    Dimension(
        5,
        "Relapse, continued use or continued problem potential",
        "Likelihood of return to use or escalation without close support.",
    ),
    Dimension(6, "Recovery / living environment", "Safety and support at home, work, and in relationships."),
)
DIMENSION_NUMBERS = tuple(d.number for d in DIMENSIONS)


@dataclass(frozen=True)
class Rating:
    value: int
    label: str
    means: str


# ASAM 3rd ed. risk-rating scale as commonly summarised (status U: the criteria text was not retrieved).
RATINGS: tuple[Rating, ...] = (
    Rating(0, "None", "No current risk or problem in this dimension."),
    Rating(1, "Mild", "Minor difficulty; manageable with routine outpatient support."),
    Rating(2, "Moderate", "Moderate difficulty; needs structured, regular intervention."),
    Rating(3, "Significant", "Serious difficulty; needs intensive services and close monitoring."),
    Rating(4, "Severe", "Utmost severity or imminent danger; may need immediate, higher-level care."),
)
RATING_SCALE_STATUS = "U"
RATING_SCALE_SOURCE = f"{ASAM_3RD} risk-rating scale, as summarised (not retrieved verbatim)"
MIN_RATING, MAX_RATING = 0, 4


@dataclass(frozen=True)
class History:
    """The parts of the withdrawal history that move the suggestion."""

    seizures: bool = False
    delirium: bool = False


ConditionKind = Literal["any_dimension_at_least", "history"]


@dataclass(frozen=True)
class Rule:
    """One row of the suggestion table: when `kind`/`params` hold, the level is at least `floor`."""

    id: str
    kind: ConditionKind
    params: Mapping[str, object]
    floor: str
    reason: str
    source: str
    status: str
    # The patient may need more than this program offers (a medically managed setting).
    flags_higher_level: bool = False


HIGHER_LEVEL_NOTE = (
    "A medically managed level this program does not offer may be needed: ASAM 2.7 medically managed "
    "intensive outpatient (ASAM 4th ed., 2023 — U, not verified), 3.7 medically monitored inpatient or "
    "4 medically managed intensive inpatient (ASAM levels — U, not retrieved). "
    f"{JGIM_2025}: manage severe or complicated withdrawal in an inpatient or residential medically managed "
    "setting, with assessment of seizure risk (V, p.15; rec. 5 p.7)."
)

# The table is program policy informed by the sources named; status U until a clinician signs it off.
RULES: tuple[Rule, ...] = (
    Rule(
        id="withdrawal-seizures",
        kind="history",
        params={"field": "seizures"},
        floor="php",
        reason="History of withdrawal seizures: complicated withdrawal raises the level of care.",
        source=f"{JGIM_2025} rec. 12 p.15 (V); floor at PHP is program policy",
        status="U",
        flags_higher_level=True,
    ),
    Rule(
        id="withdrawal-delirium",
        kind="history",
        params={"field": "delirium"},
        floor="php",
        reason="History of withdrawal delirium: complicated withdrawal raises the level of care.",
        source=f"{JGIM_2025} rec. 12 p.15 and Table 3 p.9 (V); floor at PHP is program policy",
        status="U",
        flags_higher_level=True,
    ),
    Rule(
        id="dimension-1-significant",
        kind="any_dimension_at_least",
        params={"dimensions": (1,), "rating": 3},
        floor="php",
        reason="Dimension 1 (withdrawal potential) rated significant or severe.",
        source=f"{ASAM_3RD} dimensional criteria, as summarised; {JGIM_2025} rec. 5 p.7 (V)",
        status="U",
        flags_higher_level=True,
    ),
    Rule(
        id="dimension-2-or-3-significant",
        kind="any_dimension_at_least",
        params={"dimensions": (2, 3), "rating": 3},
        floor="php",
        reason="Dimension 2 (biomedical) or 3 (emotional/behavioral/cognitive) rated significant or severe.",
        source=f"{ASAM_3RD} dimensional criteria, as summarised",
        status="U",
    ),
    Rule(
        id="any-dimension-moderate",
        kind="any_dimension_at_least",
        params={"dimensions": DIMENSION_NUMBERS, "rating": 2},
        floor="iop",
        reason="At least one dimension rated moderate or higher: more than routine outpatient care.",
        source=f"{ASAM_3RD} dimensional criteria, as summarised",
        status="U",
    ),
)
BASELINE_REASON = "Every dimension rated none or mild: outpatient care is enough on the ratings alone."


@dataclass(frozen=True)
class Suggestion:
    level: str
    reasons: tuple[str, ...]
    rule_ids: tuple[str, ...]
    higher_level_may_be_needed: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[self.level]


class InvalidRatings(ValueError):
    pass


def _validated(ratings: Mapping[int, int]) -> dict[int, int]:
    missing = [n for n in DIMENSION_NUMBERS if n not in ratings]
    if missing:
        raise InvalidRatings(f"Missing ratings for dimension(s) {missing}")
    checked = {}
    for number in DIMENSION_NUMBERS:
        value = ratings[number]
        if isinstance(value, bool) or not isinstance(value, int) or not MIN_RATING <= value <= MAX_RATING:
            raise InvalidRatings(f"Dimension {number} rating must be a whole number 0–4, got {value!r}")
        checked[number] = value
    return checked


def _applies(rule: Rule, ratings: Mapping[int, int], history: History) -> bool:
    if rule.kind == "history":
        return bool(getattr(history, str(rule.params["field"])))
    dimensions = rule.params["dimensions"]
    threshold = int(rule.params["rating"])  # type: ignore[arg-type]
    if rule.kind == "any_dimension_at_least":
        return any(ratings[n] >= threshold for n in dimensions)  # type: ignore[union-attr]
    raise ValueError(f"Unknown rule kind {rule.kind!r}")


def level_rank(level: str) -> int:
    return LEVEL_ORDER.index(level)


def suggest_level(ratings: Mapping[int, int], history: History = History()) -> Suggestion:
    """The least intensive level that every applicable rule allows, with the reasons for it."""
    checked = _validated(ratings)
    fired = [rule for rule in RULES if _applies(rule, checked, history)]
    level = "op"
    for rule in fired:
        if level_rank(rule.floor) > level_rank(level):
            level = rule.floor
    reasons = tuple(rule.reason for rule in fired) or (BASELINE_REASON,)
    higher = any(rule.flags_higher_level for rule in fired)
    return Suggestion(
        level=level,
        reasons=reasons,
        rule_ids=tuple(rule.id for rule in fired),
        higher_level_may_be_needed=higher,
        notes=(HIGHER_LEVEL_NOTE,) if higher else (),
    )
