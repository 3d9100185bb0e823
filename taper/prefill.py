"""The taper builder's first regimen: what the patient's record already says they take, as lines to check.

Two sources, read in two queries: the patient's current reported medications that are benzodiazepines
(brand names such as Xanax map to the generic through `patients.codes.BENZODIAZEPINE_BRANDS`) and the
benzodiazepine rows of the substance-use history that give a daily amount in mg (an inquiry converted to
a patient writes both, marked as reported at inquiry). The matching itself is pure (`regimen_from`).

One line per drug, at 08:00: the record gives a dose, not the times, so every line says where it came
from and what to check. When a medication and a substance-use row name the same drug, the medication's
strength wins if it is the strength of one dose ("1 mg"); a daily total ("2 mg a day") gives way to the
substance-use row's daily amount, which is a number rather than words.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from clinic.tenancy.context import clinic_today
from patients.codes import BENZODIAZEPINE_BRANDS
from patients.models import Patient, RecordSource, ReportedMedication, SubstanceUse
from taper.catalogue import load_catalogue
from taper.presentation import mg

TIME_OF_DAY = "08:00"
MEDICATIONS, HISTORY = "reported medications", "substance-use history"
# A substance-use row whose last use is older than this is history, not what the patient takes now.
CURRENT_USE_DAYS = 30

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_DAILY_TOTAL = re.compile(r"\bdaily\b|\btotal\b|\b(?:a|per)\s+day\b|/\s*day\b", re.IGNORECASE)
_FREQUENCY = re.compile(r"\btwice\b|\btimes\b|\b[bqt]\.?i\.?d\b|\bx\s*\d", re.IGNORECASE)


@dataclass(frozen=True)
class Reported:
    """One record row that names a catalogue benzodiazepine, as plain data."""

    drug: str  # taper catalogue name, e.g. "alprazolam"
    dose_mg: Decimal | None
    per_dose: bool  # the number is one dose's strength, not the day's total
    text: str  # what the record says, e.g. "Klonopin 1.5 mg total daily"
    where: str  # MEDICATIONS or HISTORY
    from_inquiry: bool


def _number(text: str) -> Decimal | None:
    match = _NUMBER.search(text or "")
    if not match:
        return None
    try:
        value = Decimal(match.group())
    except InvalidOperation:
        return None
    return value if value > 0 else None


def is_daily_total(strength: str) -> bool:
    """'2 mg a day', '1.5 mg total daily' are the day's total; '1 mg', '0.5 mg twice a day' are one dose."""
    return bool(_DAILY_TOTAL.search(strength)) and not _FREQUENCY.search(strength)


def catalogue_drug(name: str, drugs: Iterable[str]) -> str:
    """The catalogue drug a medication name names ('Xanax XR' → 'alprazolam'), or ''."""
    known = set(drugs)
    for word in re.findall(r"[a-z]+", name.lower()):
        generic = BENZODIAZEPINE_BRANDS.get(word, word)
        if generic in known:
            return generic
    return ""


def _from_medication(med: ReportedMedication, drugs: Iterable[str]) -> Reported | None:
    drug = catalogue_drug(med.name, drugs)
    if not drug:
        return None
    return Reported(
        drug=drug,
        dose_mg=_number(med.strength),
        per_dose=not is_daily_total(med.strength),
        text=" ".join(part for part in (med.name, med.strength, med.dose_frequency) if part),
        where=MEDICATIONS,
        from_inquiry=med.source == RecordSource.INQUIRY,
    )


def _from_substance_use(use: SubstanceUse) -> Reported:
    return Reported(
        drug=use.benzodiazepine,
        dose_mg=use.daily_amount,
        per_dose=False,
        text=f"{use.substance_name} {mg(use.daily_amount)} mg a day",
        where=HISTORY,
        from_inquiry=use.source == RecordSource.INQUIRY,
    )


def _describe(chosen: Reported, others: list[Reported]) -> str:
    where = "reported at first contact" if chosen.from_inquiry else f"from the {chosen.where}"
    if chosen.dose_mg is None:
        check = "give the dose and the time of day"
    elif chosen.per_dose:
        check = "check how many doses a day and when"
    else:
        check = "check how it is split over the day"
    text = f"{chosen.text} — {where}; {check}"
    differing = [
        other
        for other in others
        if other is not chosen and other.dose_mg is not None and other.dose_mg != chosen.dose_mg
    ]
    if differing:
        text += "; the record also says " + ", ".join(other.text for other in differing)
    return text


def _choose(found: list[Reported]) -> Reported:
    """A medication's per-dose strength, else a substance-use daily amount, else any dose, else the first."""
    with_dose = [r for r in found if r.dose_mg is not None]
    for wanted in (
        lambda r: r.where == MEDICATIONS and r.per_dose,
        lambda r: r.where == HISTORY,
        lambda r: True,
    ):
        for report in with_dose:
            if wanted(report):
                return report
    return found[0]


def regimen_from(reports: Iterable[Reported]) -> tuple[list[dict[str, str]], list[str]]:
    """Builder lines (one per drug, in the order the drugs first appear) and, per line, where it came from."""
    by_drug: dict[str, list[Reported]] = {}
    for report in reports:
        by_drug.setdefault(report.drug, []).append(report)
    lines: list[dict[str, str]] = []
    sources: list[str] = []
    for drug, found in by_drug.items():
        chosen = _choose(found)
        lines.append({"drug": drug, "dose_mg": mg(chosen.dose_mg), "time_of_day": TIME_OF_DAY})
        sources.append(_describe(chosen, found))
    return lines, sources


def reported_regimen(patient: Patient) -> tuple[list[dict[str, str]], list[str]]:
    """The builder's pre-filled regimen lines for `patient` and a plain-language source for each line."""
    drugs = load_catalogue().drugs
    medications = ReportedMedication.objects.filter(
        patient=patient, is_benzodiazepine=True, status=ReportedMedication.Status.CURRENT
    ).order_by("name", "created_at")
    since = clinic_today() - datetime.timedelta(days=CURRENT_USE_DAYS)
    uses = (
        SubstanceUse.objects.filter(
            patient=patient,
            category=SubstanceUse.Category.BENZODIAZEPINE,
            benzodiazepine__in=list(drugs),
            unit=SubstanceUse.Unit.MG,
            daily_amount__gt=0,
        )
        .exclude(last_used_on__lt=since)
        .order_by("created_at")
    )
    reports = [r for r in (_from_medication(med, drugs) for med in medications) if r is not None]
    reports += [_from_substance_use(use) for use in uses]
    return regimen_from(reports)
