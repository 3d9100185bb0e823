"""The drug table (prescribers/data/drugs.json): ingredient → class and RxNorm code. Pure: no Django import.

Co-prescription rules reason about classes (benzodiazepine, opioid, Z-drug, …), so every medication row is
classified once, when it is written, from this table: by RxNorm ingredient code when the source sent one,
otherwise by the ingredient or a brand name found in the drug's text. A name the table does not know stays
unclassified (and the medication list says so) rather than being guessed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "drugs.json"

# When a combination product names two ingredients (buprenorphine/naloxone, oxycodone/acetaminophen), the
# one that matters for safety is the first of these classes found.
CLASS_PRIORITY = (
    "opioid",
    "oud_medication",
    "benzodiazepine",
    "z_drug",
    "barbiturate",
    "gabapentinoid",
    "muscle_relaxant",
    "other_cns_depressant",
    "opioid_antagonist",
)


class DrugTableError(ValueError):
    """drugs.json is malformed."""


@dataclass(frozen=True)
class DrugClass:
    code: str
    label: str
    cns_depressant: bool


@dataclass(frozen=True)
class Drug:
    ingredient: str
    drug_class: str
    rxcui: str | None
    rxcui_status: str
    source: str
    names: tuple[str, ...]

    @property
    def class_label(self) -> str:
        return classes()[self.drug_class].label

    @property
    def label(self) -> str:
        return self.ingredient.capitalize()


@dataclass(frozen=True)
class DrugTable:
    version: int
    classes: dict[str, DrugClass]
    drugs: tuple[Drug, ...]
    sources: dict[str, str]


@lru_cache(maxsize=1)
def table() -> DrugTable:
    raw = json.loads(DATA.read_text())
    known = {
        code: DrugClass(code, spec["label"], bool(spec["cns_depressant"]))
        for code, spec in raw["classes"].items()
    }
    if set(known) != set(CLASS_PRIORITY):
        raise DrugTableError(f"classes must be exactly {CLASS_PRIORITY}")
    drugs, seen = [], set()
    for entry in raw["ingredients"]:
        name = entry["ingredient"]
        if name != name.lower() or name in seen:
            raise DrugTableError(f"ingredient {name!r} must be lower case and listed once")
        if entry["class"] not in known:
            raise DrugTableError(f"{name}: unknown class {entry['class']!r}")
        if entry["rxcui_status"] not in ("V", "S", "U"):
            raise DrugTableError(f"{name}: rxcui_status must be V, S or U")
        if entry["source"] not in raw["sources"]:
            raise DrugTableError(f"{name}: unknown source {entry['source']!r}")
        seen.add(name)
        drugs.append(
            Drug(
                ingredient=name,
                drug_class=entry["class"],
                rxcui=entry["rxcui"],
                rxcui_status=entry["rxcui_status"],
                source=entry["source"],
                names=tuple(n.lower() for n in entry["names"]),
            )
        )
    return DrugTable(version=int(raw["version"]), classes=known, drugs=tuple(drugs), sources=raw["sources"])


def classes() -> dict[str, DrugClass]:
    return table().classes


def by_ingredient(name: str) -> Drug | None:
    return _by_ingredient().get((name or "").strip().lower())


def by_rxcui(code: str | None) -> Drug | None:
    return _by_rxcui().get((code or "").strip())


@lru_cache(maxsize=1)
def _by_ingredient() -> dict[str, Drug]:
    return {drug.ingredient: drug for drug in table().drugs}


@lru_cache(maxsize=1)
def _by_rxcui() -> dict[str, Drug]:
    return {drug.rxcui: drug for drug in table().drugs if drug.rxcui}


@lru_cache(maxsize=1)
def _name_pattern() -> re.Pattern[str]:
    names = sorted({n for d in table().drugs for n in (d.ingredient, *d.names)}, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")\b", re.IGNORECASE)


@lru_cache(maxsize=1)
def _by_name() -> dict[str, Drug]:
    return {name: drug for drug in table().drugs for name in (drug.ingredient, *drug.names)}


def match_text(text: str) -> Drug | None:
    """The ingredient a drug description names ("Oxycodone HCl 10 MG Oral Tablet", "Xanax 1 mg"), or None.
    A combination product answers its most safety-relevant ingredient (CLASS_PRIORITY)."""
    found = {_by_name()[m.group(1).lower()] for m in _name_pattern().finditer(text or "")}
    if not found:
        return None
    return min(found, key=lambda d: (CLASS_PRIORITY.index(d.drug_class), d.ingredient))


def identify(*, rxcui: str | None = None, text: str = "") -> Drug | None:
    """Classify a drug: its RxNorm ingredient code first, then its text."""
    return by_rxcui(rxcui) or match_text(text)
