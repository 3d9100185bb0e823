"""Strength, unit and dose form from a drug's text, as RxNorm names and PDMP reports write it. Pure.

    "oxycodone hydrochloride 10 MG Oral Tablet"                         → 10 mg, tablet
    "Oxycodone Hydrochloride 5 MG / Acetaminophen 325 MG Oral Tablet"   → 5 mg (the identified ingredient's)
    "fentanyl 0.025 MG/HR Transdermal System", "fentanyl 25 MCG/HR"     → 25 mcg/h, patch
    "methadone hydrochloride 10 MG/ML Oral Solution"                     → 10 mg/mL, solution
    "Xanax 1 mg tablet", "alprazolam 0.5mg"                              → 1 mg tablet, 0.5 mg (no form)

Units are converted only exactly (MCG → mg / 1000, MG/HR → mcg/h * 1000, MG/5ML → mg/mL / 5). Anything
this cannot tie to the ingredient without guessing answers None: strengths written as a list
("Percocet 10/325 mg", "10-325"), a combination whose parts do not each carry one strength, a unit it does
not convert (MG/ACTUAT, MG/24HR, %, UNT), two strengths for one ingredient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from prescribers import drugs

from .records import StrengthUnit, plain

_NUM = r"(?:\d+(?:\.\d+)?|\.\d+)"
_MASS = r"(?:mcg|µg|ug|mg|g)"
# A strength: number, mass unit, and optionally a denominator written without spaces ("MG/ML", "MG/5ML",
# "MCG/HR"). " / " with spaces separates ingredients (RxNorm), so it is never read as a denominator.
_STRENGTH = re.compile(
    rf"(?<![\w.])(?P<num>{_NUM})\s*(?P<mass>{_MASS})(?![a-z])"
    rf"(?:/(?P<per_num>{_NUM})?\s?(?P<per>[a-z]+))?",
    re.IGNORECASE,
)
# Several strengths in one run ("10/325 mg", "10-325 MG", "5 mg/325 mg"): their order is the ingredients'
# order in the name, which a parser cannot rely on, so these answer no strength at all.
_LIST = re.compile(
    rf"(?<![\w.]){_NUM}\s*{_MASS}?\s*[-/]\s*{_NUM}\s*{_MASS}(?![a-z])(?!\s?/)",
    re.IGNORECASE,
)
# Ingredient separators once strengths are masked: "/" (RxNorm " / " or "oxycodone/apap"), "with", "and",
# "+", and a hyphen between words ("oxycodone-acetaminophen").
_SEPARATOR = re.compile(r"\s*/\s*|\s+with\s+|\s+and\s+|\s*\+\s*|(?<=[a-z])-(?=[a-z])", re.IGNORECASE)
_MASK = re.compile(r"\x00(\d+)\x00")
# Hyphens that join a word to its modifier, not two ingredients ("extended-release"); blanked in place.
_MODIFIER_HYPHEN = re.compile(
    r"(?<=[a-z])-(?=(release|acting|disintegrating|coated|free|dose|strength)\b)", re.IGNORECASE
)

_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (form, re.compile(pattern, re.IGNORECASE))
    for form, pattern in (
        ("patch", r"transdermal|\bpatch(es)?\b"),
        ("injection", r"\binject(ion|able)\b|prefilled syringe|\bcartridge\b|auto-?injector"),
        ("film", r"\bfilms?\b"),
        ("capsule", r"\bcapsules?\b|\bcaps?\b"),
        ("tablet", r"\btablets?\b|\btabs?\b|\bodt\b"),
        ("suspension", r"\bsuspension\b|\bsusp\b"),
        ("solution", r"\bsolution\b|\bconcentrate\b|\belixir\b|\bsyrup\b|\boral liquid\b|\bsoln?\b"),
        ("spray", r"\bspray\b"),
        ("lozenge", r"\blozenges?\b|\btroches?\b"),
        ("suppository", r"\bsuppositor(y|ies)\b"),
        ("implant", r"\bimplant\b"),
    )
)

_TO_MG = {
    "mg": Decimal(1),
    "mcg": Decimal("0.001"),
    "µg": Decimal("0.001"),
    "ug": Decimal("0.001"),
    "g": Decimal(1000),
}


@dataclass(frozen=True)
class Product:
    strength: Decimal | None
    strength_unit: StrengthUnit
    form: str


@dataclass(frozen=True)
class Described:
    """A drug text read whole: the ingredient that matters for safety (prescribers.drugs), its class, and
    that ingredient's strength and the product's form."""

    ingredient: str | None
    drug_class: str | None
    strength: Decimal | None
    strength_unit: StrengthUnit
    form: str


def form_of(text: str) -> str:
    for form, pattern in _FORMS:
        if pattern.search(text or ""):
            return form
    return ""


def convert(
    number: Decimal, mass: str, per_number: Decimal | None, per: str
) -> tuple[Decimal, StrengthUnit] | None:
    """(strength, unit) for a number with a mass unit and an optional denominator, or None when the unit
    is not one Stepdown converts exactly."""
    factor = _TO_MG.get(mass.lower())
    if factor is None:
        return None
    mg = number * factor
    per = per.lower()
    if not per:
        return plain(mg), "mg"
    if per_number is not None and per_number <= 0:
        return None
    if per == "ml":
        return plain(mg / (per_number or 1)), "mg/mL"
    if per in ("hr", "h") and per_number in (None, 1):
        return plain(mg * 1000), "mcg/h"
    return None


def parse(text: str, *, ingredient: str | None = None) -> Product:
    """The strength of `ingredient` (default: the one prescribers.drugs finds in the text) and the form."""
    text = _MODIFIER_HYPHEN.sub(" ", text or "")
    form = form_of(text)
    if _LIST.search(text):
        return Product(None, "", form)
    matches = list(_STRENGTH.finditer(text))
    if not matches:
        return Product(None, "", form)
    drug = drugs.by_ingredient(ingredient) if ingredient else drugs.match_text(text)
    chosen = _strength_for(text, matches, drug)
    if chosen is None:
        return Product(None, "", form)
    per_num = chosen["per_num"]
    converted = convert(
        Decimal(chosen["num"]), chosen["mass"], Decimal(per_num) if per_num else None, chosen["per"] or ""
    )
    if converted is None:
        return Product(None, "", form)
    return Product(converted[0], converted[1], form)


def _strength_for(text: str, matches: list[re.Match[str]], drug: drugs.Drug | None) -> re.Match[str] | None:
    masked, last = [], 0
    for i, m in enumerate(matches):
        masked.append(text[last : m.start()])
        masked.append(f"\x00{i}\x00")
        last = m.end()
    masked.append(text[last:])
    segments = [s for s in _SEPARATOR.split("".join(masked)) if s.strip()]
    if len(segments) <= 1:
        # One ingredient named: its one strength, or nothing when two strengths compete.
        return matches[0] if len(matches) == 1 else None
    if drug is None:
        return None
    names = (drug.ingredient, *drug.names)
    # A combination: every part must carry exactly one strength, so each strength belongs to one name.
    strengths = [[int(i) for i in _MASK.findall(s)] for s in segments]
    if any(len(found) != 1 for found in strengths):
        return None
    own = [i for i, s in enumerate(segments) if _names(s, names)]
    if len(own) != 1:
        return None
    return matches[strengths[own[0]][0]]


def _names(segment: str, names: tuple[str, ...]) -> bool:
    return any(re.search(rf"\b{re.escape(n)}\b", segment, re.IGNORECASE) for n in names)


def describe(text: str, *, rxnorm: str = "", alternatives: tuple[str, ...] = ()) -> Described:
    """Classify a dispensed drug and read its product from `text`; when the text gives no strength or form
    (a report's own shorthand), the first of `alternatives` that does (e.g. the RxNorm display) is used."""
    drug = drugs.identify(rxcui=rxnorm or None, text=" ".join((text, *alternatives)))
    ingredient = drug.ingredient if drug else None
    product = parse(text, ingredient=ingredient)
    for other in alternatives:
        if product.strength is not None and product.form:
            break
        fallback = parse(other, ingredient=ingredient)
        product = Product(
            product.strength if product.strength is not None else fallback.strength,
            product.strength_unit if product.strength is not None else fallback.strength_unit,
            product.form or fallback.form,
        )
    return Described(
        ingredient=ingredient,
        drug_class=drug.drug_class if drug else None,
        strength=product.strength,
        strength_unit=product.strength_unit,
        form=product.form,
    )
