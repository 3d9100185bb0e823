"""Reads for the medication list, the prescriber registry and coordination; query counts are fixed (no
per-row queries).

`medication_lines(patient_ids)` is the one list of everything a patient takes, from every source: what
they reported (patients.ReportedMedication), orders staff entered or an EHR sent (Medication), fills
the state PDMP reported (Dispensation) and the program's own taper plan. The page, the API and the
co-prescription rules all read it, so they cannot disagree.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db.models import Q

from patients.models import ReportedMedication
from prescribers import drugs, identifiers, mme
from prescribers.models import (
    CoordinationEntry,
    CoordinationTask,
    Dispensation,
    Medication,
    PatientPrescriber,
    PdmpImport,
    Prescriber,
)
from taper.models import TaperPlan, TaperStep

PROGRAM_STATUSES = (TaperPlan.Status.APPROVED, TaperPlan.Status.ACTIVE)
KIND_LABELS = {
    "program": "Taper plan (this program)",
    "medication": "Order",
    "dispensation": "PDMP fill",
    "reported": "Reported by the patient",
}


@dataclass(frozen=True)
class MedicationLine:
    """One row of the medication list, whatever its source."""

    kind: str  # program | medication | dispensation | reported
    id: str
    patient_id: uuid.UUID
    drug_text: str
    ingredient: str  # "" when the drug table does not know it
    drug_class: str
    start: datetime.date | None
    end: datetime.date | None  # inclusive; None = continuing
    sig: str
    daily_amount: Decimal | None  # mg/day of the ingredient (mcg/h for a patch)
    mme_per_day: Decimal | None
    mme_reason: str  # why there is no MME, when an opioid has none
    prescriber_id: str | None
    prescriber_key: str | None
    prescriber_label: str
    pharmacy_key: str | None
    pharmacy_label: str
    program: bool
    source_label: str
    provenance: str = ""
    as_needed: bool = False
    indication: str = ""
    steps: tuple[tuple[datetime.date, datetime.date | None, tuple[tuple[str, Decimal], ...]], ...] = field(
        default=()
    )

    @property
    def class_label(self) -> str:
        return drugs.classes()[self.drug_class].label if self.drug_class else "Not classified"

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    def active_on(self, day: datetime.date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)

    @property
    def label(self) -> str:
        bits = [self.drug_text]
        if self.sig:
            bits.append(self.sig)
        if self.kind == "dispensation" and self.start:
            bits.append(f"PDMP fill {self.start:%Y-%m-%d}")
        return " — ".join(bits)


# The ingredient is already resolved from the drug table, so no RxNorm code is passed on: a row's code is
# often a product (SCD) code, which the MME table rightly refuses as an ingredient code.
def _order_mme(order: mme.MedicationOrder | None) -> tuple[Decimal | None, str]:
    if order is None:
        return None, "strength, dose or frequency missing"
    result = mme.daily_mme([order]).per_order[0]
    return result.mme, ("" if result.mme is not None else result.reason or "")


def _medication_order(m: Medication) -> mme.MedicationOrder | None:
    if not m.ingredient or m.strength is None or m.dose is None or m.doses_per_day is None or not m.dose_unit:
        return None
    try:
        return mme.MedicationOrder(
            ingredient=m.ingredient,
            strength=Decimal(m.strength),
            strength_unit=m.strength_unit or "mg",
            dose=Decimal(m.dose),
            dose_unit=m.dose_unit,
            doses_per_day=Decimal(m.doses_per_day),
            as_needed=m.as_needed,
            indication=m.indication or None,
        )
    except (TypeError, ValueError):
        return None


def _dispensation_order(d: Dispensation) -> mme.MedicationOrder | None:
    """A fill's daily use as the MME function reads it: the daily amount as one dose a day (a patch: its
    rate, one patch worn)."""
    if not d.ingredient or d.daily_amount is None:
        return None
    patch = d.strength_unit == "mcg/h"
    try:
        return mme.MedicationOrder(
            ingredient=d.ingredient,
            strength=Decimal(d.strength if patch and d.strength is not None else d.daily_amount),
            strength_unit="mcg/h" if patch else "mg",
            dose=Decimal(1) if patch else Decimal(d.daily_amount),
            dose_unit="patch" if patch else "mg",
            doses_per_day=Decimal(1),
        )
    except (TypeError, ValueError):
        return None


def _sig(m: Medication) -> str:
    if m.sig:
        return m.sig
    parts = []
    if m.dose is not None:
        parts.append(f"{m.dose.normalize():f} {m.get_dose_unit_display()}")
    if m.doses_per_day is not None:
        parts.append(f"{m.doses_per_day.normalize():f}× a day")
    if m.as_needed:
        parts.append("as needed")
    return " ".join(parts)


def _strength(value: Decimal | None, unit: str) -> str:
    return f"{value.normalize():f} {unit}" if value is not None else ""


def medication_line(m: Medication) -> MedicationLine:
    """A medication as a list line; also for an order not saved yet (the form's order check)."""
    return _medication_line(m) if m.pk else replace(_medication_line(m), id="proposed")


def _says_strength(text: str, strength: str) -> bool:
    """Whether the drug as written already names its strength ("Alprazolam 1 mg tablet" and "1 mg"), so
    the line does not repeat it; "11 mg" or "0.1 mg" is not "1 mg"."""
    if not strength:
        return True
    number, _, unit = strength.partition(" ")
    pattern = rf"(?<![\d.]){re.escape(number)}\s*{re.escape(unit)}(?![a-z])"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _medication_line(m: Medication) -> MedicationLine:
    mme_value, reason = _order_mme(_medication_order(m)) if m.drug_class == "opioid" else (None, "")
    daily = None
    if m.dose is not None and m.doses_per_day is not None:
        per_dose = m.dose * (m.strength or 1) if m.dose_unit in ("tablet", "capsule", "mL") else m.dose
        daily = per_dose * m.doses_per_day if m.dose_unit != "patch" else m.strength
    strength = _strength(m.strength, m.strength_unit)
    text = m.drug_text if _says_strength(m.drug_text, strength) else f"{m.drug_text} {strength}".strip()
    return MedicationLine(
        kind="medication",
        id=str(m.pk),
        patient_id=m.patient_id,
        drug_text=text,
        ingredient=m.ingredient,
        drug_class=m.drug_class,
        start=m.start_on,
        end=m.end_on,
        sig=_sig(m),
        daily_amount=daily,
        mme_per_day=mme_value,
        mme_reason=reason,
        prescriber_id=str(m.prescriber_id) if m.prescriber_id else None,
        prescriber_key=m.prescriber.key if m.prescriber else None,
        prescriber_label=m.prescriber.display_name if m.prescriber else "",
        pharmacy_key=m.pharmacy.key if m.pharmacy else None,
        pharmacy_label=m.pharmacy.name if m.pharmacy else "",
        program=bool(m.prescriber and m.prescriber.in_program),
        source_label=m.get_source_display(),
        provenance=m.provenance or m.entered_by_label,
        as_needed=m.as_needed,
        indication=m.indication,
    )


def _dispensation_line(d: Dispensation) -> MedicationLine:
    mme_value, reason = _order_mme(_dispensation_order(d)) if d.drug_class == "opioid" else (None, "")
    if d.reported_mme is not None and mme_value is None and d.drug_class == "opioid":
        reason = f"{reason}; the PDMP reported {d.reported_mme.normalize():f} MME/day".strip("; ")
    quantity = f"{d.quantity.normalize():f} {d.quantity_unit}".strip()
    return MedicationLine(
        kind="dispensation",
        id=str(d.pk),
        patient_id=d.patient_id,
        drug_text=d.drug_text,
        ingredient=d.ingredient,
        drug_class=d.drug_class,
        start=d.filled_on,
        end=d.supply_end,
        sig=f"{quantity} for {d.days_supply} days",
        daily_amount=d.daily_amount,
        mme_per_day=mme_value,
        mme_reason=reason,
        prescriber_id=str(d.prescriber_id) if d.prescriber_id else None,
        prescriber_key=d.prescriber.key if d.prescriber else None,
        prescriber_label=d.prescriber.display_name if d.prescriber else d.prescriber_name,
        pharmacy_key=d.pharmacy.key if d.pharmacy else None,
        pharmacy_label=d.pharmacy.name if d.pharmacy else d.pharmacy_name,
        program=bool(d.prescriber and d.prescriber.in_program),
        source_label=f"PDMP {d.pdmp_import.state}",
        provenance=f"Imported {d.pdmp_import.created_at:%Y-%m-%d} by {d.pdmp_import.imported_by_label}",
    )


def _reported_line(r: ReportedMedication) -> MedicationLine:
    drug = drugs.match_text(r.name)
    return MedicationLine(
        kind="reported",
        id=str(r.pk),
        patient_id=r.patient_id,
        drug_text=" ".join(p for p in (r.name, r.strength) if p),
        ingredient=drug.ingredient if drug else "",
        drug_class=drug.drug_class if drug else "",
        start=r.reported_on,
        end=None if r.status == ReportedMedication.Status.CURRENT else r.reported_on,
        sig=r.dose_frequency,
        daily_amount=None,
        mme_per_day=None,
        mme_reason="reported by the patient: no structured dose"
        if drug and drug.drug_class == "opioid"
        else "",
        prescriber_id=None,
        prescriber_key=None,
        prescriber_label=r.prescriber_name,
        pharmacy_key=None,
        pharmacy_label="",
        program=False,
        source_label=r.get_source_display(),
    )


def _program_lines(
    plans: Iterable[TaperPlan], steps: dict[uuid.UUID, list[TaperStep]]
) -> list[MedicationLine]:
    lines = []
    for plan in plans:
        plan_steps = steps.get(plan.current_version_id, [])
        if not plan_steps:
            continue
        by_drug: dict[str, list[TaperStep]] = defaultdict(list)
        for step in plan_steps:
            for drug_name, mg in step.daily_mg_by_drug.items():
                if Decimal(mg) > 0:
                    by_drug[drug_name].append(step)
        schedule = tuple(
            (s.start, s.end, tuple(sorted((d, Decimal(mg)) for d, mg in s.daily_mg_by_drug.items())))
            for s in plan_steps
        )
        for drug_name, drug_steps in sorted(by_drug.items()):
            drug = drugs.by_ingredient(drug_name)
            last = drug_steps[-1]
            lines.append(
                MedicationLine(
                    kind="program",
                    id=f"{plan.pk}:{drug_name}",
                    patient_id=plan.patient_id,
                    drug_text=drug_name.capitalize(),
                    ingredient=drug_name,
                    drug_class=drug.drug_class if drug else "benzodiazepine",
                    start=drug_steps[0].start,
                    end=last.end,
                    sig=f"Taper plan v{plan.current_version.number}, {plan.get_status_display().lower()}",
                    daily_amount=None,
                    mme_per_day=None,
                    mme_reason="",
                    prescriber_id=None,
                    prescriber_key=None,
                    prescriber_label="This program",
                    pharmacy_key=None,
                    pharmacy_label="",
                    program=True,
                    source_label=KIND_LABELS["program"],
                    steps=schedule,
                )
            )
    return lines


def medication_lines(
    patient_ids: Iterable[uuid.UUID], *, since: datetime.date | None = None
) -> dict[uuid.UUID, list[MedicationLine]]:
    """Every patient's medication list, in five queries whatever the number of patients or rows. With
    `since`, only rows that still covered a day on or after it (plus current ones)."""
    ids = list(patient_ids)
    out: dict[uuid.UUID, list[MedicationLine]] = {pid: [] for pid in ids}
    if not ids:
        return out
    medications = Medication.objects.filter(patient_id__in=ids).select_related("prescriber", "pharmacy")
    # The kept report itself (often tens of KB) is never needed to list its fills.
    fills = (
        Dispensation.objects.filter(patient_id__in=ids)
        .select_related("prescriber", "pharmacy", "pdmp_import")
        .defer("pdmp_import__raw", "pdmp_import__pdf")
    )
    reported = ReportedMedication.objects.filter(patient_id__in=ids)
    if since is not None:
        medications = medications.filter(Q(end_on__isnull=True) | Q(end_on__gte=since))
        fills = fills.filter(supply_end__gte=since)
        reported = reported.filter(status=ReportedMedication.Status.CURRENT)
    plans = list(
        TaperPlan.objects.filter(patient_id__in=ids, status__in=PROGRAM_STATUSES).select_related(
            "current_version"
        )
    )
    steps: dict[uuid.UUID, list[TaperStep]] = defaultdict(list)
    for step in TaperStep.objects.filter(version_id__in=[p.current_version_id for p in plans]).order_by(
        "index"
    ):
        steps[step.version_id].append(step)
    lines = [
        *_program_lines(plans, steps),
        *map(_medication_line, medications),
        *map(_dispensation_line, fills),
        *map(_reported_line, reported),
    ]
    for line in lines:
        out[line.patient_id].append(line)
    for pid in out:
        out[pid].sort(key=_line_order)
    return out


def _line_order(line: MedicationLine) -> tuple:
    kinds = ("program", "medication", "dispensation", "reported")
    classes = drugs.CLASS_PRIORITY
    return (
        kinds.index(line.kind),
        classes.index(line.drug_class) if line.drug_class in classes else len(classes),
        -(line.start.toordinal() if line.start else 0),
        line.drug_text,
    )


def medication_list(patient) -> list[MedicationLine]:
    return medication_lines([patient.pk])[patient.pk]


def line_of(row: Medication | Dispensation) -> MedicationLine:
    """One order's or fill's line, built exactly as `medication_lines` builds it (the API shows each row's
    MME from it). No query when the row was loaded with its prescriber and pharmacy (a fill: and its
    pdmp_import)."""
    return _medication_line(row) if isinstance(row, Medication) else _dispensation_line(row)


@dataclass(frozen=True)
class MMETotal:
    total: Decimal | None
    complete: bool
    missing: list[str]


def current_mme(lines: Iterable[MedicationLine], day: datetime.date) -> MMETotal:
    """Today's MME/day over the opioid lines active on `day`; those that cannot be converted are named."""
    total, missing, counted = Decimal(0), [], False
    for line in lines:
        if line.drug_class != "opioid" or not line.active_on(day):
            continue
        if line.mme_per_day is None:
            missing.append(f"{line.drug_text}: {line.mme_reason or 'not convertible'}")
        else:
            total += line.mme_per_day
            counted = True
    return MMETotal(total=total if counted else None, complete=not missing, missing=missing)


# --- prescribers ----------------------------------------------------------------------------------------
def prescriber_list(*, query: str = "", include_inactive: bool = False):
    prescribers = Prescriber.objects.all()
    if not include_inactive:
        prescribers = prescribers.filter(is_active=True)
    query = (query or "").strip()
    if query:
        prescribers = prescribers.filter(
            Q(last_name__icontains=query)
            | Q(first_name__icontains=query)
            | Q(npi=query)
            | Q(dea__iexact=query)
            | Q(practice__icontains=query)
        )
    return prescribers.order_by("last_name", "first_name", "id")


def prescriber_duplicates(*, npi: str = "", dea: str = "", exclude=None) -> list[Prescriber]:
    """Registry records (active or not) that already carry this NPI or DEA number: the page links to them."""
    npi, dea = identifiers.clean(npi), identifiers.clean(dea)
    match = Q(pk__in=[])
    if npi:
        match |= Q(npi=npi)
    if dea:
        match |= Q(dea=dea)
    found = Prescriber.objects.filter(match)
    if exclude is not None:
        found = found.exclude(pk=getattr(exclude, "pk", exclude))
    return list(found.order_by("last_name", "first_name", "id"))


def prescriber_patients(prescriber) -> list[PatientPrescriber]:
    """The patients this prescriber is a current prescriber of record for."""
    return list(
        PatientPrescriber.objects.filter(prescriber=prescriber, until__isnull=True)
        .select_related("patient")
        .order_by("patient__last_name", "patient__first_name", "role", "id")
    )


def prescriber_recent(prescriber, *, since: datetime.date, limit: int = 50):
    """Orders entered for this prescriber and PDMP fills they wrote that covered a day since `since`,
    newest first: (orders, fills), two queries."""
    orders = list(
        Medication.objects.filter(prescriber=prescriber)
        .filter(Q(end_on__isnull=True) | Q(end_on__gte=since))
        .select_related("patient", "pharmacy")
        .order_by("-start_on", "id")[:limit]
    )
    fills = list(
        Dispensation.objects.filter(prescriber=prescriber, supply_end__gte=since)
        .select_related("patient", "pharmacy", "pdmp_import")
        .order_by("-filled_on", "id")[:limit]
    )
    return orders, fills


def prescribers_of_record(patient) -> list[PatientPrescriber]:
    return list(
        PatientPrescriber.objects.filter(patient=patient, until__isnull=True).select_related("prescriber")
    )


def benzodiazepine_prescriber_of_record(patient) -> PatientPrescriber | None:
    return (
        PatientPrescriber.objects.filter(
            patient=patient, role=PatientPrescriber.Role.BENZODIAZEPINE, until__isnull=True
        )
        .select_related("prescriber")
        .first()
    )


BENZO_ACTIVE_WINDOW_DAYS = 90  # a benzodiazepine fill or order that covered a day in the last 90 days


def benzodiazepine_prescribers(patient, *, today: datetime.date) -> list[tuple[Prescriber, str]]:
    """Registered prescribers of this patient's benzodiazepines whose orders or fills covered a day in the
    last 90 days, each with what shows it ("alprazolam filled 2026-11-02")."""
    since = today - datetime.timedelta(days=BENZO_ACTIVE_WINDOW_DAYS)
    evidence: dict[str, str] = {}
    for line in medication_lines([patient.pk], since=since)[patient.pk]:
        if (
            line.drug_class == "benzodiazepine"
            and line.prescriber_id
            and line.kind in ("medication", "dispensation")
        ):
            verb = "filled" if line.kind == "dispensation" else "ordered"
            evidence.setdefault(line.prescriber_id, f"{line.ingredient} {verb} {line.start:%Y-%m-%d}")
    prescribers = Prescriber.objects.in_bulk(list(evidence))
    return [
        (prescribers[uuid.UUID(pid)], why) for pid, why in evidence.items() if uuid.UUID(pid) in prescribers
    ]


def coordination(patient) -> tuple[list[CoordinationEntry], list[CoordinationTask]]:
    entries = list(
        CoordinationEntry.objects.filter(patient=patient).select_related("prescriber", "disclosure")[:200]
    )
    tasks = list(
        CoordinationTask.objects.filter(patient=patient)
        .select_related("prescriber")
        .order_by("status", "due_on", "id")
    )
    return entries, tasks


def tasks_opened_for(link: PatientPrescriber) -> list[CoordinationTask]:
    """The consolidation tasks naming this benzodiazepine prescriber of record (opened when it was set)."""
    return list(
        CoordinationTask.objects.filter(
            patient_id=link.patient_id,
            reason_key__startswith="consolidate:",
            reason_key__endswith=f":{link.pk}",
        )
        .select_related("prescriber")
        .order_by("due_on", "id")
    )


def open_tasks_due_count(*, until: datetime.date) -> int:
    return CoordinationTask.objects.filter(status=CoordinationTask.Status.OPEN, due_on__lte=until).count()


def open_tasks_due(*, until: datetime.date, limit: int = 50):
    """Open coordination tasks due by `until`, oldest first (the Today page)."""
    return (
        CoordinationTask.objects.filter(status=CoordinationTask.Status.OPEN, due_on__lte=until)
        .select_related("patient", "prescriber")
        .order_by("due_on", "id")[:limit]
    )


def pdmp_imports(patient) -> list[PdmpImport]:
    return list(PdmpImport.objects.filter(patient=patient).defer("raw", "pdf").order_by("-created_at"))
