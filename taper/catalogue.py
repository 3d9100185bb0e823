"""Medication catalogue: benzodiazepines and Z-drugs, their diazepam equivalents and dispensable formulations.

Data lives in taper/data/benzodiazepines.json (copied from /work/shared/reference/clinical_data.json with each
value's source and status). Every value carries its status (V verified, S secondary, U unverified)
so pages can mark U values; nothing here hides a U value.

Quantities are `fractions.Fraction` so equivalence arithmetic is exact (e.g. estazolam 1.5 mg ≈ diazepam 10 mg
gives 20/3 mg DE per mg); convert to Decimal only for display.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction
from functools import cache
from pathlib import Path

from taper.errors import TaperInputError

DATA_DIR = Path(__file__).parent / "data"
DIAZEPAM = "diazepam"
REFERENCE_DIAZEPAM_MG = Fraction(10)


class Status(StrEnum):
    VERIFIED = "V"
    SECONDARY = "S"
    UNVERIFIED = "U"


class EquivalenceTable(StrEnum):
    """The two columns printed side by side in JGIM-2025 Table 7; the guideline does not choose."""

    ASHTON = "ashton"
    VA_DOD = "va_dod"

    @property
    def label(self) -> str:
        return {"ashton": "Ashton (2002, rev. 2007)", "va_dod": "VA/DoD SUD CPG 2021"}[self.value]


class FormKind(StrEnum):
    TABLET = "tablet"
    CAPSULE = "capsule"
    ORAL_LIQUID = "oral_liquid"


class Split(StrEnum):
    NONE = "none"
    HALVES = "halves"
    QUARTERS = "quarters"  # quarters implies halves too

    @property
    def smallest_fraction(self) -> Fraction:
        return {"none": Fraction(1), "halves": Fraction(1, 2), "quarters": Fraction(1, 4)}[self.value]


@dataclass(frozen=True)
class Equivalence:
    """mg of the drug ≈ oral diazepam 10 mg in one table; `mg` is None when the table lacks the drug."""

    table: EquivalenceTable
    mg: Fraction | None
    range_mg: tuple[Fraction, Fraction] | None
    status: Status | None
    source: str | None
    note: str | None


@dataclass(frozen=True)
class Formulation:
    id: str
    drug: str
    kind: FormKind
    strength_mg: Fraction | None  # per tablet/capsule; None for liquids
    split: Split
    mg_per_ml: Fraction | None  # liquids only
    status: Status  # of the strength/concentration fact
    source: str | None
    split_status: Status | None
    split_source: str | None
    note: str | None = None
    stocked_by_default: bool = True  # False: a strength few pharmacies keep, offered once a clinic stocks it

    @property
    def is_liquid(self) -> bool:
        return self.kind == FormKind.ORAL_LIQUID

    @property
    def unverified(self) -> bool:
        return self.status == Status.UNVERIFIED or (
            not self.is_liquid and self.split != Split.NONE and self.split_status == Status.UNVERIFIED
        )

    def describe(self) -> str:
        if self.is_liquid:
            return f"{self.drug} oral liquid {_fmt(self.mg_per_ml)} mg/mL"
        split = "" if self.split == Split.NONE else f", may be split in {self.split.value}"
        return f"{self.drug} {_fmt(self.strength_mg)} mg {self.kind.value}{split}"


@dataclass(frozen=True)
class HalfLife:
    parent_hours: tuple[int, int] | None
    active_metabolite_hours: tuple[int, int] | None
    half_life_class: str  # short | intermediate | long (derived by Stepdown: see meta.half_life_class_rule)
    status: Status
    source: str


@dataclass(frozen=True)
class Drug:
    name: str
    drug_class: str  # benzodiazepine | z-drug
    equivalences: tuple[Equivalence, ...]
    half_life: HalfLife
    formulations: tuple[Formulation, ...]
    notes: str | None

    def equivalence(self, table: EquivalenceTable) -> Equivalence:
        return next(e for e in self.equivalences if e.table == table)

    def de_per_mg(self, table: EquivalenceTable) -> Fraction:
        """Diazepam-equivalent mg per 1 mg of this drug; TaperInputError if the table lacks the drug."""
        eq = self.equivalence(table)
        if eq.mg is None:
            raise TaperInputError(
                "table", f"{self.name} is not listed in the {table.label} column; choose the other table"
            )
        return REFERENCE_DIAZEPAM_MG / eq.mg


@dataclass(frozen=True)
class EquivalentDose:
    """A converted dose with the provenance a page must show next to it."""

    drug: str
    mg: Fraction
    diazepam_mg: Fraction
    table: EquivalenceTable
    status: Status
    source: str
    note: str | None

    @property
    def unverified(self) -> bool:
        return self.status == Status.UNVERIFIED


@dataclass(frozen=True)
class Catalogue:
    drugs: dict[str, Drug]
    liquid_measure_step_ml: Fraction
    liquid_measure_step_status: Status
    meta: dict

    def drug(self, name: str) -> Drug:
        try:
            return self.drugs[name.strip().lower()]
        except (KeyError, AttributeError):
            raise TaperInputError(
                "drug", f"unknown drug {name!r}; known: {', '.join(sorted(self.drugs))}"
            ) from None

    def formulation(self, formulation_id: str) -> Formulation:
        for drug in self.drugs.values():
            for form in drug.formulations:
                if form.id == formulation_id:
                    return form
        raise TaperInputError("available_formulations", f"unknown formulation {formulation_id!r}")

    def all_formulation_ids(self) -> tuple[str, ...]:
        return tuple(f.id for d in self.drugs.values() for f in d.formulations)

    def default_stock(self) -> frozenset[str]:
        """The formulations a pharmacy is assumed to stock until a clinic's formulary says otherwise."""
        return frozenset(f.id for d in self.drugs.values() for f in d.formulations if f.stocked_by_default)


def _fmt(value: Fraction | None) -> str:
    if value is None:
        return "-"
    return f"{float(value):g}"


def _frac(value) -> Fraction | None:
    return None if value is None else Fraction(str(value))


def _status(value) -> Status | None:
    return None if value is None else Status(value)


def _range(value) -> tuple | None:
    return None if not value else tuple(value)


def _load_drug(name: str, raw: dict) -> Drug:
    equivalences = tuple(
        Equivalence(
            table=table,
            mg=_frac(raw["equivalence_mg_per_diazepam_10mg"][table.value]["mg"]),
            range_mg=_range(
                [_frac(x) for x in raw["equivalence_mg_per_diazepam_10mg"][table.value]["range_mg"] or []]
            ),
            status=_status(raw["equivalence_mg_per_diazepam_10mg"][table.value]["status"]),
            source=raw["equivalence_mg_per_diazepam_10mg"][table.value]["source"],
            note=raw["equivalence_mg_per_diazepam_10mg"][table.value]["note"],
        )
        for table in EquivalenceTable
    )
    hl = raw["half_life_hours"]
    half_life = HalfLife(
        parent_hours=_range(hl["parent"]),
        active_metabolite_hours=_range(hl["active_metabolite"]),
        half_life_class=raw["half_life_class"],
        status=Status(hl["status"]),
        source=hl["source"],
    )
    formulations = []
    for f in raw["formulations"]:
        liquid = f["kind"] == FormKind.ORAL_LIQUID
        formulations.append(
            Formulation(
                id=f["id"],
                drug=name,
                kind=FormKind(f["kind"]),
                strength_mg=None if liquid else _frac(f["strength_mg"]),
                split=Split.NONE if liquid else Split(f["split"]),
                mg_per_ml=_frac(f["mg_per_ml"]) if liquid else None,
                status=Status(f["status"] if liquid else f["strength_status"]),
                source=f["source"] if liquid else f["strength_source"],
                split_status=None if liquid else Status(f["split_status"]),
                split_source=None if liquid else f["split_source"],
                note=f.get("note"),
                stocked_by_default=bool(f.get("stocked_by_default", True)),
            )
        )
    return Drug(
        name=name,
        drug_class=raw["class"],
        equivalences=equivalences,
        half_life=half_life,
        formulations=tuple(formulations),
        notes=raw.get("notes"),
    )


@cache
def load_catalogue() -> Catalogue:
    raw = json.loads((DATA_DIR / "benzodiazepines.json").read_text())
    step = raw["meta"]["liquid_measure_step_ml"]
    return Catalogue(
        drugs={name: _load_drug(name, d) for name, d in raw["drugs"].items()},
        liquid_measure_step_ml=Fraction(step["value"]),
        liquid_measure_step_status=Status(step["status"]),
        meta=raw["meta"],
    )


def diazepam_equivalent(drug: str, mg, table: EquivalenceTable) -> EquivalentDose:
    """Convert `mg` of `drug` to diazepam-equivalent mg in `table`, carrying the value's status and source.

    Estimates only (JGIM-2025 p.18: "the doses are guidance only"); a page showing the result names the table.
    """
    if not isinstance(table, EquivalenceTable):
        raise TaperInputError("table", f"unknown equivalence table {table!r}")
    entry = load_catalogue().drug(drug)
    try:
        amount = Fraction(str(mg))
    except (ValueError, ZeroDivisionError):
        raise TaperInputError("mg", f"not a number: {mg!r}") from None
    if amount < 0:
        raise TaperInputError("mg", "must not be negative")
    eq = entry.equivalence(table)
    return EquivalentDose(
        drug=entry.name,
        mg=amount,
        diazepam_mg=amount * entry.de_per_mg(table),
        table=table,
        status=eq.status,
        source=eq.source,
        note=eq.note,
    )


def with_formulations(catalogue: Catalogue, extra: tuple[Formulation, ...]) -> Catalogue:
    """The catalogue plus formulations a clinic added (e.g. a strength its pharmacy compounds)."""
    if not extra:
        return catalogue
    drugs = dict(catalogue.drugs)
    for form in extra:
        drug = catalogue.drug(form.drug)
        drugs[drug.name] = replace(drugs[drug.name], formulations=(*drugs[drug.name].formulations, form))
    return replace(catalogue, drugs=drugs)
