"""Morphine milligram equivalents per day (MME/day) of a patient's opioid orders, CDC 2022 or CDC 2016.

Pure (no Django, no app code). The factors, ingredient codes, exclusions and plausibility limits live in
prescribers/data/mme_factors.json, each with a source and a status (V/S/U); this module is arithmetic.

    daily_mme([MedicationOrder("oxycodone", Decimal(5), "mg", Decimal(1), "tablet", Decimal(4))])
    -> MMEResult(total=Decimal("30.00"), complete=True, per_order=(OrderMME(... mme=Decimal("30.00")),), ...)

Contract (why each rule is so):
- One `OrderMME` per input order, in input order. An order that is not counted has `mme=None` and a
  `reason`; it is never shown as 0 and never dropped. Two identical orders are two orders and count twice.
- `status` says why an order is not counted. EXCLUDED (buprenorphine, methadone for opioid use disorder)
  and NOT_OPIOID (alprazolam…) are not MME by definition; NOT_COMPUTABLE (bad units, absurd numbers, an
  opioid without a factor, an unrecognised ingredient) should have counted and did not, so it makes the
  total partial: `complete=False`. An unrecognised name is NOT_COMPUTABLE, not NOT_OPIOID: a typo such as
  "oxycodon" must not quietly lower the total.
- `total` is the sum of the counted orders' rounded MME, None when no order is counted.
- As-needed (PRN) orders count at the maximum daily dose as written (`dose` x `doses_per_day` are the
  maxima). This follows the CDC/CQF IG: cqframework/opioid-mme-r4 input/cql/MMECalculator.cql (the same
  logic in cqframework/opioid-cds-r4, used by OpioidCDSREC04And05.cql) takes frequencyMax over frequency
  and the high end of a dose range, "assumes the most aggressive dosing", and keeps asNeeded only as a
  label: PRN orders are not filtered out.
- Fentanyl patches: MME/day = patches worn x rate (mcg/h) x 2.4, whatever `doses_per_day` says. A patch
  delivers its rate around the clock; how often it is changed (every 72 h: doses_per_day = 1/3) does not
  change the dose. CDC data file: "one patch delivers the dispensed micrograms per hour over a 24 hour
  day... the conversion factor not accounting for days of use would be 60/25 or 2.4". The CQF IG reaches
  the same number: its daily dose multiplies by dosesPerDay and its factor divides by it again.
- CDC 2016 methadone: the factor (4/8/10/12) is chosen by the patient's TOTAL methadone mg/day across all
  counted methadone orders (the CDC sheet tiers the total daily dose; the CQF IG tiers each order alone,
  which understates two 15 mg/day orders). Methadone for opioid use disorder is not part of that total. If
  one methadone order cannot be converted, the total is unknown and every methadone order is NOT_COMPUTABLE.
- Decimal throughout; each order's MME is rounded per the data file (0.01, half-up), the total is the sum
  of the rounded values.
- Clinical inputs never raise: they give a reason. TypeError/ValueError are for programming errors only
  (a float instead of a Decimal, a unit or indication code outside the declared set, an unknown table).
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Literal

DATA_FILE = Path(__file__).parent / "data" / "mme_factors.json"

Table = Literal["cdc2022", "cdc2016"]
StrengthUnit = Literal["mg", "mcg/h", "mg/mL"]
DoseUnit = Literal["mg", "tablet", "capsule", "patch", "mL"]
Indication = Literal["pain", "oud"]

STRENGTH_UNITS: frozenset[str] = frozenset({"mg", "mcg/h", "mg/mL"})
DOSE_UNITS: frozenset[str] = frozenset({"mg", "tablet", "capsule", "patch", "mL"})
INDICATIONS: frozenset[str | None] = frozenset({None, "pain", "oud"})
_CONTEXT = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN)


class Status(StrEnum):
    """How a value was checked (same legend as taper/catalogue.py; not imported: this module is pure)."""

    VERIFIED = "V"
    SECONDARY = "S"
    UNVERIFIED = "U"


class OrderStatus(StrEnum):
    COUNTED = "counted"
    EXCLUDED = "excluded"  # CDC says not to count it (buprenorphine, methadone for OUD)
    NOT_OPIOID = "not_opioid"
    NOT_COMPUTABLE = "not_computable"  # should count but cannot: the total is partial


@dataclass(frozen=True)
class MedicationOrder:
    """One order as written. For PRN orders `dose` and `doses_per_day` are the maxima.

    `indication` is an addition at the end of the fixed signature (default None = not stated, treated as
    pain): "oud" marks methadone for opioid use disorder, which CDC excludes from MME.
    """

    ingredient: str
    strength: Decimal
    strength_unit: StrengthUnit
    dose: Decimal
    dose_unit: DoseUnit
    doses_per_day: Decimal
    as_needed: bool = False
    rxnorm: str | None = None
    indication: Indication | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.ingredient, str):
            raise TypeError(f"ingredient must be str, not {type(self.ingredient).__name__}")
        for name in ("strength", "dose", "doses_per_day"):
            value = getattr(self, name)
            # An int is exact, so accept it; a float (0.1 != 1/10) or a string is a caller's bug.
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, Decimal(value))
            elif not isinstance(value, Decimal):
                raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
        if self.strength_unit not in STRENGTH_UNITS:
            raise ValueError(f"strength_unit {self.strength_unit!r} is not one of {sorted(STRENGTH_UNITS)}")
        if self.dose_unit not in DOSE_UNITS:
            raise ValueError(f"dose_unit {self.dose_unit!r} is not one of {sorted(DOSE_UNITS)}")
        if not isinstance(self.as_needed, bool):
            raise TypeError("as_needed must be a bool")
        if self.rxnorm is not None and not isinstance(self.rxnorm, str):
            raise TypeError("rxnorm must be a str (an ingredient RxCUI) or None")
        if self.indication not in INDICATIONS:
            raise ValueError(f"indication {self.indication!r} is not one of None, 'pain', 'oud'")


@dataclass(frozen=True)
class OrderMME:
    """The result for one order. `mme` is None exactly when the order is not counted; then `reason` says
    why. `daily_amount` is mg/day, or mcg/h for a patch; `factor` is the conversion factor applied."""

    order: MedicationOrder
    status: OrderStatus
    mme: Decimal | None = None
    reason: str | None = None
    ingredient: str | None = None  # the table's name for the matched ingredient
    daily_amount: Decimal | None = None
    daily_amount_unit: Literal["mg/day", "mcg/h"] | None = None
    factor: Decimal | None = None
    factor_status: Status | None = None
    factor_source: str | None = None

    @property
    def counted(self) -> bool:
        return self.status is OrderStatus.COUNTED


@dataclass(frozen=True)
class MMEResult:
    total: Decimal | None
    per_order: tuple[OrderMME, ...]
    table: Table
    complete: bool  # False when some order should have counted and could not: `total` is a lower bound


# ---------------------------------------------------------------------------------------------------
# The data file


@dataclass(frozen=True)
class Factor:
    value: Decimal
    status: Status
    source: str


@dataclass(frozen=True)
class MethadoneTiers:
    from_mg_per_day: Decimal
    tiers: tuple[tuple[Decimal, Decimal], ...]  # (up to and including mg/day, factor), ascending
    status: Status
    source: str
    above_reason: str
    below_reason: str


@dataclass(frozen=True)
class FactorTable:
    name: str
    title: str
    factors: Mapping[str, Factor]  # fentanyl: per mcg/h of transdermal rate
    methadone_tiers: MethadoneTiers | None


@dataclass(frozen=True)
class Ingredient:
    name: str
    role: Literal["opioid", "partial_agonist", "no_factor", "non_opioid"]
    rxnorm: str | None
    drug_class: str | None


@dataclass(frozen=True)
class Limits:
    max_doses_per_day: Decimal
    max_units_per_dose: Decimal
    max_dose_mg: Decimal
    max_dose_ml: Decimal
    max_strength_mg: Decimal
    max_strength_mg_per_ml: Decimal
    max_patch_mcg_per_h: Decimal


@dataclass(frozen=True)
class Rules:
    ingredients: Mapping[str, Ingredient]
    by_rxnorm: Mapping[str, Ingredient]
    partial_agonist_reason: str
    oud_reason: str
    limits: Limits
    quantum: Decimal
    rounding: str


@cache
def _raw() -> dict:
    return json.loads(DATA_FILE.read_text())


@cache
def rules() -> Rules:
    raw = _raw()
    ingredients: dict[str, Ingredient] = {}
    for name, item in raw["ingredients"].items():
        if name.startswith("_"):
            continue
        ingredients[name] = Ingredient(name, item["role"], item["rxnorm"], item.get("class"))
    by_rxnorm = {i.rxnorm: i for i in ingredients.values() if i.rxnorm is not None}
    if len(by_rxnorm) != sum(i.rxnorm is not None for i in ingredients.values()):
        raise ValueError("mme_factors.json: two ingredients share an RxCUI")
    lim = raw["plausibility"]
    rounding = raw["rounding"]
    if rounding["mode"] not in ("ROUND_HALF_UP", "ROUND_HALF_EVEN"):
        raise ValueError("mme_factors.json: rounding.mode must be ROUND_HALF_UP or ROUND_HALF_EVEN")
    return Rules(
        ingredients=ingredients,
        by_rxnorm=by_rxnorm,
        partial_agonist_reason=raw["exclusions"]["partial_agonist"]["reason"],
        oud_reason=raw["exclusions"]["opioid_use_disorder"]["reason"],
        limits=Limits(**{key: Decimal(lim[key]) for key in Limits.__dataclass_fields__}),
        quantum=Decimal(rounding["quantum"]),
        rounding=getattr(decimal, rounding["mode"]),
    )


@cache
def factor_table(name: str) -> FactorTable:
    """The named table; ValueError for a name the data file does not have (a programming error)."""
    if not isinstance(name, str):
        raise TypeError(f"table must be a str, not {type(name).__name__}")
    tables = _raw()["tables"]
    if name not in tables:
        raise ValueError(f"unknown MME table {name!r}; known: {sorted(tables)}")
    raw = tables[name]
    table_status, table_source = Status(raw["status"]), raw["source"]
    factors = {
        ingredient: Factor(
            Decimal(item["factor"]),
            Status(item.get("status", table_status)),
            item.get("source", table_source),
        )
        for ingredient, item in raw["factors"].items()
    }
    tiers = None
    if "methadone_tiers" in raw:
        mt = raw["methadone_tiers"]
        tiers = MethadoneTiers(
            from_mg_per_day=Decimal(mt["from_mg_per_day"]),
            tiers=tuple((Decimal(t["up_to_mg_per_day"]), Decimal(t["factor"])) for t in mt["tiers"]),
            status=Status(mt["status"]),
            source=mt["source"],
            above_reason=mt["above_last_tier"]["reason"],
            below_reason=mt["below_first_tier_reason"],
        )
        if [t[0] for t in tiers.tiers] != sorted({t[0] for t in tiers.tiers}):
            raise ValueError(f"mme_factors.json: {name} methadone tiers must ascend")
    opioids = {i.name for i in rules().ingredients.values() if i.role == "opioid"}
    covered = set(factors) | ({"methadone"} if tiers else set())
    if covered != opioids or (tiers and "methadone" in factors):
        raise ValueError(f"mme_factors.json: {name} must give exactly one factor rule per opioid")
    if any(f.value <= 0 for f in factors.values()):
        raise ValueError(f"mme_factors.json: {name} factors must be positive")
    return FactorTable(name, raw["title"], factors, tiers)


# ---------------------------------------------------------------------------------------------------
# The calculation


@dataclass(frozen=True)
class _Amount:
    """An order whose daily amount is known; its factor is chosen once all orders are seen."""

    order: MedicationOrder
    ingredient: str
    amount: Decimal
    unit: Literal["mg/day", "mcg/h"]


def daily_mme(orders: Iterable[MedicationOrder], table: Table = "cdc2022") -> MMEResult:
    """MME/day of `orders` under `table` ("cdc2022" or "cdc2016"). See the module docstring."""
    factors = factor_table(table)
    orders = tuple(orders)
    for order in orders:
        if not isinstance(order, MedicationOrder):
            raise TypeError(f"orders must be MedicationOrder, not {type(order).__name__}")
    with decimal.localcontext(_CONTEXT):
        steps = [_assess(order) for order in orders]
        per_order = tuple(_convert(step, steps, factors) for step in steps)
    return _result(per_order, table)


def _result(per_order: tuple[OrderMME, ...], table: Table) -> MMEResult:
    counted = [o.mme for o in per_order if o.mme is not None]
    total = sum(counted, Decimal(0)) if counted else None
    complete = all(o.status is not OrderStatus.NOT_COMPUTABLE for o in per_order)
    return MMEResult(total=total, per_order=per_order, table=table, complete=complete)


def _refuse(order: MedicationOrder, reason: str, ingredient: str | None = None) -> OrderMME:
    return OrderMME(order, OrderStatus.NOT_COMPUTABLE, reason=reason, ingredient=ingredient)


def _resolve(order: MedicationOrder) -> Ingredient | str:
    """The ingredient by name (case-insensitive) and/or ingredient RxCUI, or why it cannot be matched."""
    r = rules()
    name = " ".join(order.ingredient.split()).casefold()
    by_name = r.ingredients.get(name) if name else None
    code = order.rxnorm.strip() if order.rxnorm is not None else None
    by_code = r.by_rxnorm.get(code) if code else None
    if code and by_code is None:
        return f"RxNorm {code} is not an ingredient RxCUI in the MME table; check the code"
    if by_name and by_code and by_name is not by_code:
        return f"ingredient {order.ingredient!r} and RxNorm {code} ({by_code.name}) disagree"
    found = by_name or by_code
    if found is None:
        return f"unrecognised ingredient {order.ingredient!r}: not in the MME table; check the spelling"
    return found


def _assess(order: MedicationOrder) -> OrderMME | _Amount:
    found = _resolve(order)
    if isinstance(found, str):
        return _refuse(order, found)
    name = found.name
    if found.role == "partial_agonist":
        return OrderMME(order, OrderStatus.EXCLUDED, reason=rules().partial_agonist_reason, ingredient=name)
    if found.role == "non_opioid":
        why = f"not an opioid ({found.drug_class}): no MME" if found.drug_class else "not an opioid: no MME"
        return OrderMME(order, OrderStatus.NOT_OPIOID, reason=why, ingredient=name)
    if found.role == "no_factor":
        return _refuse(order, f"{name} is an opioid without a CDC MME conversion factor", name)
    if order.indication == "oud":
        if name == "methadone":
            return OrderMME(order, OrderStatus.EXCLUDED, reason=rules().oud_reason, ingredient=name)
        return _refuse(order, f"indication 'oud' is for methadone or buprenorphine, not {name}", name)
    problem = _number_problem(order) or _unit_problem(order, name) or _limit_problem(order)
    if problem:
        return _refuse(order, problem, name)
    return _daily_amount(order, name)


def _number_problem(order: MedicationOrder) -> str | None:
    for label, value in (
        ("strength", order.strength),
        ("dose", order.dose),
        ("doses per day", order.doses_per_day),
    ):
        if not value.is_finite():
            return f"{label} is not a number"
        if value <= 0:
            return f"{label} must be positive, not {value}"
    return None


def _unit_problem(order: MedicationOrder, name: str) -> str | None:
    s, d = order.strength_unit, order.dose_unit
    if name == "fentanyl":
        # CDC's 2.4 is for transdermal fentanyl only; buccal/nasal fentanyl factors are per mcg, not here.
        if (s, d) != ("mcg/h", "patch"):
            return "the CDC factor is for transdermal fentanyl only (a patch with a strength in mcg/h)"
        return None
    if d == "patch" or s == "mcg/h":
        return f"a patch rate (mcg/h) has a CDC factor only for fentanyl, not {name}"
    if d in ("tablet", "capsule") and s != "mg":
        return f"a {d} needs a strength in mg, not {s}"
    if d == "mL" and s != "mg/mL":
        return f"a dose in mL needs a strength in mg/mL, not {s}"
    return None


def _limit_problem(order: MedicationOrder) -> str | None:
    lim = rules().limits
    if order.doses_per_day > lim.max_doses_per_day:
        return f"implausible: {order.doses_per_day} doses per day (more than {lim.max_doses_per_day})"
    dose_limit = {"mg": lim.max_dose_mg, "mL": lim.max_dose_ml}.get(order.dose_unit, lim.max_units_per_dose)
    if order.dose > dose_limit:
        return f"implausible: a dose of {order.dose} {order.dose_unit} (more than {dose_limit})"
    strength_limit = {
        "mg": lim.max_strength_mg,
        "mg/mL": lim.max_strength_mg_per_ml,
        "mcg/h": lim.max_patch_mcg_per_h,
    }[order.strength_unit]
    if order.strength > strength_limit:
        return f"implausible: strength {order.strength} {order.strength_unit} (more than {strength_limit})"
    return None


def _daily_amount(order: MedicationOrder, name: str) -> _Amount:
    if order.dose_unit == "patch":
        # Continuous delivery: patches worn at once x rate; doses_per_day (1/3 for 72 h) does not multiply.
        return _Amount(order, name, order.dose * order.strength, "mcg/h")
    if order.dose_unit == "mg":
        return _Amount(order, name, order.dose * order.doses_per_day, "mg/day")
    # tablet / capsule (strength mg) and mL (strength mg/mL): units x strength x doses per day.
    return _Amount(order, name, order.dose * order.strength * order.doses_per_day, "mg/day")


def _convert(step: OrderMME | _Amount, steps: list[OrderMME | _Amount], table: FactorTable) -> OrderMME:
    if isinstance(step, OrderMME):
        return step
    order, name = step.order, step.ingredient
    if name == "methadone" and table.methadone_tiers is not None:
        chosen = _methadone_factor(steps, table.methadone_tiers)
        if isinstance(chosen, str):
            return _refuse(order, chosen, name)
        factor = chosen
    else:
        factor = table.factors[name]
    r = rules()
    mme = (step.amount * factor.value).quantize(r.quantum, rounding=r.rounding)
    if mme <= 0:
        return _refuse(order, f"implausibly small: under {r.quantum / 2} MME/day; check the units", name)
    return OrderMME(
        order,
        OrderStatus.COUNTED,
        mme=mme,
        ingredient=name,
        daily_amount=step.amount,
        daily_amount_unit=step.unit,
        factor=factor.value,
        factor_status=factor.status,
        factor_source=factor.source,
    )


def _methadone_factor(steps: list[OrderMME | _Amount], tiers: MethadoneTiers) -> Factor | str:
    """The 2016 tier for the patient's total methadone mg/day, or why it cannot be chosen."""
    for other, step in enumerate(steps):
        blocked = isinstance(step, OrderMME) and step.status is OrderStatus.NOT_COMPUTABLE
        if blocked and step.ingredient == "methadone":
            return (
                "the CDC 2016 methadone factor depends on the total methadone dose, and "
                f"methadone order {other + 1} cannot be converted"
            )
    total = sum(
        (s.amount for s in steps if isinstance(s, _Amount) and s.ingredient == "methadone"), Decimal(0)
    )
    where = f"total methadone {total.normalize():f} mg/day"
    if total < tiers.from_mg_per_day:
        return f"{where}: {tiers.below_reason}"
    for up_to, factor in tiers.tiers:
        if total <= up_to:
            return Factor(factor, tiers.status, f"{tiers.source}; tier for {where}")
    return f"{where}: {tiers.above_reason}"
