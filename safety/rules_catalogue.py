"""The safety rule catalogue (safety/data/rules.json), loaded once and validated. Pure: no Django import.

`rule(id)` answers what an alert of that rule is called, how severe it is, what to do and where that comes
from. An id that is not in the catalogue is an error (UnknownRule): a rule cannot raise an alert nobody
described.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "rules.json"
SEVERITIES = ("low", "moderate", "high", "critical")
STATUSES = ("V", "S", "U")
CATEGORIES = ("instrument", "vital", "checkin", "trend", "medication", "attendance", "other")
_RULE_KEYS = {
    "id",
    "title",
    "severity",
    "category",
    "criteria",
    "what_to_do",
    "source",
    "reference",
    "status",
}
_OPTIONAL_KEYS = {"source_url", "evidence_labels"}


class UnknownRule(KeyError):
    """A rule id that is not in safety/data/rules.json."""


class CatalogueError(ValueError):
    """rules.json is malformed."""


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    category: str
    criteria: str
    what_to_do: str
    source: str
    reference: str
    status: str
    source_url: str = ""
    evidence_labels: tuple[tuple[str, str], ...] = ()

    @property
    def citation(self) -> str:
        """What an alert stores as its source: the citation, its URL and the reference section."""
        parts = [self.source]
        if self.source_url:
            parts.append(self.source_url)
        parts.append(f"[{self.status}] {self.reference}")
        return " — ".join(parts)

    @property
    def severity_rank(self) -> int:
        return SEVERITIES.index(self.severity)


@dataclass(frozen=True)
class Defaults:
    escalate_after_minutes: int
    escalate_min: int
    escalate_max: int
    checkin_cutoff: datetime.time
    missed_sessions: int  # sched_missed_sessions: booked sessions missed in a row before an alert
    missed_sessions_min: int
    missed_sessions_max: int
    notify_severities: frozenset[str]
    escalate_severities: frozenset[str]


@dataclass(frozen=True)
class Catalogue:
    rules: dict[str, Rule]
    defaults: Defaults


def _rule(entry: dict[str, Any]) -> Rule:
    missing = _RULE_KEYS - set(entry)
    unknown = set(entry) - _RULE_KEYS - _OPTIONAL_KEYS
    name = entry.get("id", "?")
    if missing:
        raise CatalogueError(f"rule {name}: missing {', '.join(sorted(missing))}")
    if unknown:
        raise CatalogueError(f"rule {name}: unknown keys {', '.join(sorted(unknown))}")
    for key in _RULE_KEYS:
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise CatalogueError(f"rule {name}: {key} must be non-empty text")
    if entry["severity"] not in SEVERITIES:
        raise CatalogueError(f"rule {name}: severity {entry['severity']!r} is not one of {SEVERITIES}")
    if entry["status"] not in STATUSES:
        raise CatalogueError(f"rule {name}: status {entry['status']!r} is not V, S or U")
    if entry["category"] not in CATEGORIES:
        raise CatalogueError(f"rule {name}: category {entry['category']!r} is not one of {CATEGORIES}")
    if len(entry["id"]) > 64 or len(entry["title"]) > 200:
        raise CatalogueError(f"rule {name}: id (64) or title (200) too long")
    labels = entry.get("evidence_labels", {})
    if not isinstance(labels, dict):
        raise CatalogueError(f"rule {name}: evidence_labels must map evidence keys to labels")
    return Rule(
        **{key: entry[key].strip() for key in _RULE_KEYS},
        source_url=entry.get("source_url", ""),
        evidence_labels=tuple(labels.items()),
    )


def _severity_set(raw: dict[str, Any], key: str) -> frozenset[str]:
    value = raw.get(key, {}).get("value")
    if not isinstance(value, list) or not set(value) <= set(SEVERITIES):
        raise CatalogueError(f"{key}.value must list severities from {SEVERITIES}")
    return frozenset(value)


def parse(raw: dict[str, Any]) -> Catalogue:
    """Validate the catalogue document; raise CatalogueError naming the first problem."""
    if raw.get("schema_version") != 1:
        raise CatalogueError("schema_version must be 1")
    if tuple(raw.get("severities", ())) != SEVERITIES:
        raise CatalogueError(f"severities must be {SEVERITIES} in that order")
    rules: dict[str, Rule] = {}
    for entry in raw.get("rules", []):
        parsed = _rule(entry)
        if parsed.id in rules:
            raise CatalogueError(f"rule {parsed.id} is listed twice")
        rules[parsed.id] = parsed
    if not rules:
        raise CatalogueError("the catalogue lists no rules")
    settings = raw.get("settings_defaults", {})
    try:
        escalate = settings["escalate_after_minutes"]
        minutes, low, high = int(escalate["value"]), int(escalate["min"]), int(escalate["max"])
        cutoff = datetime.time.fromisoformat(settings["checkin_cutoff"]["value"])
        missed = settings["missed_sessions_in_a_row"]
        runs = int(missed["value"]), int(missed["min"]), int(missed["max"])
    except (KeyError, TypeError, ValueError) as error:
        raise CatalogueError(f"settings_defaults: {error}") from error
    if not low <= minutes <= high:
        raise CatalogueError("settings_defaults.escalate_after_minutes is outside its own min/max")
    if not 1 <= runs[1] <= runs[0] <= runs[2]:
        raise CatalogueError("settings_defaults.missed_sessions_in_a_row is outside its own min/max")
    for key in ("escalate_after_minutes", "checkin_cutoff", "missed_sessions_in_a_row"):
        if settings[key].get("status") not in STATUSES or not settings[key].get("source"):
            raise CatalogueError(f"settings_defaults.{key} needs a source and a status")
    defaults = Defaults(
        escalate_after_minutes=minutes,
        escalate_min=low,
        escalate_max=high,
        checkin_cutoff=cutoff,
        missed_sessions=runs[0],
        missed_sessions_min=runs[1],
        missed_sessions_max=runs[2],
        notify_severities=_severity_set(raw, "notify_severities"),
        escalate_severities=_severity_set(raw, "escalate_severities"),
    )
    return Catalogue(rules=rules, defaults=defaults)


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    with DATA.open(encoding="utf-8") as handle:
        return parse(json.load(handle))


def rule(rule_id: str) -> Rule:
    """The catalogue entry of `rule_id`; UnknownRule if there is none."""
    try:
        return catalogue().rules[rule_id]
    except KeyError:
        raise UnknownRule(f"{rule_id!r} is not a rule in safety/data/rules.json") from None


def all_rules() -> list[Rule]:
    """Every rule, most severe first, then by title."""
    return sorted(catalogue().rules.values(), key=lambda r: (-r.severity_rank, r.title))


def defaults() -> Defaults:
    return catalogue().defaults


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)
