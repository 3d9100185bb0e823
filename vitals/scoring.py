"""Instruments as data: load and validate a JSON definition, then score answers against it.

Adding an instrument means adding a JSON file that passes `load_definition`; no code changes.
The schema is documented in vitals/instruments/README.md.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from vitals.errors import AnswerError, DefinitionError

BUILTIN_DIR = Path(__file__).parent / "instruments"

SCHEMA_VERSION = 1
STATUSES = frozenset({"V", "S", "U"})
RATERS = frozenset({"patient", "observer", "clinician"})
SEVERITIES = frozenset({"info", "high", "urgent"})
OPS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
}
ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
LOINC_RE = re.compile(r"^\d{1,7}-\d$")
TOP_LEVEL_REQUIRED = {
    "schema_version",
    "id",
    "name",
    "short_name",
    "version",
    "source",
    "licence",
    "answer_scales",
    "items",
    "scoring",
    "bands",
}
TOP_LEVEL_OPTIONAL = {"instructions", "recall_period", "flags", "loinc", "notes"}


@dataclass(frozen=True)
class Option:
    value: int
    label: str


@dataclass(frozen=True)
class AnswerScale:
    id: str
    options: tuple[Option, ...]

    @property
    def min(self) -> int:
        return min(o.value for o in self.options)

    @property
    def max(self) -> int:
        return max(o.value for o in self.options)

    @property
    def values(self) -> frozenset[int]:
        return frozenset(o.value for o in self.options)


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    scale: AnswerScale
    rater: str
    reverse: bool
    status: str

    def scored(self, answer: int) -> int:
        # Reverse items mirror the answer within the scale so a higher score always means "worse".
        return self.scale.min + self.scale.max - answer if self.reverse else answer


@dataclass(frozen=True)
class Band:
    min: int
    max: int
    label: str
    status: str


@dataclass(frozen=True)
class FlagRule:
    id: str
    item: str | None  # None → the rule is on the total
    op: str
    value: int
    severity: str
    reason: str
    source: str
    status: str


@dataclass(frozen=True)
class InstrumentDefinition:
    id: str
    name: str
    short_name: str
    version: str
    source: Mapping[str, Any]
    licence: Mapping[str, Any]
    instructions: str | None
    items: tuple[Item, ...]
    total_min: int
    total_max: int
    bands: tuple[Band, ...]
    flags: tuple[FlagRule, ...]
    loinc_total: str | None
    loinc_panel: str | None

    def band_for(self, total: int) -> Band:
        for band in self.bands:
            if band.min <= total <= band.max:
                return band
        raise AssertionError(
            f"{self.id}: no band for total {total} (validated definitions cover every total)"
        )

    def unverified_elements(self) -> list[str]:
        """Human-readable list of parts whose status is U, for a 'clinician review required' banner."""
        parts = [f"item {i.id}" for i in self.items if i.status == "U"]
        parts += [
            f"band {b.min if b.min == b.max else f'{b.min}–{b.max}'} ({b.label})"
            for b in self.bands
            if b.status == "U"
        ]
        parts += [f"flag {f.id}" for f in self.flags if f.status == "U"]
        parts += [
            name
            for name, section in (("source", self.source), ("licence", self.licence))
            if section.get("status") == "U"
        ]
        return parts


# ---------------------------------------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------------------------------------
class _Problems(list[str]):
    def need(self, condition: bool, message: str) -> bool:
        if not condition:
            self.append(message)
        return condition


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _status(p: _Problems, where: str, obj: Mapping[str, Any]) -> str:
    status = obj.get("status")
    p.need(status in STATUSES, f"{where}.status must be one of V, S, U (got {status!r})")
    return status if isinstance(status, str) else ""


def _scales(p: _Problems, raw: object, licensed_text_missing: list[str]) -> dict[str, AnswerScale]:
    scales: dict[str, AnswerScale] = {}
    if not p.need(isinstance(raw, Mapping) and bool(raw), "answer_scales must be a non-empty object"):
        return scales
    for scale_id, scale in raw.items():
        where = f"answer_scales.{scale_id}"
        if not p.need(isinstance(scale, Mapping), f"{where} must be an object"):
            continue
        _status(p, where, scale)
        options = scale.get("options")
        if not p.need(
            isinstance(options, list) and bool(options), f"{where}.options must be a non-empty list"
        ):
            continue
        parsed = []
        for n, opt in enumerate(options):
            o_where = f"{where}.options[{n}]"
            if not p.need(isinstance(opt, Mapping), f"{o_where} must be an object"):
                continue
            value, label = opt.get("value"), opt.get("label")
            p.need(_is_int(value), f"{o_where}.value must be an integer (got {value!r})")
            if label is None:
                licensed_text_missing.append(f"{o_where}.label")
            else:
                p.need(_nonempty_str(label), f"{o_where}.label must be non-empty text")
            if _is_int(value):
                parsed.append(Option(value, label or ""))
        values = [o.value for o in parsed]
        p.need(len(values) == len(set(values)), f"{where}.options has duplicate values")
        if parsed:
            scales[scale_id] = AnswerScale(scale_id, tuple(parsed))
    return scales


def _items(
    p: _Problems, raw: object, scales: Mapping[str, AnswerScale], licensed_text_missing: list[str]
) -> list[Item]:
    items: list[Item] = []
    if not p.need(isinstance(raw, list) and bool(raw), "items must be a non-empty list"):
        return items
    seen: set[str] = set()
    for n, item in enumerate(raw):
        where = f"items[{n}]"
        if not p.need(isinstance(item, Mapping), f"{where} must be an object"):
            continue
        item_id = item.get("id")
        if p.need(_nonempty_str(item_id), f"{where}.id must be non-empty text"):
            where = f"items[{n}] (id {item_id})"
            p.need(item_id not in seen, f"{where}: duplicate item id")
            seen.add(item_id)
        text = item.get("text")
        if text is None:
            licensed_text_missing.append(f"{where}.text")
        else:
            p.need(_nonempty_str(text), f"{where}.text must be non-empty text")
        scale = scales.get(item.get("scale"))
        p.need(scale is not None, f"{where}.scale {item.get('scale')!r} is not one of answer_scales")
        rater = item.get("rater", "patient")
        p.need(rater in RATERS, f"{where}.rater must be one of {sorted(RATERS)} (got {rater!r})")
        reverse = item.get("reverse", False)
        p.need(isinstance(reverse, bool), f"{where}.reverse must be true or false")
        status = _status(p, where, item)
        unknown = set(item) - {"id", "text", "scale", "rater", "reverse", "status", "status_note"}
        p.need(not unknown, f"{where}: unknown key(s) {sorted(unknown)}")
        if scale is not None and _nonempty_str(item_id):
            items.append(Item(item_id, text or "", scale, rater, bool(reverse), status))
    return items


def _bands(p: _Problems, raw: object, total_min: int, total_max: int) -> list[Band]:
    bands: list[Band] = []
    if not p.need(isinstance(raw, list) and bool(raw), "bands must be a non-empty list"):
        return bands
    for n, band in enumerate(raw):
        where = f"bands[{n}]"
        if not p.need(isinstance(band, Mapping), f"{where} must be an object"):
            continue
        lo, hi, label = band.get("min"), band.get("max"), band.get("label")
        ok = p.need(_is_int(lo) and _is_int(hi), f"{where}: min and max must be integers")
        ok = p.need(_nonempty_str(label), f"{where}.label must be non-empty text") and ok
        status = _status(p, where, band)
        if ok and p.need(lo <= hi, f"{where}: min {lo} is above max {hi}"):
            bands.append(Band(lo, hi, label, status))
    if len(bands) == len(raw):
        ordered = sorted(bands, key=lambda b: b.min)
        p.need(ordered == bands, "bands must be listed from lowest to highest")
        p.need(
            bands[0].min == total_min, f"bands start at {bands[0].min} but the lowest total is {total_min}"
        )
        p.need(
            bands[-1].max == total_max, f"bands end at {bands[-1].max} but the highest total is {total_max}"
        )
        for lower, upper in itertools.pairwise(ordered):
            p.need(
                upper.min == lower.max + 1,
                f"bands '{lower.label}' ({lower.min}–{lower.max}) and "
                f"'{upper.label}' ({upper.min}–{upper.max}) leave a gap or overlap",
            )
    return bands


def _flags(p: _Problems, raw: object, items: list[Item], total_min: int, total_max: int) -> list[FlagRule]:
    flags: list[FlagRule] = []
    if raw is None:
        return flags
    if not p.need(isinstance(raw, list), "flags must be a list"):
        return flags
    by_id = {i.id: i for i in items}
    seen: set[str] = set()
    for n, flag in enumerate(raw):
        where = f"flags[{n}]"
        if not p.need(isinstance(flag, Mapping), f"{where} must be an object"):
            continue
        flag_id = flag.get("id")
        p.need(isinstance(flag_id, str) and bool(ID_RE.match(flag_id)), f"{where}.id must be a snake_case id")
        p.need(flag_id not in seen, f"{where}: duplicate flag id {flag_id!r}")
        seen.add(flag_id)
        when = flag.get("when")
        if not p.need(isinstance(when, Mapping), f"{where}.when must be an object"):
            continue
        op, value = when.get("op"), when.get("value")
        p.need(op in OPS, f"{where}.when.op must be one of {sorted(OPS)} (got {op!r})")
        p.need(_is_int(value), f"{where}.when.value must be an integer")
        item_id = when.get("item")
        if item_id is not None:
            item = by_id.get(item_id)
            if p.need(item is not None, f"{where}.when.item {item_id!r} is not an item of this instrument"):
                p.need(
                    _is_int(value) and item.scale.min <= value <= item.scale.max,
                    f"{where}.when.value {value!r} is outside item {item_id}'s scale",
                )
        else:
            p.need(when.get("total") is True, f'{where}.when needs "item": <id> or "total": true')
            p.need(
                _is_int(value) and total_min <= value <= total_max,
                f"{where}.when.value {value!r} is outside the total range {total_min}–{total_max}",
            )
        p.need(flag.get("severity") in SEVERITIES, f"{where}.severity must be one of {sorted(SEVERITIES)}")
        p.need(_nonempty_str(flag.get("reason")), f"{where}.reason must be non-empty text")
        p.need(_nonempty_str(flag.get("source")), f"{where}.source must be non-empty text")
        status = _status(p, where, flag)
        if op in OPS and _is_int(value):
            flags.append(
                FlagRule(
                    flag_id,
                    item_id,
                    op,
                    value,
                    flag.get("severity"),
                    flag.get("reason"),
                    flag.get("source"),
                    status,
                )
            )
    return flags


def _loinc(p: _Problems, raw: object) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    if not p.need(isinstance(raw, Mapping), "loinc must be an object"):
        return None, None
    codes: dict[str, str | None] = {"total": None, "panel": None}
    p.need(set(raw) <= set(codes), f"loinc: unknown key(s) {sorted(set(raw) - set(codes))}")
    for key in codes:
        entry = raw.get(key)
        if entry is None:
            continue
        if p.need(isinstance(entry, Mapping), f"loinc.{key} must be an object"):
            code = entry.get("code")
            p.need(
                isinstance(code, str) and bool(LOINC_RE.match(code)),
                f"loinc.{key}.code {code!r} is not a LOINC code",
            )
            _status(p, f"loinc.{key}", entry)
            codes[key] = code
    return codes["total"], codes["panel"]


def load_definition(raw: object, *, origin: str = "<definition>") -> InstrumentDefinition:
    """Validate a parsed JSON definition; raises DefinitionError listing every problem found."""
    p = _Problems()
    if not isinstance(raw, Mapping):
        raise DefinitionError(origin, ["a definition must be a JSON object"])
    missing = TOP_LEVEL_REQUIRED - set(raw)
    p.need(not missing, f"missing required key(s): {sorted(missing)}")
    unknown = set(raw) - TOP_LEVEL_REQUIRED - TOP_LEVEL_OPTIONAL
    p.need(not unknown, f"unknown key(s): {sorted(unknown)}")
    p.need(raw.get("schema_version") == SCHEMA_VERSION, f"schema_version must be {SCHEMA_VERSION}")
    instrument_id = raw.get("id")
    p.need(
        isinstance(instrument_id, str) and bool(ID_RE.match(instrument_id)),
        f"id must be a snake_case id (got {instrument_id!r})",
    )
    for key in ("name", "short_name", "version"):
        p.need(_nonempty_str(raw.get(key)), f"{key} must be non-empty text")
    for key in ("source", "licence"):
        section = raw.get(key)
        if p.need(isinstance(section, Mapping), f"{key} must be an object"):
            _status(p, key, section)
    source, licence = raw.get("source"), raw.get("licence")
    if isinstance(source, Mapping):
        p.need(_nonempty_str(source.get("citation")), "source.citation must be non-empty text")
    if isinstance(licence, Mapping):
        p.need(_nonempty_str(licence.get("summary")), "licence.summary must be non-empty text")

    licensed_text_missing: list[str] = []
    scales = _scales(p, raw.get("answer_scales"), licensed_text_missing)
    items = _items(p, raw.get("items"), scales, licensed_text_missing)
    if licensed_text_missing:
        p.append(
            f"{len(licensed_text_missing)} text field(s) are empty (first: {licensed_text_missing[0]}). "
            "Licensed instruments ship without text: fill every item text and answer label "
            "from your licensed copy."
        )

    scoring = raw.get("scoring")
    computed_min = sum(i.scale.min for i in items)
    computed_max = sum(i.scale.max for i in items)
    if p.need(isinstance(scoring, Mapping), "scoring must be an object"):
        p.need(
            scoring.get("method") == "sum", f"scoring.method must be 'sum' (got {scoring.get('method')!r})"
        )
        _status(p, "scoring", scoring)
        if items and len(items) == len(raw.get("items") or []):
            p.need(
                scoring.get("total_min") == computed_min and scoring.get("total_max") == computed_max,
                f"scoring total range {scoring.get('total_min')}–{scoring.get('total_max')} does not match "
                f"the items ({computed_min}–{computed_max})",
            )
    bands = _bands(p, raw.get("bands"), computed_min, computed_max)
    flags = _flags(p, raw.get("flags"), items, computed_min, computed_max)
    loinc_total, loinc_panel = _loinc(p, raw.get("loinc"))
    if p:
        raise DefinitionError(origin, list(p))
    return InstrumentDefinition(
        id=instrument_id,
        name=raw["name"],
        short_name=raw["short_name"],
        version=raw["version"],
        source=MappingProxyType(dict(source)),
        licence=MappingProxyType(dict(licence)),
        instructions=raw.get("instructions"),
        items=tuple(items),
        total_min=computed_min,
        total_max=computed_max,
        bands=tuple(bands),
        flags=tuple(flags),
        loinc_total=loinc_total,
        loinc_panel=loinc_panel,
    )


def load_definition_file(path: str | Path) -> InstrumentDefinition:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DefinitionError(str(path), [f"not valid JSON: {exc}"]) from None
    return load_definition(raw, origin=str(path))


def builtin_ids() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.json"))


def builtin(instrument_id: str) -> InstrumentDefinition:
    if instrument_id not in builtin_ids():
        raise KeyError(f"no built-in instrument {instrument_id!r}; built-ins: {', '.join(builtin_ids())}")
    definition = load_definition_file(BUILTIN_DIR / f"{instrument_id}.json")
    if definition.id != instrument_id:
        raise DefinitionError(instrument_id, [f"file name does not match id {definition.id!r}"])
    return definition


# ---------------------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FlagHit:
    id: str
    severity: str
    reason: str
    evidence: str  # e.g. "item 9 = 1 (rule item 9 > 0)"
    source: str
    status: str


@dataclass(frozen=True)
class Result:
    instrument_id: str
    instrument_version: str
    total: int
    band: Band
    item_answers: Mapping[str, int]  # raw answers, kept with the score
    item_scores: Mapping[str, int]  # after reverse-scoring
    flags: tuple[FlagHit, ...]
    loinc_total: str | None


def score(definition: InstrumentDefinition, answers: Mapping[str, int]) -> Result:
    """Score a complete set of answers; missing, unknown or out-of-range answers raise AnswerError."""
    if not isinstance(answers, Mapping):
        raise AnswerError(definition.short_name, ["answers must be a mapping of item id to answer"])
    problems: list[str] = []
    by_id = {i.id: i for i in definition.items}
    missing = [i.id for i in definition.items if i.id not in answers]
    if missing:
        problems.append(f"missing answer(s) for item(s) {', '.join(missing)}")
    unknown = [str(k) for k in answers if k not in by_id]
    if unknown:
        problems.append(f"unknown item(s) {', '.join(sorted(unknown))}")
    for item_id, answer in answers.items():
        item = by_id.get(item_id)
        if item is None:
            continue
        if not _is_int(answer):
            problems.append(f"item {item_id}: answer must be a whole number, got {answer!r}")
        elif answer not in item.scale.values:
            allowed = ", ".join(str(v) for v in sorted(item.scale.values))
            problems.append(f"item {item_id}: answer {answer} is not one of {allowed}")
    if problems:
        raise AnswerError(definition.short_name, problems)

    item_answers = {i.id: answers[i.id] for i in definition.items}
    item_scores = {i.id: i.scored(item_answers[i.id]) for i in definition.items}
    total = sum(item_scores.values())
    hits = []
    for rule in definition.flags:
        # Item rules look at the answer as given (e.g. PHQ-9 item 9 above 0), total rules at the score.
        observed = item_answers[rule.item] if rule.item is not None else total
        if OPS[rule.op](observed, rule.value):
            subject = f"item {rule.item}" if rule.item is not None else "total"
            hits.append(
                FlagHit(
                    rule.id,
                    rule.severity,
                    rule.reason,
                    f"{subject} = {observed} (rule {subject} {rule.op} {rule.value})",
                    rule.source,
                    rule.status,
                )
            )
    return Result(
        instrument_id=definition.id,
        instrument_version=definition.version,
        total=total,
        band=definition.band_for(total),
        item_answers=MappingProxyType(item_answers),
        item_scores=MappingProxyType(item_scores),
        flags=tuple(hits),
        loinc_total=definition.loinc_total,
    )
