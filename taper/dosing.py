"""Which doses a pharmacy can actually dispense, and how (tablet pieces or mL of liquid).

A dose per administration is achievable if it is
- a sum of whole tablets/capsules (at most MAX_WHOLE_UNITS) plus at most one half piece and one quarter
  piece, halves only from tablets the catalogue marks splittable in halves or quarters, quarters only from
  tablets splittable in quarters; or
- a whole number of liquid measuring steps (mg/mL x the measuring step in mL).
Tablets are preferred when both work (simpler for the patient); liquid covers the small doses at the end,
and once an administration has moved to liquid the engine keeps it there (no switching back and forth).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
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


class DoseGrid:
    """The achievable doses per administration for one drug with the stocked formulations."""

    def __init__(self, formulations: list[Formulation], limit: Fraction, measure_step_ml: Fraction):
        self.formulations = tuple(formulations)
        tablets = [f for f in formulations if not f.is_liquid]
        liquids = sorted((f for f in formulations if f.is_liquid), key=lambda f: (f.mg_per_ml, f.id))
        self._preps: dict[Fraction, Preparation] = {}
        self._liquid: dict[Fraction, Preparation] = {}
        for mg, recipe in _tablet_doses(tablets, limit).items():
            self._preps[mg] = Preparation(tablets=tuple(sorted((k, v) for k, v in recipe.items() if v)))
        if liquids:
            # The most dilute liquid gives the finest steps.
            liquid = liquids[0]
            step_mg = liquid.mg_per_ml * measure_step_ml
            k = 1
            while step_mg * k <= limit:
                mg = step_mg * k
                self._liquid[mg] = Preparation(liquid=(liquid.id, mg / liquid.mg_per_ml))
                self._preps.setdefault(mg, self._liquid[mg])
                k += 1
        self._preps[Fraction(0)] = NOTHING
        self.doses = sorted(self._preps)

    def __contains__(self, mg: Fraction) -> bool:
        return mg in self._preps

    def preparation(self, mg: Fraction, prefer_liquid: bool = False) -> Preparation:
        """Tablets when possible; liquid if asked and possible (keeps a patient on liquid once started)."""
        if prefer_liquid and mg in self._liquid:
            return self._liquid[mg]
        return self._preps[mg]

    def next_lower(self, mg: Fraction) -> Fraction | None:
        i = bisect.bisect_left(self.doses, mg)
        return self.doses[i - 1] if i > 0 else None

    def nearest(self, mg: Fraction) -> Fraction:
        """Nearest achievable dose; a tie goes to the lower dose."""
        i = bisect.bisect_left(self.doses, mg)
        if i < len(self.doses) and self.doses[i] == mg:
            return mg
        below = self.doses[i - 1] if i > 0 else None
        above = self.doses[i] if i < len(self.doses) else None
        if above is None:
            return below
        if below is None:
            return above
        return below if mg - below <= above - mg else above

    @property
    def smallest_nonzero(self) -> Fraction | None:
        return self.doses[1] if len(self.doses) > 1 else None
