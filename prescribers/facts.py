"""The medication list as the co-prescription rules read it (prescribers/rules.py facts).

safety/corx.py adds what lives above this layer (alcohol in check-ins) and raises the alerts; the
medication form uses the same facts to say, before saving, what an order would newly raise.
"""

from __future__ import annotations

from collections.abc import Sequence

from prescribers import rules
from prescribers.models import Prescriber
from prescribers.selectors import MedicationLine


def plan_fact(lines: Sequence[MedicationLine]) -> rules.PlanFact | None:
    program = [line for line in lines if line.kind == "program" and line.steps]
    if not program:
        return None
    first = program[0]
    steps = tuple(
        rules.PlanStep(start=start, end=end, mg_by_drug=dict(doses)) for start, end, doses in first.steps
    )
    return rules.PlanFact(plan_id=first.id.split(":")[0], label=first.sig, steps=steps)


def _covered_by_a_fill(line: MedicationLine, fills: Sequence[MedicationLine]) -> bool:
    """An order that a PDMP fill of the same drug from the same prescriber dispenses: the fill is the fact
    (counting both would double the MME and the overlap)."""
    return any(
        fill.ingredient == line.ingredient
        and fill.prescriber_key == line.prescriber_key
        and line.start is not None
        and fill.start is not None
        and fill.start >= line.start
        and (line.end is None or fill.start <= line.end)
        for fill in fills
    )


def medication_facts(lines: Sequence[MedicationLine]) -> tuple[rules.MedicationFact, ...]:
    fills = [line for line in lines if line.kind == "dispensation" and line.prescriber_key]
    facts = []
    for line in lines:
        if line.kind == "program" or line.start is None:
            continue
        if line.kind == "medication" and line.prescriber_key and _covered_by_a_fill(line, fills):
            continue
        facts.append(
            rules.MedicationFact(
                id=line.id,
                kind=line.kind,
                ingredient=line.ingredient or None,
                drug_class=line.drug_class or None,
                start=line.start,
                end=line.end,
                daily_amount=line.daily_amount,
                mme_per_day=line.mme_per_day,
                prescriber_key=line.prescriber_key,
                prescriber_label=line.prescriber_label,
                pharmacy_key=line.pharmacy_key,
                pharmacy_label=line.pharmacy_label,
                program=line.program,
                label=line.label,
                indication=line.indication,
            )
        )
    return tuple(facts)


def program_prescriber_keys() -> frozenset[str]:
    """The program's own prescribers: never counted as an extra prescriber (multiple-provider episodes)."""
    return frozenset(p.key for p in Prescriber.objects.filter(in_program=True))
