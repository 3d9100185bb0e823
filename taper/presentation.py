"""Turning a schedule (an engine preview or stored steps) into rows a page can print.

A preview (engine `Step`s, not saved) and a stored version (`TaperStep` rows) go through the same
`schedule_rows`, so the builder's preview and the plan page show the same table. No queries here: the
catalogue lookups are in memory.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from taper.catalogue import Catalogue, EquivalenceTable, Status, load_catalogue
from taper.engine import Phase, Schedule, as_decimal, guideline_cap
from taper.errors import TaperInputError
from taper.policy import policy
from taper.version_fields import step_row

FLAG_LABELS = {
    "tail": (
        "End of taper",
        "Starts at or below the end-of-taper floor: the smallest doses cannot be cut by only 25%.",
    ),
    "final_step": ("Final step", "The last dose stops; the stop is allowed from a small dose only."),
    "cap_override": ("Over the guideline cap", "Allowed by a psychiatrist's written override of this step."),
    "over_cap": ("Over the guideline cap", "Not allowed without a psychiatrist's override naming this step."),
    "over_rate": (
        "Bigger cut than asked",
        "More than half again the requested cut: see what would keep the pace.",
    ),
    "interval_lengthened": (
        "Starts later",
        "Starts later than the requested interval so that two cuts together stay within the guideline cap.",
    ),
    "to_liquid": ("Moves to liquid", "From this step the dose is given as oral liquid, and stays liquid."),
    "switch_undivided": (
        "Switched in one go",
        "The dose cannot be divided into smaller portions for the switch.",
    ),
    "open_hold": ("Held until resumed", "The dose stays the same until a psychiatrist resumes the taper."),
    "substitution_rounded_up": (
        "Switch rounded up",
        "The diazepam dose is slightly above the exact equivalent (nearest dose that can be made).",
    ),
}
PHASE_LABELS = {
    Phase.SUBSTITUTION.value: "Switch",
    Phase.REDUCTION.value: "Reduction",
    Phase.HOLD.value: "Hold",
}
_PIECES = {Decimal("0.25"): "¼", Decimal("0.5"): "½", Decimal("0.75"): "¾"}


def mg(value: Any) -> str:
    """A dose as people write it: 2.5, 10, 0.125 (no trailing zeros)."""
    if value is None:
        return ""
    number = Decimal(str(value))
    text = f"{number.normalize():f}"
    return text


def count(value: Any) -> str:
    """A tablet count with halves/quarters as fractions: 1½, ¼, 2."""
    number = Decimal(str(value))
    whole = int(number)
    part = _PIECES.get(number - whole, "")
    if part:
        return f"{whole}{part}" if whole else part
    return mg(number)


@dataclass
class DoseCell:
    time: str
    mg: str
    how: str  # "1½ x diazepam 5 mg tablet" or "2.5 mL of diazepam oral liquid 1 mg/mL"


@dataclass
class DrugDoses:
    drug: str
    doses: list[DoseCell]
    daily_mg: str

    @property
    def taken(self) -> list[DoseCell]:
        """The administrations still taken (a dose already tapered to zero is left out)."""
        return [d for d in self.doses if d.mg != "0"]


@dataclass
class Row:
    index: int
    phase: str
    phase_label: str
    start: datetime.date
    end: datetime.date | None
    days: int | None
    drugs: list[DrugDoses]
    daily_de_mg: str
    reduction_percent: str
    dispense: list[dict[str, Any]]
    flags: list[tuple[str, str, str]]  # (code, label, explanation)
    state: str = "future"  # past | current | future
    step_percent: str = ""  # the cut vs. the dose just before
    requested_percent: str = ""  # the cut asked for ("" outside reductions)
    other_de_mg: str = ""  # the same doses on the other equivalence table ("" when not shown)
    over_rate: bool = False

    @property
    def is_current(self) -> bool:
        return self.state == "current"


def _describe(catalogue: Catalogue, formulation_id: str, fallback: str = "") -> str:
    """Short: "diazepam 5 mg tablet", "diazepam 1 mg/mL oral liquid" (how it may be split is in the
    formulary; the tablet counts already say whether a piece is used)."""
    try:
        form = catalogue.formulation(formulation_id)
    except TaperInputError:  # an old version may name a formulation the catalogue no longer has
        return fallback or formulation_id
    if form.is_liquid:
        return f"{form.drug} {mg(as_decimal(form.mg_per_ml))} mg/mL oral liquid"
    return f"{form.drug} {mg(as_decimal(form.strength_mg))} mg {form.kind.value}"


def _how(catalogue: Catalogue, dose: Mapping[str, Any]) -> str:
    parts = [f"{count(n)} × {_describe(catalogue, fid)}" for fid, n in dose.get("tablets") or ()]
    if dose.get("liquid"):
        fid, ml = dose["liquid"]
        parts.append(f"{mg(ml)} mL of {_describe(catalogue, fid)}")
    return " + ".join(parts) if parts else "none"


def _drugs(catalogue: Catalogue, doses: Sequence[Mapping[str, Any]]) -> list[DrugDoses]:
    by_drug: dict[str, DrugDoses] = {}
    totals: dict[str, Decimal] = {}
    for dose in sorted(doses, key=lambda d: (d["drug"], d["time"])):
        entry = by_drug.setdefault(dose["drug"], DrugDoses(dose["drug"], [], ""))
        entry.doses.append(DoseCell(dose["time"], mg(dose["mg"]), _how(catalogue, dose)))
        totals[dose["drug"]] = totals.get(dose["drug"], Decimal(0)) + Decimal(str(dose["mg"]))
    for drug, entry in by_drug.items():
        entry.daily_mg = mg(totals[drug])
    return list(by_drug.values())


def _state(start: datetime.date, end: datetime.date | None, today: datetime.date | None) -> str:
    if today is None:
        return "future"
    if end is not None and end < today:
        return "past"
    if start <= today:
        return "current"
    return "future"


def _row(index: int, data: Mapping[str, Any], catalogue: Catalogue, today: datetime.date | None) -> Row:
    start, end = data["start"], data["end"]
    return Row(
        index=index,
        phase=data["phase"],
        phase_label=PHASE_LABELS.get(data["phase"], data["phase"]),
        start=start,
        end=end,
        days=None if end is None else (end - start).days + 1,
        drugs=_drugs(catalogue, data["doses"]),
        daily_de_mg=mg(data["daily_de_mg"]),
        reduction_percent=mg(Decimal(str(data["window_reduction_percent"])).quantize(Decimal("0.1"))),
        dispense=[
            {
                **x,
                "description": _describe(catalogue, x["formulation_id"], x.get("description", "")),
                "ml": mg(x["ml"]) if x.get("ml") is not None else None,
            }
            for x in data.get("dispense") or ()
        ],
        flags=[(f, *FLAG_LABELS[f]) for f in data.get("flags") or () if f in FLAG_LABELS],
        state=_state(start, end, today),
        step_percent=_percent(data.get("step_percent")),
        requested_percent=_percent(data.get("requested_percent")),
        other_de_mg=mg(data.get("other_table_de_mg")) if data["phase"] == Phase.SUBSTITUTION.value else "",
        over_rate="over_rate" in (data.get("flags") or ()),
    )


def _percent(value: Any) -> str:
    if value is None or value == "":
        return ""
    return mg(Decimal(str(value)).quantize(Decimal("0.1")))


def stored_rows(steps: Iterable[Any], catalogue: Catalogue, today: datetime.date | None) -> list[Row]:
    """Rows for a stored version's TaperStep objects (already loaded)."""
    return [
        _row(
            s.index,
            {
                "phase": s.phase,
                "start": s.start,
                "end": s.end,
                "doses": s.doses,
                "daily_de_mg": s.daily_de_mg,
                "window_reduction_percent": s.window_reduction_percent,
                "dispense": s.dispense,
                "flags": s.flags,
                "step_percent": s.step_percent,
                "requested_percent": s.requested_percent,
                "other_table_de_mg": s.other_table_de_mg,
            },
            catalogue,
            today,
        )
        for s in steps
    ]


def preview_rows(schedule: Schedule, catalogue: Catalogue) -> list[Row]:
    return [_row(s.index, step_row(s), catalogue, None) for s in schedule.steps]


def baseline_drugs(schedule: Schedule, catalogue: Catalogue) -> list[DrugDoses]:
    """What the patient takes before the first step (the regimen as the engine read it)."""
    rows = [
        {"drug": d.drug, "time": d.time_of_day.strftime("%H:%M"), "mg": mg(as_decimal(d.mg))}
        for d in schedule.baseline
    ]
    return _drugs(catalogue, rows)


@dataclass
class EquivalenceLine:
    drug: str
    mg: str  # mg of the drug ≈ diazepam 10 mg
    status: str
    source: str
    note: str


@dataclass
class TableUsed:
    """The equivalence table a schedule used, with the value and source for each drug in it."""

    code: str
    label: str
    source: str
    lines: list[EquivalenceLine] = field(default_factory=list)


def table_used(table: str, drugs: Iterable[str]) -> TableUsed:
    catalogue = load_catalogue()
    chosen = EquivalenceTable(table)
    lines = []
    for name in sorted(set(drugs)):
        try:
            eq = catalogue.drug(name).equivalence(chosen)
        except TaperInputError:  # an unknown drug is reported by the engine, not here
            continue
        lines.append(
            EquivalenceLine(
                drug=name,
                mg=mg(Decimal(eq.mg.numerator) / Decimal(eq.mg.denominator)) if eq.mg is not None else "—",
                status=(eq.status or Status.UNVERIFIED).value,
                source=eq.source or "",
                note=eq.note or "",
            )
        )
    return TableUsed(chosen.value, chosen.label, catalogue.meta.get("equivalence_source", ""), lines)


def drugs_in(rows: Iterable[Row]) -> set[str]:
    return {d.drug for row in rows for d in row.drugs}


@dataclass(frozen=True)
class Cap:
    wording: str
    source: str
    per_days: int
    max_percent: str


def cap() -> Cap:
    c = guideline_cap()
    return Cap(c.wording, c.source, c.per_days, mg(Decimal(c.max_reduction_percent.numerator)))


def current_row(rows: Sequence[Row]) -> Row | None:
    return next((r for r in rows if r.is_current), None)


@dataclass(frozen=True)
class WarningItem:
    """A warning for a page: plain words, with the source behind a 'why / source' disclosure."""

    code: str
    title: str
    detail: str
    source: str
    wording: str  # the rule's own words, for the disclosure


def _rule_wording(rule: str) -> str:
    rules = policy()
    return {
        rules.cap.rule: rules.cap.wording,
        rules.tail.rule: rules.tail.wording,
        rules.pace.rule: rules.pace.wording,
        rules.switch.rule: rules.switch.wording,
        rules.plausibility.high_rule: rules.plausibility.high_wording,
        rules.plausibility.ceiling_rule: rules.plausibility.ceiling_wording,
    }.get(rule, "")


def warning_items(rows: Iterable[Mapping[str, Any]]) -> list[WarningItem]:
    """Stored (or freshly computed) warning rows as page items; rule ids stay in the data, not on the page."""
    return [
        WarningItem(
            r["code"], r["title"], r["detail"], r.get("source") or "", _rule_wording(r.get("rule", ""))
        )
        for r in rows
    ]


def schedule_warning_rows(schedule: Schedule) -> list[dict[str, Any]]:
    return [
        {"code": w.code, "rule": w.rule, "title": w.title, "detail": w.detail, "source": w.source}
        for w in schedule.warnings
    ]


@dataclass(frozen=True)
class Option:
    """An alternative the page offers as a button: `apply` is what the builder changes (`key=value`)."""

    label: str
    outcome: str
    apply: str  # "" when it is not something the builder can set (e.g. stocking a formulation)
    fixes: bool
    psychiatrist_only: bool
    stock: str  # the formulation to stock, for the formulary link


def options(rows: Iterable[Mapping[str, Any]]) -> list[Option]:
    """Option rows (version_fields.option_rows, or stored on a version) as buttons."""
    out = []
    for row in rows:
        changes = dict(row["changes"])
        stock = changes.pop("stock", "")
        apply = ";".join(f"{k}={v}" for k, v in changes.items())
        out.append(Option(row["label"], row["outcome"], apply, row["fixes"], row["psychiatrist_only"], stock))
    return out
