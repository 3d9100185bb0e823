"""Which doses a pharmacy can actually dispense, and how (tablet pieces or mL of liquid).

A dose per administration is achievable if it is
- a sum of whole tablets/capsules (at most MAX_WHOLE_UNITS) plus at most one half piece and one quarter
  piece, halves only from tablets the catalogue marks splittable in halves or quarters, quarters only from
  tablets splittable in quarters; or
- a whole number of liquid measuring steps (mg/mL x the measuring step in mL).
The grid keeps the two forms apart: an administration given as tablets is reduced along the tablet doses and
one given as liquid along the liquid doses, so a patient never flips between the two step after step. A
change of form is the engine's (or the user's) deliberate step, flagged on the schedule.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from taper.catalogue import Formulation, Split

MAX_WHOLE_UNITS = 8


@dataclass(frozen=True)
class Preparation:
    """How to make one administration's dose: tablet counts by formulation id, or mL of one liquid."""

    tablets: tuple[tuple[str, Fraction], ...] = ()
    liquid: tuple[str, Fraction] | None = None  # (formulation id, mL)


NOTHING = Preparation()


def _tablet_doses(tablets: list[Formulation], limit: Fraction) -> dict[Fraction, dict[str, Fraction]]:
    # Breadth-first over the number of whole units, so each sum keeps its fewest-units recipe.
    ordered = sorted(tablets, key=lambda f: (-f.strength_mg, f.id))
    best: dict[Fraction, dict[str, Fraction]] = {Fraction(0): {}}
    frontier = [Fraction(0)]
    for _ in range(MAX_WHOLE_UNITS):
        nxt = []
        for total in frontier:
            for form in ordered:
                new = total + form.strength_mg
                if new <= limit and new not in best:
                    recipe = dict(best[total])
                    recipe[form.id] = recipe.get(form.id, Fraction(0)) + 1
                    best[new] = recipe
                    nxt.append(new)
        frontier = nxt
    pieces: list[tuple[Fraction, dict[str, Fraction]]] = []
    for form in ordered:
        if form.split in (Split.HALVES, Split.QUARTERS):
            pieces.append((form.strength_mg / 2, {form.id: Fraction(1, 2)}))
        if form.split == Split.QUARTERS:
            pieces.append((form.strength_mg / 4, {form.id: Fraction(1, 4)}))
    halves = [p for p in pieces if next(iter(p[1].values())) == Fraction(1, 2)]
    quarters = [p for p in pieces if next(iter(p[1].values())) == Fraction(1, 4)]
    extras: list[tuple[Fraction, dict[str, Fraction]]] = list(pieces)
    for h_mg, h in halves:
        for q_mg, q in quarters:
            merged = dict(h)
            for k, v in q.items():
                merged[k] = merged.get(k, Fraction(0)) + v
            extras.append((h_mg + q_mg, merged))
    result = dict(best)
    for whole_total, recipe in sorted(best.items()):
        for extra_mg, extra in extras:
            new = whole_total + extra_mg
            if new <= limit and new not in result:
                merged = dict(recipe)
                for k, v in extra.items():
                    merged[k] = merged.get(k, Fraction(0)) + v
                result[new] = merged
    return result


class Form(StrEnum):
    """How one administration is given. A dose stays in its form until a deliberate, visible change."""

    TABLET = "tablet"  # tablets or capsules, whole or split
    LIQUID = "liquid"


class DoseGrid:
    """The achievable doses per administration for one drug with the stocked formulations, per form."""

    def __init__(self, formulations: list[Formulation], limit: Fraction, measure_step_ml: Fraction):
        self.formulations = tuple(formulations)
        tablets = [f for f in formulations if not f.is_liquid]
        liquids = sorted((f for f in formulations if f.is_liquid), key=lambda f: (f.mg_per_ml, f.id))
        self._preps: dict[Form, dict[Fraction, Preparation]] = {Form.TABLET: {}, Form.LIQUID: {}}
        if tablets:
            for mg, recipe in _tablet_doses(tablets, limit).items():
                prep = Preparation(tablets=tuple(sorted((k, v) for k, v in recipe.items() if v)))
                self._preps[Form.TABLET][mg] = prep
        if liquids:
            # The most dilute liquid gives the finest steps.
            liquid = liquids[0]
            step_mg = liquid.mg_per_ml * measure_step_ml
            k = 0
            while step_mg * k <= limit:
                mg = step_mg * k
                self._preps[Form.LIQUID][mg] = (
                    Preparation(liquid=(liquid.id, mg / liquid.mg_per_ml)) if k else NOTHING
                )
                k += 1
        for preps in self._preps.values():
            if preps:
                preps[Fraction(0)] = NOTHING
        self._doses = {form: sorted(preps) for form, preps in self._preps.items()}

    def has(self, form: Form) -> bool:
        return bool(self._doses[form])

    def doses(self, form: Form) -> list[Fraction]:
        """Achievable doses in `form`, ascending, starting with 0 (empty if the form is not stocked)."""
        return self._doses[form]

    def contains(self, mg: Fraction, form: Form) -> bool:
        return mg in self._preps[form]

    def __contains__(self, mg: Fraction) -> bool:
        return any(mg in preps for preps in self._preps.values())

    def natural_form(self, mg: Fraction) -> Form | None:
        """Tablets when they make the dose (simpler for the patient), else the liquid, else None."""
        for form in (Form.TABLET, Form.LIQUID):
            if mg in self._preps[form]:
                return form
        return None

    def preparation(self, mg: Fraction, form: Form) -> Preparation:
        return self._preps[form][mg]

    def below(self, mg: Fraction, form: Form) -> list[Fraction]:
        """Achievable doses in `form` strictly below `mg`, highest first."""
        doses = self._doses[form]
        return doses[: bisect.bisect_left(doses, mg)][::-1]

    def next_lower(self, mg: Fraction, form: Form) -> Fraction | None:
        doses = self._doses[form]
        i = bisect.bisect_left(doses, mg)
        return doses[i - 1] if i > 0 else None

    def nearest(self, mg: Fraction, form: Form) -> Fraction | None:
        """Nearest achievable dose in `form` (a tie goes to the lower); None if the form is not stocked."""
        doses = self._doses[form]
        if not doses:
            return None
        i = bisect.bisect_left(doses, mg)
        if i < len(doses) and doses[i] == mg:
            return mg
        below = doses[i - 1] if i > 0 else None
        above = doses[i] if i < len(doses) else None
        if above is None:
            return below
        if below is None:
            return above
        return below if mg - below <= above - mg else above

    def largest(self, form: Form) -> Fraction:
        doses = self._doses[form]
        return doses[-1] if doses else Fraction(0)

    def smallest_nonzero(self, form: Form) -> Fraction | None:
        doses = self._doses[form]
        return doses[1] if len(doses) > 1 else None
