"""Plain-language dose instructions for patients (the taper calendar): no Django, no jargon.

A stored step dose is `{drug, time, mg, de_mg, tablets: [[formulation_id, count]], liquid: [id, ml] | None}`
(see taper.version_fields.step_row). For a patient that becomes "1 tablet of diazepam 5 mg and ½ tablet of
diazepam 2 mg" at "8 am" — counts of the tablets they hold in their hand, or millilitres of a liquid,
never diazepam-equivalent milligrams.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from taper.catalogue import FormKind, Formulation

_PIECES = {Decimal("0.25"): "¼", Decimal("0.5"): "½", Decimal("0.75"): "¾"}
_UNIT = {FormKind.TABLET: ("tablet", "tablets"), FormKind.CAPSULE: ("capsule", "capsules")}

FormulationLookup = Callable[[str], Formulation | None]


def number(value: Any) -> str:
    """2.5, 10, 0.125: as people write a number (no trailing zeros, no exponent)."""
    text = f"{Decimal(str(value)).normalize():f}"
    return text


def pieces(value: Any) -> str:
    """A tablet count with halves and quarters as the fractions people read: 1½, ¼, 2, 0.3 (other)."""
    amount = Decimal(str(value))
    whole = int(amount)
    part = _PIECES.get(amount - whole)
    if part:
        return f"{whole}{part}" if whole else part
    return number(amount)


def time_phrase(value: str | datetime.time) -> str:
    """'08:00' → '8 am', '21:30' → '9:30 pm', '12:00' → '12 noon', '00:00' → 'midnight'."""
    at = value if isinstance(value, datetime.time) else datetime.time.fromisoformat(str(value))
    if at.hour == 0 and at.minute == 0:
        return "midnight"
    if at.hour == 12 and at.minute == 0:
        return "12 noon"
    hour = at.hour % 12 or 12
    suffix = "am" if at.hour < 12 else "pm"
    minutes = f":{at.minute:02d}" if at.minute else ""
    return f"{hour}{minutes} {suffix}"


def _strength(form: Formulation) -> str:
    return f"{number(Decimal(form.strength_mg.numerator) / Decimal(form.strength_mg.denominator))} mg"


def _concentration(form: Formulation) -> str:
    value = Decimal(form.mg_per_ml.numerator) / Decimal(form.mg_per_ml.denominator)
    return f"{number(value)} mg in each mL"


def tablet_phrase(form: Formulation | None, count: Any, drug: str) -> str:
    """'1 tablet of diazepam 5 mg', '½ tablet of …', '1½ tablets of …', '2 capsules of …'."""
    amount = Decimal(str(count))
    if form is None or form.strength_mg is None:
        return f"{pieces(amount)} of your {drug} tablets"
    singular, plural = _UNIT.get(form.kind, ("tablet", "tablets"))
    unit = singular if amount <= 1 else plural
    return f"{pieces(amount)} {unit} of {form.drug} {_strength(form)}"


def liquid_phrase(form: Formulation | None, ml: Any, drug: str) -> str:
    """'2.5 mL of diazepam liquid (1 mg in each mL)'."""
    if form is None or form.mg_per_ml is None:
        return f"{number(ml)} mL of your {drug} liquid"
    return f"{number(ml)} mL of {form.drug} liquid ({_concentration(form)})"


def short_tablet_phrase(form: Formulation | None, count: Any, drug: str) -> str:
    """The calendar-square form: '1 diazepam 10 mg tablet', '1½ diazepam 5 mg tablets'."""
    amount = Decimal(str(count))
    if form is None or form.strength_mg is None:
        return f"{pieces(amount)} {drug} tablet{'s' if amount > 1 else ''}"
    singular, plural = _UNIT.get(form.kind, ("tablet", "tablets"))
    return f"{pieces(amount)} {form.drug} {_strength(form)} {singular if amount <= 1 else plural}"


def short_liquid_phrase(form: Formulation | None, ml: Any, drug: str) -> str:
    """The calendar-square form: '5.8 mL diazepam liquid'."""
    return f"{number(ml)} mL {form.drug if form is not None else drug} liquid"


def dose_phrase(dose: Mapping[str, Any], lookup: FormulationLookup, *, short: bool = False) -> str:
    """What to take for one stored dose, in the units the patient measures."""
    tablet = short_tablet_phrase if short else tablet_phrase
    liquid = short_liquid_phrase if short else liquid_phrase
    parts = [tablet(lookup(fid), count, dose["drug"]) for fid, count in dose.get("tablets") or ()]
    if dose.get("liquid"):
        fid, ml = dose["liquid"]
        parts.append(liquid(lookup(fid), ml, dose["drug"]))
    if not parts:
        # No preparation stored (should not happen): fall back to the dose itself, still in mg of the drug.
        parts.append(f"{number(dose['mg'])} mg of {dose['drug']}")
    return join_and(parts)


def join_and(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _taken(dose: Mapping[str, Any]) -> bool:
    try:
        return Decimal(str(dose["mg"])) > 0
    except (InvalidOperation, KeyError, ValueError):
        return False


@dataclass(frozen=True)
class TimeLine:
    time: str  # "8 am"
    what: str  # "1 tablet of diazepam 5 mg and ½ tablet of diazepam 2 mg"

    def __str__(self) -> str:
        return f"{self.what} at {self.time}"


def day_lines(
    doses: Iterable[Mapping[str, Any]], lookup: FormulationLookup, *, short: bool = False
) -> list[TimeLine]:
    """One line per time of day, in time order; doses of zero are left out (nothing to take)."""
    by_time: dict[str, list[str]] = {}
    for dose in sorted(doses, key=lambda d: (d["time"], d["drug"])):
        if _taken(dose):
            by_time.setdefault(dose["time"], []).append(dose_phrase(dose, lookup, short=short))
    return [TimeLine(time_phrase(at), join_and(parts)) for at, parts in by_time.items()]


def drugs_stopped(doses: Iterable[Mapping[str, Any]]) -> list[str]:
    """Drugs that appear in a step only with zero doses (the patient has stopped them)."""
    doses = list(doses)
    taken = {d["drug"] for d in doses if _taken(d)}
    return sorted({d["drug"] for d in doses} - taken)
