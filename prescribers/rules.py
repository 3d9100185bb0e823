"""Unsafe co-prescription rules: plain medication facts in, CoRxFinding out. Pure: no Django, no app import
but the pure drug table (prescribers.drugs).

The rules, their parameters, sources and V/S/U statuses are data (prescribers/data/corx_rules.json); each
rule id is also in the alert catalogue (safety/data/rules.json: title, severity, what to do). Two entry
points share one implementation:

- `evaluate(facts, thresholds)` ("patient-view"): every finding about the patient that is relevant now.
- `check_order(facts, proposed, thresholds)` ("order-select"): the findings that saving `proposed` would
  newly raise, for the medication form to show before it saves.

Facts
- A `MedicationFact` covers the days `start`..`end`, both inclusive (`end=None`: open/current, covered up
  to the day evaluated). Its drug class comes from prescribers/data/drugs.json; its *role* in the rules:
  benzodiazepine, opioid (an opioid pain medicine: class opioid, indication not "oud"), moud
  (buprenorphine, any indication, or an opioid with indication "oud", e.g. methadone for opioid-use
  disorder), gabapentinoid, z_drug, barbiturate, muscle_relaxant, other_cns. Naloxone/naltrexone and
  unclassified drugs take part in no rule.
- The taper plan counts as an active benzodiazepine on every day of a step with a dose above 0: each step
  becomes one MedicationFact of kind "program" per drug (`plan_facts`), id `plan:<plan_id>:<step start>:
  <drug>`. A plan drug missing from the drug table counts as a benzodiazepine (the taper catalogue holds
  only benzodiazepines and Z-drugs, and every Z-drug is in the drug table). Steps must not overlap.
- A combination made only of the taper plan's own doses (e.g. a plan that tapers a benzodiazepine and a
  Z-drug together) is the psychiatrist's plan, not a finding: on each overlap day a pair rule needs,
  on one side or the other, an active fact that is not of kind "program".
- Building a PlanFact (taper.models): for the patient's ACTIVE plan, one PlanStep per TaperStep of its
  current version, PlanStep(step.start, step.end, {drug: Decimal(mg) for drug, mg in
  step.daily_mg_by_drug.items()}). A hold is already a new version with the held step open-ended
  (taper.services), so the current version's steps are the truth. No active plan: plan=None.
- MME per day arrives precomputed (`mme_per_day`, from prescribers.mme) or None when not convertible.
  The builder passes one fact per supply: an order and the fill that dispenses it, for the same days,
  would be counted twice in the MME total.
- Pass the whole history that can reach into an ongoing episode (not only recent rows): an episode's
  start date is its dedup event, and dropping an old row would move the start and raise a second alert.

Episodes and dedup events (a finding's `event`; the alert's dedup key is `rule:patient:event`, at most
200 characters — `fit_event` shortens a long row id with a digest so that it always fits). Only episodes
and rows that reach into [today - recent_days, today] are reported (recent_days is data, status U).
- Pair rules (corx_benzo_opioid, _gabapentinoid, _z_drug, _cns_other, _moud): the maximal run of
  consecutive days on which both roles are active — `<role>+<role>:<first day>`, e.g.
  `benzodiazepine+opioid:2026-11-02`. A refill that continues the overlap keeps the event; an overlap
  that starts again after a gap is a new event. Roles, not ingredients, so a cross-titration from
  alprazolam to diazepam keeps the same episode. A run shorter than overlap_min_days is not reported.
- MME levels (corx_mme_reassess ≥50, corx_mme_avoid ≥90): the maximal run of days on which the opioids
  active that day add up to the level or more — `<level>:<first day>`, e.g. `50:2026-11-02`. A day with
  an unconvertible opioid counts only its convertible part ("at least N MME/day; M orders could not be
  converted") and is never counted as 0: when that lower bound stays below the lowest level, the day is
  undetermined and corx_mme_unknown reports the run of such days — `<first day>`.
- corx_benzo_outside_plan: per ingredient, the run of days on which a plan step is in effect that does not
  include the ingredient (or gives it 0 mg) while a non-program benzodiazepine fact of that ingredient is
  active — `<ingredient>:<first day>`.
- corx_benzo_fills_multi_prescriber: the run of days on which benzodiazepine fills (kind "dispensation")
  from at least two different known prescribers are active — `<first day>`. A fill without a prescriber
  key is not compared (the evidence counts them).
- corx_benzo_alcohol: one alcohol report on a day a benzodiazepine is active — `<kind>:<row id>`.
- corx_fill_above_plan: one fill of a plan drug whose daily amount is above the step in effect on its fill
  date — `<row id>`.
- corx_multiple_provider_episode: the run of days on which the trailing window (window_days days, both
  ends inclusive) holds fills from ≥ prescribers_min distinct prescribers and ≥ pharmacies_min distinct
  pharmacies — `<first day>`, which is always the date of the fill at which the window first met the
  thresholds. The program's own prescribers (`excluded_prescribers`, and fills marked `program`) are not
  counted; unknown prescriber or pharmacy keys are not counted as distinct (the evidence says how many).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from prescribers import drugs

DATA = Path(__file__).resolve().parent / "data" / "corx_rules.json"

KINDS = ("dispensation", "medication", "reported", "program")
ALCOHOL_KINDS = ("checkin", "intake")
STATUSES = ("V", "S", "U")
ROLES = (
    "benzodiazepine",
    "opioid",
    "moud",
    "gabapentinoid",
    "z_drug",
    "barbiturate",
    "muscle_relaxant",
    "other_cns",
)
RULE_KINDS = (
    "pair",
    "mme",
    "mme_unknown",
    "outside_plan",
    "multi_prescriber_fills",
    "alcohol",
    "fill_above_plan",
    "mpe",
)
MAX_DEDUP_KEY = 200  # safety.findings.MAX_DEDUP_KEY
PATIENT_ID_LENGTH = 36  # a UUID in its canonical text form
MAX_ROWS = 25  # evidence lists the most recent rows of a long episode and counts the rest
MIN_MPE_COUNT = 2
MAX_MPE_WINDOW_DAYS = 730
ONE_DAY = timedelta(days=1)


class CorxError(ValueError):
    """Malformed facts, rules data or clinic settings. The message is plain text."""


class RulesDataError(CorxError):
    """prescribers/data/corx_rules.json is malformed."""


class SettingsError(CorxError):
    """A clinic override is malformed (unknown key, wrong type, out of range)."""


class LooseningRefused(SettingsError):
    """A clinic override would make a rule fire later or less often than the guideline value."""


# --- facts --------------------------------------------------------------------------------------------------


def _decimal(value: object, what: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise CorxError(f"{what} must be a Decimal, an int or a number in text; got {value!r}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise CorxError(f"{what} must be a number; got {value!r}") from None
    if not number.is_finite() or number < 0:
        raise CorxError(f"{what} must be a finite number of at least 0; got {value!r}")
    return number


@dataclass(frozen=True)
class MedicationFact:
    """One order, fill, reported medicine or taper-plan dose, covering `start`..`end` (inclusive)."""

    id: str
    kind: str  # dispensation | medication | reported | program
    ingredient: str | None
    drug_class: str | None
    start: date
    end: date | None  # inclusive last day covered; None = open/current
    daily_amount: Decimal | None  # mg/day of the ingredient (mcg/h for patches)
    mme_per_day: Decimal | None  # None: not convertible (or not an opioid)
    prescriber_key: str | None
    prescriber_label: str
    pharmacy_key: str | None
    pharmacy_label: str
    program: bool  # prescribed by the program itself (its taper plan / in-program prescriber)
    label: str  # what a clinician reads
    indication: str = ""  # "oud" for methadone/buprenorphine for opioid-use disorder

    def __post_init__(self) -> None:
        if not self.id:
            raise CorxError("a medication fact needs an id")
        if self.kind not in KINDS:
            raise CorxError(f"medication fact {self.id}: kind {self.kind!r} is not one of {KINDS}")
        if self.drug_class is not None and self.drug_class not in drugs.classes():
            raise CorxError(f"medication fact {self.id}: unknown drug class {self.drug_class!r}")
        if not isinstance(self.start, date) or (self.end is not None and not isinstance(self.end, date)):
            raise CorxError(f"medication fact {self.id}: start and end must be dates")
        if self.end is not None and self.end < self.start:
            raise CorxError(f"medication fact {self.id}: ends ({self.end}) before it starts ({self.start})")
        object.__setattr__(self, "ingredient", (self.ingredient or "").strip().lower() or None)
        object.__setattr__(self, "daily_amount", _decimal(self.daily_amount, f"{self.id}: daily_amount"))
        object.__setattr__(self, "mme_per_day", _decimal(self.mme_per_day, f"{self.id}: mme_per_day"))
        object.__setattr__(self, "prescriber_key", (self.prescriber_key or "").strip() or None)
        object.__setattr__(self, "pharmacy_key", (self.pharmacy_key or "").strip() or None)
        object.__setattr__(self, "indication", (self.indication or "").strip().lower())


@dataclass(frozen=True)
class PlanStep:
    start: date
    end: date | None  # inclusive; None = open-ended (the last step, or held until resumed)
    mg_by_drug: Mapping[str, Decimal]  # daily mg by ingredient

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise CorxError(f"plan step from {self.start}: ends before it starts")
        doses = {
            str(drug).strip().lower(): _decimal(mg, f"plan step {self.start}: {drug}")
            for drug, mg in self.mg_by_drug.items()
        }
        object.__setattr__(self, "mg_by_drug", MappingProxyType(doses))

    def dose_of(self, ingredient: str | None) -> Decimal:
        return self.mg_by_drug.get(ingredient or "", Decimal(0)) or Decimal(0)

    def drugs_given(self) -> frozenset[str]:
        """The ingredients this step gives at more than 0 mg a day."""
        return frozenset(drug for drug, mg in self.mg_by_drug.items() if mg and mg > 0)


@dataclass(frozen=True)
class PlanFact:
    plan_id: str
    label: str
    steps: tuple[PlanStep, ...]

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.steps, key=lambda s: s.start))
        for before, after in itertools.pairwise(ordered):
            if before.end is None or before.end >= after.start:
                raise CorxError(
                    f"taper plan {self.plan_id}: the step from {before.start} overlaps the step from "
                    f"{after.start} (steps must not overlap; only the last may be open-ended)"
                )
        object.__setattr__(self, "steps", ordered)

    def step_on(self, day: date) -> PlanStep | None:
        for step in self.steps:
            if step.start <= day and (step.end is None or day <= step.end):
                return step
        return None


@dataclass(frozen=True)
class AlcoholFact:
    id: str
    kind: str  # checkin | intake
    day: date
    label: str

    def __post_init__(self) -> None:
        if self.kind not in ALCOHOL_KINDS:
            raise CorxError(f"alcohol fact {self.id}: kind {self.kind!r} is not one of {ALCOHOL_KINDS}")


@dataclass(frozen=True)
class PatientFacts:
    patient_id: str
    today: date
    medications: tuple[MedicationFact, ...]
    plan: PlanFact | None
    alcohol: tuple[AlcoholFact, ...]
    excluded_prescribers: frozenset[str] = frozenset()  # the program's own prescriber keys

    def __post_init__(self) -> None:
        seen: set[tuple[str, str]] = set()
        for fact in self.medications:
            if (fact.kind, fact.id) in seen:
                raise CorxError(f"medication fact {fact.kind} {fact.id} is listed twice")
            seen.add((fact.kind, fact.id))
        object.__setattr__(self, "medications", tuple(self.medications))
        object.__setattr__(self, "alcohol", tuple(self.alcohol))
        object.__setattr__(self, "excluded_prescribers", frozenset(self.excluded_prescribers))


@dataclass(frozen=True)
class CoRxFinding:
    rule_id: str
    event: str  # the dedup event part (stable): see the module docstring
    occurred_on: date
    evidence: dict[str, Any]  # JSON: strings, whole numbers, lists and dicts of them

    def __post_init__(self) -> None:
        if not self.rule_id or not self.event:
            raise CorxError("a finding needs a rule id and an event")
        if len(self.rule_id) + len(self.event) + PATIENT_ID_LENGTH + 2 > MAX_DEDUP_KEY:
            raise CorxError(f"{self.rule_id}: event {self.event[:40]!r}… makes the dedup key too long")


def fit_event(rule_id: str, text: str) -> str:
    """`text`, or a shortened form ending in a digest of it when `rule:<uuid>:text` would pass 200."""
    budget = MAX_DEDUP_KEY - PATIENT_ID_LENGTH - 2 - len(rule_id)
    if len(text) <= budget:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{text[: budget - 17]}~{digest}"


# --- rules data and clinic settings -------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSpec:
    id: str
    kind: str
    status: str
    source: str
    reference: str
    left: tuple[str, ...] = ()
    right: tuple[str, ...] = ()
    setting: str = ""


@dataclass(frozen=True)
class MpeDefinition:
    name: str
    label: str
    prescribers_min: int
    pharmacies_min: int
    window_days: int
    classes: frozenset[str]
    excluded_indications: frozenset[str]
    status: str
    source: str


@dataclass(frozen=True)
class Spec:
    rules: tuple[RuleSpec, ...]
    settings: Mapping[str, Mapping[str, Any]]
    mpe_definitions: Mapping[str, MpeDefinition]
    mpe_default: str


@dataclass(frozen=True)
class Thresholds:
    """The numbers the rules use: the data defaults, tightened by the clinic (never loosened)."""

    mme_reassess: Decimal
    mme_avoid: Decimal
    mpe: MpeDefinition
    recent_days: int
    overlap_min_days: int
    tightened: tuple[str, ...] = ()  # the settings the clinic changed

    def mme_level(self, setting: str) -> Decimal:
        return {"mme_reassess": self.mme_reassess, "mme_avoid": self.mme_avoid}[setting]

    @property
    def lowest_mme_level(self) -> Decimal:
        return min(self.mme_reassess, self.mme_avoid)


def _status(raw: Mapping[str, Any], where: str) -> str:
    if raw.get("status") not in STATUSES:
        raise RulesDataError(f"corx_rules.json {where}: status must be V, S or U")
    if not str(raw.get("source", "")).strip():
        raise RulesDataError(f"corx_rules.json {where}: needs a source")
    return raw["status"]


def parse_spec(raw: Mapping[str, Any]) -> Spec:
    """Validate corx_rules.json; RulesDataError names the first problem."""
    if raw.get("schema_version") != 1:
        raise RulesDataError("corx_rules.json: schema_version must be 1")
    known_classes = set(drugs.classes())
    rules, seen = [], set()
    for entry in raw.get("rules", []):
        rule_id = entry.get("id", "")
        if not rule_id.startswith("corx_") or rule_id in seen:
            raise RulesDataError(f"corx_rules.json: rule id {rule_id!r} must start with corx_ and be unique")
        if entry.get("kind") not in RULE_KINDS:
            raise RulesDataError(f"corx_rules.json {rule_id}: kind must be one of {RULE_KINDS}")
        left, right = tuple(entry.get("left", ())), tuple(entry.get("right", ()))
        if entry["kind"] == "pair" and (not left or not right or not set(left + right) <= set(ROLES)):
            raise RulesDataError(f"corx_rules.json {rule_id}: a pair rule names roles from {ROLES}")
        seen.add(rule_id)
        rules.append(
            RuleSpec(
                id=rule_id,
                kind=entry["kind"],
                status=_status(entry, rule_id),
                source=entry["source"],
                reference=entry.get("reference", ""),
                left=left,
                right=right,
                setting=entry.get("setting", ""),
            )
        )
    settings = raw["settings"]
    for name in ("recent_days", "overlap_min_days", "mme_reassess", "mme_avoid"):
        _status(settings[name], f"settings.{name}")
    for rule in rules:
        if rule.kind == "mme" and rule.setting not in ("mme_reassess", "mme_avoid"):
            raise RulesDataError(f"corx_rules.json {rule.id}: setting must be mme_reassess or mme_avoid")
    mpe = raw["mpe"]
    classes = frozenset(mpe["counted_classes"]["value"])
    if not classes <= known_classes:
        unknown = sorted(classes - known_classes)
        raise RulesDataError(f"corx_rules.json mpe.counted_classes: unknown {unknown}")
    _status(mpe["counted_classes"], "mpe.counted_classes")
    excluded = frozenset(mpe["excluded_indications"]["value"])
    definitions = {}
    for name, d in mpe["definitions"].items():
        definitions[name] = MpeDefinition(
            name=name,
            label=d["label"],
            prescribers_min=int(d["prescribers_min"]),
            pharmacies_min=int(d["pharmacies_min"]),
            window_days=int(d["window_days"]),
            classes=classes,
            excluded_indications=excluded,
            status=_status(d, f"mpe.definitions.{name}"),
            source=d["source"],
        )
    if mpe["default"] not in definitions:
        raise RulesDataError("corx_rules.json mpe.default must name one of mpe.definitions")
    return Spec(tuple(rules), MappingProxyType(dict(settings)), MappingProxyType(definitions), mpe["default"])


@lru_cache(maxsize=1)
def spec() -> Spec:
    with DATA.open(encoding="utf-8") as handle:
        return parse_spec(json.load(handle))


def rule_ids() -> tuple[str, ...]:
    return tuple(rule.id for rule in spec().rules)


OVERRIDE_KEYS = (
    "mme_reassess",
    "mme_avoid",
    "mpe_definition",
    "mpe_prescribers_min",
    "mpe_pharmacies_min",
    "mpe_window_days",
    "mpe_classes",
    "recent_days",
    "overlap_min_days",
)


def _whole(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SettingsError(f"{key} must be a whole number; got {value!r}")
    try:
        return int(str(value).strip())
    except ValueError:
        raise SettingsError(f"{key} must be a whole number; got {value!r}") from None


def _setting_decimal(value: object, key: str) -> Decimal:
    try:
        number = _decimal(value, key)
    except CorxError as error:
        raise SettingsError(str(error)) from None
    assert number is not None  # None means "not set" and was dropped
    return number


def thresholds_for(overrides: Mapping[str, Any] | None = None) -> Thresholds:
    """The data defaults with the clinic's tightening applied.

    Keys: mme_reassess / mme_avoid (MME/day, may be lowered), mpe_definition ("5x5x90" default, Delcher
    2021, or "pqa_4x4x180"), mpe_prescribers_min / mpe_pharmacies_min (may be lowered, not below 2),
    mpe_window_days (may be lengthened, up to 730), mpe_classes (may add classes), recent_days (may be
    lengthened, up to 365), overlap_min_days (may be lowered, not below 1). A value of None means "not
    set". A looser value raises LooseningRefused; anything else malformed raises SettingsError.
    """
    data = spec()
    given = {key: value for key, value in (overrides or {}).items() if value is not None}
    unknown = sorted(set(given) - set(OVERRIDE_KEYS))
    if unknown:
        raise SettingsError(f"unknown co-prescription setting(s): {', '.join(unknown)}")
    settings = data.settings
    changed = []

    def lower_only(value: Decimal | int, default: Decimal | int, what: str, floor: Decimal | int) -> None:
        if value > default:
            raise LooseningRefused(
                f"{what} of {value} would be looser than the reference value of {default}: a clinic may "
                f"lower it (fire earlier), not raise it."
            )
        if value < floor:
            raise SettingsError(f"{what} must be at least {floor}; got {value}")

    levels = {}
    for key, what in (("mme_reassess", "The 'reassess' level"), ("mme_avoid", "The 'avoid' level")):
        default = Decimal(str(settings[key]["value"]))
        value = default
        if key in given:
            value = _setting_decimal(given[key], key)
            lower_only(value, default, f"{what} (MME/day)", Decimal("0.01"))
            changed.append(key)
        levels[key] = value
    if levels["mme_reassess"] > levels["mme_avoid"]:
        raise SettingsError(
            f"the 'reassess' MME/day level ({levels['mme_reassess']}) must not be above the 'avoid' level "
            f"({levels['mme_avoid']})"
        )

    name = given.get("mpe_definition", data.mpe_default)
    if name not in data.mpe_definitions:
        choices = ", ".join(sorted(data.mpe_definitions))
        raise SettingsError(f"mpe_definition {name!r} is not one of: {choices}")
    if "mpe_definition" in given:
        changed.append("mpe_definition")
    base = data.mpe_definitions[name]
    prescribers_min, pharmacies_min = base.prescribers_min, base.pharmacies_min
    window_days, classes = base.window_days, base.classes
    if "mpe_prescribers_min" in given:
        prescribers_min = _whole(given["mpe_prescribers_min"], "mpe_prescribers_min")
        lower_only(
            prescribers_min,
            base.prescribers_min,
            f"The number of prescribers ({base.name})",
            MIN_MPE_COUNT,
        )
        changed.append("mpe_prescribers_min")
    if "mpe_pharmacies_min" in given:
        pharmacies_min = _whole(given["mpe_pharmacies_min"], "mpe_pharmacies_min")
        lower_only(
            pharmacies_min,
            base.pharmacies_min,
            f"The number of pharmacies ({base.name})",
            MIN_MPE_COUNT,
        )
        changed.append("mpe_pharmacies_min")
    if "mpe_window_days" in given:
        window_days = _whole(given["mpe_window_days"], "mpe_window_days")
        if window_days < base.window_days:
            raise LooseningRefused(
                f"A {window_days}-day window would be looser than the {base.window_days} days of "
                f"{base.name}: a clinic may lengthen the window, not shorten it."
            )
        if window_days > MAX_MPE_WINDOW_DAYS:
            raise SettingsError(f"mpe_window_days must be at most {MAX_MPE_WINDOW_DAYS}; got {window_days}")
        changed.append("mpe_window_days")
    if "mpe_classes" in given:
        raw_classes = given["mpe_classes"]
        if isinstance(raw_classes, str) or not isinstance(raw_classes, Iterable):
            raise SettingsError("mpe_classes must be a list of drug classes")
        wanted = frozenset(str(c) for c in raw_classes)
        unknown_classes = sorted(wanted - set(drugs.classes()))
        if unknown_classes:
            raise SettingsError(f"mpe_classes: unknown drug class(es) {', '.join(unknown_classes)}")
        missing = sorted(base.classes - wanted)
        if missing:
            raise LooseningRefused(
                f"Leaving out {', '.join(missing)} would count fewer fills than the default: a clinic may "
                f"add drug classes to the multiple-provider count, not remove them."
            )
        classes = wanted
        changed.append("mpe_classes")
    mpe = MpeDefinition(
        name=base.name,
        label=base.label,
        prescribers_min=prescribers_min,
        pharmacies_min=pharmacies_min,
        window_days=window_days,
        classes=classes,
        excluded_indications=base.excluded_indications,
        status=base.status,
        source=base.source,
    )

    recent_default = int(settings["recent_days"]["value"])
    recent_days = recent_default
    if "recent_days" in given:
        recent_days = _whole(given["recent_days"], "recent_days")
        if recent_days < recent_default:
            raise LooseningRefused(
                f"Looking back {recent_days} days would be looser than the default {recent_default}: a "
                f"clinic may look further back, not less far."
            )
        if recent_days > int(settings["recent_days"]["max"]):
            raise SettingsError(f"recent_days must be at most {settings['recent_days']['max']}")
        changed.append("recent_days")
    overlap_default = int(settings["overlap_min_days"]["value"])
    overlap_min_days = overlap_default
    if "overlap_min_days" in given:
        overlap_min_days = _whole(given["overlap_min_days"], "overlap_min_days")
        lower_only(
            overlap_min_days,
            overlap_default,
            "The shortest overlap (days)",
            int(settings["overlap_min_days"]["min"]),
        )
        changed.append("overlap_min_days")
    return Thresholds(
        mme_reassess=levels["mme_reassess"],
        mme_avoid=levels["mme_avoid"],
        mpe=mpe,
        recent_days=recent_days,
        overlap_min_days=overlap_min_days,
        tightened=tuple(changed),
    )


def default_thresholds() -> Thresholds:
    return thresholds_for(None)


# --- days, segments and runs --------------------------------------------------------------------------------


def role_of(fact: MedicationFact) -> str | None:
    """The part a fact plays in the rules (module docstring), or None."""
    cls = fact.drug_class
    if cls == "opioid":
        return "moud" if fact.indication == "oud" else "opioid"
    if cls == "oud_medication":
        return "moud"
    if cls == "other_cns_depressant":
        return "other_cns"
    if cls in ("benzodiazepine", "gabapentinoid", "z_drug", "barbiturate", "muscle_relaxant"):
        return cls
    return None


def last_day(fact: MedicationFact, horizon: date) -> date:
    """The last day a fact covers, up to `horizon`: `end` is inclusive; an open fact runs to the horizon."""
    return horizon if fact.end is None else min(fact.end, horizon)


@dataclass(frozen=True)
class _Item:
    fact: MedicationFact
    first: date
    last: date
    role: str | None

    @property
    def is_program(self) -> bool:
        return self.fact.kind == "program"


def _segments(spans: Sequence[tuple[date, date, Any]]) -> Iterator[tuple]:
    """(first, last, active payloads) for each stretch of days on which the active set does not change.
    A span (first, last, payload) covers both of its end days; payloads keep the order of `spans`."""
    starts: dict[date, list[int]] = {}
    stops: dict[date, list[int]] = {}
    for n, (first, last, _) in enumerate(spans):
        if last < first:
            continue  # covers no day
        starts.setdefault(first, []).append(n)
        stops.setdefault(last + ONE_DAY, []).append(n)
    active: set[int] = set()
    for here, after in itertools.pairwise(sorted(set(starts) | set(stops))):
        active.difference_update(stops.get(here, ()))
        active.update(starts.get(here, ()))
        yield here, after - ONE_DAY, [spans[n][2] for n in sorted(active)]


def _runs(segments: Iterable[tuple], fires: Callable[[list], bool]) -> list[tuple[date, date, list]]:
    """Maximal runs of consecutive days on which `fires(active)`; with every payload active in the run."""
    runs: list[tuple[date, date, list]] = []
    seen: set[int] = set()
    for first, last, active in segments:
        if not fires(active):
            continue
        if not runs or runs[-1][1] + ONE_DAY != first:
            runs.append((first, last, []))
            seen = set()
        start, _, members = runs[-1]
        for payload in active:
            if id(payload) not in seen:
                seen.add(id(payload))
                members.append(payload)
        runs[-1] = (start, last, members)
    return runs


def _num(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{value.normalize():f}"  # "10", not "1E+1"


def _row(fact: MedicationFact) -> dict[str, str]:
    mme = _num(fact.mme_per_day)
    if fact.mme_per_day is None and role_of(fact) == "opioid":
        mme = "not convertible"
    return {
        "kind": fact.kind,
        "id": fact.id,
        "label": fact.label,
        "drug": fact.ingredient or "",
        "class": fact.drug_class or "",
        "start": fact.start.isoformat(),
        "end": fact.end.isoformat() if fact.end is not None else "open",
        "prescriber": fact.prescriber_label,
        "pharmacy": fact.pharmacy_label,
        "daily_amount": _num(fact.daily_amount),
        "mme": mme,
    }


def _fact_order(fact: MedicationFact) -> tuple:
    return (fact.start, fact.end or date.max, fact.kind, fact.id, repr(fact))


def _rows(facts: Iterable[MedicationFact]) -> dict[str, Any]:
    """The evidence rows, oldest first; a long episode keeps its MAX_ROWS most recent and counts the rest."""
    ordered = sorted({(f.kind, f.id): f for f in facts}.values(), key=_fact_order)
    shown = ordered[-MAX_ROWS:]
    out: dict[str, Any] = {"rows": [_row(f) for f in shown]}
    if len(ordered) > len(shown):
        out["rows_not_shown"] = len(ordered) - len(shown)
    return out


# --- the plan as facts --------------------------------------------------------------------------------------


def plan_facts(plan: PlanFact | None) -> tuple[MedicationFact, ...]:
    """One MedicationFact of kind "program" per drug given at more than 0 mg in each plan step."""
    if plan is None:
        return ()
    facts = []
    for step in plan.steps:
        for drug in sorted(step.drugs_given()):
            known = drugs.by_ingredient(drug)
            drug_class = known.drug_class if known is not None else "benzodiazepine"
            mg = step.mg_by_drug[drug]
            until = step.end.isoformat() if step.end is not None else "open-ended"
            facts.append(
                MedicationFact(
                    id=f"plan:{plan.plan_id}:{step.start.isoformat()}:{drug}",
                    kind="program",
                    ingredient=drug,
                    drug_class=drug_class,
                    start=step.start,
                    end=step.end,
                    daily_amount=mg,
                    mme_per_day=None,
                    prescriber_key=None,
                    prescriber_label="Taper plan",
                    pharmacy_key=None,
                    pharmacy_label="",
                    program=True,
                    label=f"{plan.label}: {drug} {_num(mg)} mg/day (step {step.start} to {until})",
                )
            )
    return tuple(facts)


# --- evaluation ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    facts: PatientFacts
    thresholds: Thresholds
    horizon: date
    items: tuple[_Item, ...]

    @property
    def recent_from(self) -> date:
        return self.facts.today - timedelta(days=self.thresholds.recent_days)

    def recent(self, last: date) -> bool:
        return last >= self.recent_from

    def long_enough(self, first: date, last: date) -> bool:
        return (last - first).days + 1 >= self.thresholds.overlap_min_days

    def with_role(self, *roles: str) -> list[_Item]:
        return [item for item in self.items if item.role in roles]


def _context(facts: PatientFacts, thresholds: Thresholds, horizon: date) -> _Context:
    every = sorted([*facts.medications, *plan_facts(facts.plan)], key=_fact_order)
    items = tuple(
        _Item(fact, fact.start, last_day(fact, horizon), role_of(fact))
        for fact in every
        if fact.start <= horizon
    )
    return _Context(facts, thresholds, horizon, items)


def _episode(first: date, last: date, ctx: _Context) -> dict[str, Any]:
    return {
        "episode_start_date": first.isoformat(),
        "episode_end_date": last.isoformat(),
        "ongoing": "yes" if last >= ctx.facts.today else "no",
        "days": (last - first).days + 1,
    }


def _pair(rule: RuleSpec, ctx: _Context) -> list[CoRxFinding]:
    found = []
    for left in rule.left:
        for right in rule.right:
            members = ctx.with_role(left, right)
            spans = [(item.first, item.last, item) for item in members]

            def fires(active: list[_Item], left: str = left, right: str = right) -> bool:
                ls = [i for i in active if i.role == left]
                rs = [i for i in active if i.role == right]
                return bool(ls and rs) and any(not i.is_program for i in ls + rs)

            for first, last, active in _runs(_segments(spans), fires):
                if not (ctx.long_enough(first, last) and ctx.recent(last)):
                    continue
                evidence = {
                    "kind": "co_prescription",
                    "classes": [left, right],
                    **_episode(first, last, ctx),
                    **_rows(i.fact for i in active),
                    "overlap_min_days": ctx.thresholds.overlap_min_days,
                    "status": rule.status,
                    "source": rule.source,
                }
                event = f"{left}+{right}:{first.isoformat()}"
                found.append(CoRxFinding(rule.id, event, first, evidence))
    return found


def mme_of_day(active: Sequence[_Item]) -> tuple[Decimal, int]:
    """(MME/day of the convertible opioids, how many active opioids could not be converted)."""
    known = sum((i.fact.mme_per_day for i in active if i.fact.mme_per_day is not None), Decimal(0))
    return known, sum(1 for i in active if i.fact.mme_per_day is None)


def at_level(total: Decimal, level: Decimal) -> bool:
    return total >= level


def _mme_text(total: Decimal, unconverted: int) -> str:
    if not unconverted:
        return f"{_num(total)} MME/day"
    orders = "order" if unconverted == 1 else "orders"
    if not total:
        return f"unknown MME/day; {unconverted} {orders} could not be converted"
    return f"at least {_num(total)} MME/day; {unconverted} {orders} could not be converted"


def _mme_segments(ctx: _Context) -> list[tuple[date, date, list[_Item], Decimal, int]]:
    spans = [(i.first, i.last, i) for i in ctx.with_role("opioid")]
    return [(a, b, act, *mme_of_day(act)) for a, b, act in _segments(spans) if act]


def _mme_evidence(run, segments, ctx: _Context, rule: RuleSpec) -> dict[str, Any]:
    first, last, active = run
    inside = [s for s in segments if first <= s[0] and s[1] <= last]
    peak = max(inside, key=lambda s: (s[3], -s[0].toordinal()))
    return {
        "kind": "mme",
        **_episode(first, last, ctx),
        "total_mme": _num(peak[3]),
        "total_text": _mme_text(peak[3], peak[4]),
        "peak_day": peak[0].isoformat(),
        "unconverted_orders": peak[4],
        "latest_from_date": inside[-1][0].isoformat(),
        "latest_total_text": _mme_text(inside[-1][3], inside[-1][4]),
        "daily_totals": [
            {
                "from_date": a.isoformat(),
                "to_date": b.isoformat(),
                "total_mme": _num(total),
                "total_text": _mme_text(total, unconverted),
            }
            for a, b, _, total, unconverted in inside[-MAX_ROWS:]
        ],
        **_rows(i.fact for i in active),
        "note": "MME/day is an estimate of overdose risk (CDC factors, prescribers.mme); never use it to "
        "convert one opioid into another. Opioids for opioid-use disorder are not counted.",
        "status": rule.status,
        "source": rule.source,
    }


def _mme_runs(segments, on_day: Callable[[Decimal, int], bool]) -> list[tuple[date, date, list]]:
    """Maximal runs of days whose (convertible total, unconverted count) satisfy `on_day`."""
    return _runs(((a, b, act) for a, b, act, total, n in segments if on_day(total, n)), lambda _: True)


def _mme(rule: RuleSpec, ctx: _Context) -> list[CoRxFinding]:
    level = ctx.thresholds.mme_level(rule.setting)
    segments = _mme_segments(ctx)
    found = []
    for run in _mme_runs(segments, lambda total, _: at_level(total, level)):
        first, last, _ = run
        if not ctx.recent(last):
            continue
        evidence = _mme_evidence(run, segments, ctx, rule)
        evidence["threshold"] = _num(level)
        evidence["guideline_threshold"] = str(spec().settings[rule.setting]["value"])
        found.append(CoRxFinding(rule.id, f"{_num(level)}:{first.isoformat()}", first, evidence))
    return found


def _mme_unknown(rule: RuleSpec, ctx: _Context) -> list[CoRxFinding]:
    lowest = ctx.thresholds.lowest_mme_level
    segments = _mme_segments(ctx)
    found = []
    for run in _mme_runs(segments, lambda total, n: n > 0 and not at_level(total, lowest)):
        first, last, _ = run
        if not ctx.recent(last):
            continue
        evidence = _mme_evidence(run, segments, ctx, rule)
        evidence["kind"] = "mme_unknown"
        evidence["lowest_level"] = _num(lowest)
        found.append(CoRxFinding(rule.id, first.isoformat(), first, evidence))
    return found


def _step_spans(ctx: _Context) -> list[tuple[date, date, PlanStep]]:
    plan = ctx.facts.plan
    if plan is None:
        return []
    return [
        (s.start, ctx.horizon if s.end is None else min(s.end, ctx.horizon), s)
        for s in plan.steps
        if s.start <= ctx.horizon
    ]


def _doses(step: PlanStep) -> str:
    return ", ".join(f"{drug} {_num(mg)} mg" for drug, mg in sorted(step.mg_by_drug.items()))


def _outside_plan(rule: RuleSpec, ctx: _Context) -> list[CoRxFinding]:
    steps = _step_spans(ctx)
    if not steps:
        return []
    outside = [i for i in ctx.with_role("benzodiazepine") if not i.is_program]
    found = []
    for ingredient in sorted({i.fact.ingredient or "unknown" for i in outside}):
        mine = [i for i in outside if (i.fact.ingredient or "unknown") == ingredient]
        spans = [(i.first, i.last, i) for i in mine] + list(steps)

        def fires(active: list, ingredient: str = ingredient) -> bool:
            in_force = [p for p in active if isinstance(p, PlanStep)]
            return (
                bool(in_force)
                and any(isinstance(p, _Item) for p in active)
                and (ingredient not in in_force[0].drugs_given())
            )

        for first, last, active in _runs(_segments(spans), fires):
            if not (ctx.long_enough(first, last) and ctx.recent(last)):
                continue
            in_force = sorted((p for p in active if isinstance(p, PlanStep)), key=lambda s: s.start)
            evidence = {
                "kind": "outside_taper_plan",
                "drug": ingredient,
                "plan": ctx.facts.plan.label,
                **_episode(first, last, ctx),
                "plan_steps": [
                    {
                        "start": s.start.isoformat(),
                        "end": s.end.isoformat() if s.end is not None else "open",
                        "mg_by_drug": _doses(s),
                    }
                    for s in in_force[-MAX_ROWS:]
                ],
                **_rows(p.fact for p in active if isinstance(p, _Item)),
                "status": rule.status,
                "source": rule.source,
            }
            event = fit_event(rule.id, f"{ingredient}:{first.isoformat()}")
            found.append(CoRxFinding(rule.id, event, first, evidence))
    return found


def _multi_prescriber_fills(rule: RuleSpec, ctx: _Context) -> list[CoRxFinding]:
    fills = [i for i in ctx.with_role("benzodiazepine") if i.fact.kind == "dispensation"]
    known = [i for i in fills if i.fact.prescriber_key is not None]
    spans = [(i.first, i.last, i) for i in known]
    found = []

    def fires(active: list[_Item]) -> bool:
        return len({i.fact.prescriber_key for i in active}) >= 2

    for first, last, active in _runs(_segments(spans), fires):
        if not (ctx.long_enough(first, last) and ctx.recent(last)):
            continue
        unknown = [i for i in fills if i.fact.prescriber_key is None and i.first <= last and first <= i.last]
        evidence = {
            "kind": "overlapping_fills",
            **_episode(first, last, ctx),
            "prescribers": sorted({i.fact.prescriber_label or i.fact.prescriber_key for i in active}),
            **_rows(i.fact for i in active),
            "fills_without_prescriber": len(unknown),
            "note": "Fills without a prescriber identifier are not compared.",
            "overlap_min_days": ctx.thresholds.overlap_min_days,
            "status": rule.status,
            "source": rule.source,
        }
        found.append(CoRxFinding(rule.id, first.isoformat(), first, evidence))
    return found


def _alcohol(rule: RuleSpec, ctx: _Context) -> list[CoRxFinding]:
    benzos = ctx.with_role("benzodiazepine")
    found = []
    for report in sorted(ctx.facts.alcohol, key=lambda a: (a.day, a.kind, a.id)):
        if not (ctx.recent(report.day) and report.day <= ctx.horizon):
            continue
        active = [i for i in benzos if i.first <= report.day <= i.last]
        if not active:
            continue
        evidence = {
            "kind": "alcohol_with_benzodiazepine",
            "alcohol_day": report.day.isoformat(),
            "alcohol_report": report.label,
            "reported_in": report.kind,
            **_rows(i.fact for i in active),
            "status": rule.status,
            "source": rule.source,
        }
        event = fit_event(rule.id, f"{report.kind}:{report.id}")
        found.append(CoRxFinding(rule.id, event, report.day, evidence))
    return found


def _fill_above_plan(rule: RuleSpec, ctx: _Context) -> list[CoRxFinding]:
    plan = ctx.facts.plan
    if plan is None:
        return []
    found = []
    for item in ctx.items:
        fact = item.fact
        if fact.kind != "dispensation" or fact.daily_amount is None or not ctx.recent(item.last):
            continue
        step = plan.step_on(fact.start)
        if step is None or fact.ingredient not in step.drugs_given():
            continue
        planned = step.dose_of(fact.ingredient)
        if fact.daily_amount <= planned:
            continue
        evidence = {
            "kind": "fill_above_taper_step",
            "fill_date": fact.start.isoformat(),
            "drug": fact.ingredient,
            "dispensed_mg_per_day": _num(fact.daily_amount),
            "plan_mg_per_day": _num(planned),
            "excess_mg_per_day": _num(fact.daily_amount - planned),
            "plan": plan.label,
            "step_start_date": step.start.isoformat(),
            "step_end_date": step.end.isoformat() if step.end is not None else "",
            **_rows([fact]),
            "status": rule.status,
            "source": rule.source,
        }
        found.append(CoRxFinding(rule.id, fit_event(rule.id, fact.id), fact.start, evidence))
    return found


def window_last(fill_day: date, window_days: int) -> date:
    """The last day whose trailing window of `window_days` days (both ends inclusive) holds `fill_day`."""
    return fill_day + timedelta(days=window_days - 1)


def mpe_counted(fact: MedicationFact, mpe: MpeDefinition, excluded: frozenset[str]) -> bool:
    """A fill the multiple-provider count considers: not the program's own prescriber's."""
    return (
        fact.kind == "dispensation"
        and fact.drug_class in mpe.classes
        and fact.indication not in mpe.excluded_indications
        and not fact.program
        and fact.prescriber_key not in excluded
    )


def _mpe(rule: RuleSpec, ctx: _Context) -> list[CoRxFinding]:
    mpe = ctx.thresholds.mpe
    excluded = ctx.facts.excluded_prescribers
    fills = [i.fact for i in ctx.items if i.fact.kind == "dispensation"]
    counted = [f for f in fills if mpe_counted(f, mpe, excluded)]
    spans = [(f.start, min(window_last(f.start, mpe.window_days), ctx.horizon), f) for f in counted]

    def fires(active: list[MedicationFact]) -> bool:
        prescribers = {f.prescriber_key for f in active if f.prescriber_key is not None}
        pharmacies = {f.pharmacy_key for f in active if f.pharmacy_key is not None}
        return len(prescribers) >= mpe.prescribers_min and len(pharmacies) >= mpe.pharmacies_min

    found = []
    for first, last, _ in _runs(_segments(spans), fires):
        if not ctx.recent(last):
            continue
        window_from = first - timedelta(days=mpe.window_days - 1)
        window = sorted((f for f in counted if window_from <= f.start <= first), key=_fact_order)
        not_counted = [
            f
            for f in fills
            if window_from <= f.start <= first
            and f.drug_class in mpe.classes
            and f.indication not in mpe.excluded_indications
            and (f.program or f.prescriber_key in excluded)
        ]
        prescribers = {f.prescriber_key: f.prescriber_label for f in window if f.prescriber_key}
        pharmacies = {f.pharmacy_key: f.pharmacy_label for f in window if f.pharmacy_key}
        evidence = {
            "kind": "multiple_provider_episode",
            "definition": mpe.label,
            "first_met_date": first.isoformat(),
            "window_start_date": window_from.isoformat(),
            "episode_end_date": last.isoformat(),
            "ongoing": "yes" if last >= ctx.facts.today else "no",
            "prescribers_count": len(prescribers),
            "prescribers_min": mpe.prescribers_min,
            "pharmacies_count": len(pharmacies),
            "pharmacies_min": mpe.pharmacies_min,
            "window_days": mpe.window_days,
            "counted_classes": sorted(mpe.classes),
            "prescribers": sorted(label or key for key, label in prescribers.items()),
            "pharmacies": sorted(label or key for key, label in pharmacies.items()),
            "fills_without_prescriber": sum(1 for f in window if f.prescriber_key is None),
            "fills_without_pharmacy": sum(1 for f in window if f.pharmacy_key is None),
            "program_fills_not_counted": len(not_counted),
            "note": "Fills without a prescriber or pharmacy identifier are not counted as distinct; the "
            "program's own prescribers are not counted. About 1 in 5 people flagged this way had a "
            "cancer diagnosis (Delcher 2021): ask before concluding.",
            **_rows(window),
            "definition_status": mpe.status,
            "definition_source": mpe.source,
            "status": rule.status,
            "source": rule.source,
        }
        found.append(CoRxFinding(rule.id, first.isoformat(), first, evidence))
    return found


_EVALUATORS: dict[str, Callable[[RuleSpec, _Context], list[CoRxFinding]]] = {
    "pair": _pair,
    "mme": _mme,
    "mme_unknown": _mme_unknown,
    "outside_plan": _outside_plan,
    "multi_prescriber_fills": _multi_prescriber_fills,
    "alcohol": _alcohol,
    "fill_above_plan": _fill_above_plan,
    "mpe": _mpe,
}


def _evaluate(facts: PatientFacts, thresholds: Thresholds, horizon: date) -> list[CoRxFinding]:
    ctx = _context(facts, thresholds, horizon)
    found: list[CoRxFinding] = []
    for rule in spec().rules:
        found += _EVALUATORS[rule.kind](rule, ctx)
    order = {rule_id: n for n, rule_id in enumerate(rule_ids())}
    return sorted(found, key=lambda f: (order[f.rule_id], f.occurred_on, f.event))


def evaluate(facts: PatientFacts, thresholds: Thresholds | None = None) -> list[CoRxFinding]:
    """Patient-view: every finding about the patient relevant on `facts.today`, in catalogue order."""
    return _evaluate(facts, thresholds or default_thresholds(), facts.today)


def check_order(
    facts: PatientFacts, proposed: MedicationFact, thresholds: Thresholds | None = None
) -> list[CoRxFinding]:
    """Order-select: the findings that saving `proposed` would newly raise (an event not raised without it).

    `proposed` replaces a saved fact of the same kind and id (an edit). Both sides are evaluated up to the
    later of today and the proposed order's last day, so an order starting next week is checked too. An
    order that only continues an episode already found (a refill of an overlap) raises nothing new: that
    alert exists. An order dated before an episode already found moves its start, so it shows as new —
    exactly what saving it would raise.
    """
    thresholds = thresholds or default_thresholds()
    horizon = max(facts.today, proposed.end or proposed.start)
    others = tuple(f for f in facts.medications if (f.kind, f.id) != (proposed.kind, proposed.id))
    with_order = PatientFacts(
        patient_id=facts.patient_id,
        today=facts.today,
        medications=(*others, proposed),
        plan=facts.plan,
        alcohol=facts.alcohol,
        excluded_prescribers=facts.excluded_prescribers,
    )
    without = {(f.rule_id, f.event) for f in _evaluate(facts, thresholds, horizon)}
    return [f for f in _evaluate(with_order, thresholds, horizon) if (f.rule_id, f.event) not in without]
