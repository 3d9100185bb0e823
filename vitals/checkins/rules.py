"""The daily check-in's symptom short form and its guidance thresholds: pure Python, no Django.

Both are data (data/symptoms.json, data/guidance.json), each with its source and status. `evaluate`
turns one check-in's answers into the guidance the patient is shown (emergency > call_team > none) and
the flags staff see. It never changes a dose; it only says who to call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"

EMERGENCY = "emergency"
CALL_TEAM = "call_team"
NOTE = "note"
NONE = ""
# Higher wins. "note" never reaches the patient as guidance: it is a flag for staff.
LEVEL_RANK = {NONE: 0, NOTE: 0, CALL_TEAM: 1, EMERGENCY: 2}
GUIDANCE_LEVELS = (EMERGENCY, CALL_TEAM, NONE)

DOSE_STATUSES = ("taken_as_planned", "took_less", "took_more", "missed", "no_plan")
NUMERIC_ANSWERS = ("anxiety", "cravings", "sleep_hours")
BOOLEAN_ANSWERS = ("alcohol", "other_drugs")


class RulesDataError(ValueError):
    """A data file does not say what the code needs (unknown condition, missing field)."""


@dataclass(frozen=True)
class ScaleValue:
    value: int
    label: str


@dataclass(frozen=True)
class SymptomItem:
    id: str
    label: str
    source: str
    status: str


@dataclass(frozen=True)
class RedFlag:
    id: str
    question: str
    source: str
    status: str


@dataclass(frozen=True)
class SymptomForm:
    id: str
    version: str
    title: str
    source: str
    status: str
    scale: tuple[ScaleValue, ...]
    items: tuple[SymptomItem, ...]
    red_flags: tuple[RedFlag, ...]

    @property
    def max_rating(self) -> int:
        return max(value.value for value in self.scale)

    @property
    def max_score(self) -> int:
        return self.max_rating * len(self.items)

    def label_of(self, rating: int) -> str:
        return next((value.label for value in self.scale if value.value == rating), str(rating))


@dataclass(frozen=True)
class Contact:
    id: str
    label: str
    tel: str
    text: str
    source: str
    status: str


@dataclass(frozen=True)
class Rule:
    id: str
    label: str  # a few words for staff ("Anxiety 8 or more")
    level: str
    when: Mapping[str, Any]
    reason: str
    basis: str
    status: str
    contacts: tuple[str, ...] = ()


@dataclass(frozen=True)
class GuidanceRules:
    version: str
    source: str
    status: str
    contacts: tuple[Contact, ...]
    rules: tuple[Rule, ...]

    def contact(self, contact_id: str) -> Contact:
        return next(c for c in self.contacts if c.id == contact_id)


@dataclass(frozen=True)
class Answers:
    """One check-in's answers as the rules see them."""

    dose_status: str = "no_plan"
    symptoms: Mapping[str, int] = field(default_factory=dict)
    red_flags: Mapping[str, bool] = field(default_factory=dict)
    sleep_hours: Decimal | None = None
    anxiety: int | None = None
    cravings: int | None = None
    alcohol: bool = False
    other_drugs: bool = False


@dataclass(frozen=True)
class Guidance:
    level: str  # "emergency", "call_team" or "" (nothing to do beyond the usual)
    flags: tuple[str, ...]  # ids of every rule that fired, notes included
    reasons: tuple[str, ...]  # plain sentences for the rules that set the level
    contacts: tuple[str, ...]  # emergency contact ids to show, most relevant first


# --- loading ---------------------------------------------------------------------------------------------
def _require(raw: Mapping[str, Any], *keys: str, where: str) -> None:
    missing = [key for key in keys if key not in raw]
    if missing:
        raise RulesDataError(f"{where}: missing {', '.join(missing)}")


def parse_symptom_form(raw: Mapping[str, Any]) -> SymptomForm:
    _require(raw, "id", "version", "source", "status", "scale", "items", "red_flags", where="symptoms")
    scale = tuple(ScaleValue(int(v["value"]), v["label"]) for v in raw["scale"]["values"])
    if [v.value for v in scale] != list(range(len(scale))):
        raise RulesDataError("symptoms: the scale must run 0, 1, 2, … without gaps")
    items = tuple(
        SymptomItem(item["id"], item["label"], item["source"], item["status"]) for item in raw["items"]
    )
    flags = tuple(RedFlag(f["id"], f["question"], f["source"], f["status"]) for f in raw["red_flags"])
    ids = [x.id for x in items] + [x.id for x in flags]
    if len(ids) != len(set(ids)):
        raise RulesDataError("symptoms: item and red-flag ids must be unique")
    return SymptomForm(
        id=raw["id"],
        version=str(raw["version"]),
        title=raw.get("title", ""),
        source=raw["source"],
        status=raw["status"],
        scale=scale,
        items=items,
        red_flags=flags,
    )


_CONDITIONS = {"red_flag", "ratings_at_least", "symptom_score_at_least", "answer", "dose_status"}


def _check_condition(rule_id: str, when: Mapping[str, Any], form: SymptomForm) -> None:
    keys = set(when) & _CONDITIONS
    if len(keys) != 1:
        raise RulesDataError(f"rule {rule_id}: 'when' needs exactly one of {sorted(_CONDITIONS)}")
    if "red_flag" in when and when["red_flag"] not in {f.id for f in form.red_flags}:
        raise RulesDataError(f"rule {rule_id}: unknown red flag {when['red_flag']!r}")
    if "dose_status" in when and set(when["dose_status"]) - set(DOSE_STATUSES):
        raise RulesDataError(f"rule {rule_id}: unknown dose status in {when['dose_status']!r}")
    if "answer" in when:
        name = when["answer"]
        if name in NUMERIC_ANSWERS:
            if not ({"at_least", "below"} & set(when)):
                raise RulesDataError(f"rule {rule_id}: a numeric answer needs at_least or below")
        elif name in BOOLEAN_ANSWERS:
            if "is" not in when:
                raise RulesDataError(f"rule {rule_id}: a yes/no answer needs 'is'")
        else:
            raise RulesDataError(f"rule {rule_id}: unknown answer {name!r}")


def parse_guidance(raw: Mapping[str, Any], form: SymptomForm) -> GuidanceRules:
    _require(raw, "version", "source", "status", "contacts", "rules", where="guidance")
    contacts = tuple(
        Contact(c["id"], c["label"], c["tel"], c["text"], c["source"], c["status"]) for c in raw["contacts"]
    )
    contact_ids = {c.id for c in contacts}
    rules = []
    for item in raw["rules"]:
        _require(item, "id", "label", "level", "when", "reason", "basis", "status", where="guidance rule")
        if item["level"] not in (EMERGENCY, CALL_TEAM, NOTE):
            raise RulesDataError(f"rule {item['id']}: unknown level {item['level']!r}")
        _check_condition(item["id"], item["when"], form)
        wanted = tuple(item.get("contacts", ()))
        if set(wanted) - contact_ids:
            raise RulesDataError(f"rule {item['id']}: unknown contact in {wanted!r}")
        if item["level"] == EMERGENCY and not wanted:
            raise RulesDataError(f"rule {item['id']}: an emergency rule must name who to call")
        rules.append(
            Rule(
                id=item["id"],
                label=item["label"],
                level=item["level"],
                when=dict(item["when"]),
                reason=item["reason"],
                basis=item["basis"],
                status=item["status"],
                contacts=wanted,
            )
        )
    if len({r.id for r in rules}) != len(rules):
        raise RulesDataError("guidance: rule ids must be unique")
    return GuidanceRules(
        version=str(raw["version"]),
        source=raw["source"],
        status=raw["status"],
        contacts=contacts,
        rules=tuple(rules),
    )


@cache
def symptom_form() -> SymptomForm:
    return parse_symptom_form(json.loads((DATA / "symptoms.json").read_text(encoding="utf-8")))


@cache
def guidance_rules() -> GuidanceRules:
    raw = json.loads((DATA / "guidance.json").read_text(encoding="utf-8"))
    return parse_guidance(raw, symptom_form())


# --- evaluation ------------------------------------------------------------------------------------------
def symptom_score(ratings: Mapping[str, int], form: SymptomForm | None = None) -> int:
    """The sum of the ratings of the form's items (unanswered = 0)."""
    form = form or symptom_form()
    return sum(int(ratings.get(item.id, 0) or 0) for item in form.items)


def _fires(when: Mapping[str, Any], answers: Answers, form: SymptomForm) -> bool:
    if "red_flag" in when:
        return bool(answers.red_flags.get(when["red_flag"], False))
    if "ratings_at_least" in when:
        spec = when["ratings_at_least"]
        count = sum(1 for item in form.items if int(answers.symptoms.get(item.id, 0) or 0) >= spec["rating"])
        return count >= spec["count"]
    if "symptom_score_at_least" in when:
        return symptom_score(answers.symptoms, form) >= when["symptom_score_at_least"]
    if "dose_status" in when:
        return answers.dose_status in when["dose_status"]
    name = when["answer"]
    value = getattr(answers, name)
    if name in BOOLEAN_ANSWERS:
        return bool(value) is bool(when["is"])
    if value is None:
        return False
    if "at_least" in when:
        return Decimal(str(value)) >= Decimal(str(when["at_least"]))
    return Decimal(str(value)) < Decimal(str(when["below"]))


def evaluate(
    answers: Answers, *, form: SymptomForm | None = None, rules: GuidanceRules | None = None
) -> Guidance:
    form = form or symptom_form()
    rules = rules or guidance_rules()
    fired = [rule for rule in rules.rules if _fires(rule.when, answers, form)]
    level = NONE
    for rule in fired:
        if LEVEL_RANK[rule.level] > LEVEL_RANK[level]:
            level = rule.level
    deciding = [rule for rule in fired if rule.level == level and level != NONE]
    contacts: list[str] = []
    for rule in deciding:
        contacts += [c for c in rule.contacts if c not in contacts]
    return Guidance(
        level=level,
        flags=tuple(rule.id for rule in fired),
        reasons=tuple(rule.reason for rule in deciding),
        contacts=tuple(contacts),
    )
