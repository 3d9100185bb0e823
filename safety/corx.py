"""Unsafe co-prescription: gather the facts, run the pure rules (prescribers/rules.py), raise alerts.

Called after a medication or PDMP fill is saved (prescribers.signals.medications_changed → a job) and by
the nightly sweep, clinic by clinic in batches of patients. Either way the facts of a batch are read in a
fixed number of queries (the medication list of every patient in the batch, their alcohol reports, the
program's own prescribers and the clinic's thresholds), whatever the batch size. Alerts go through
`alerts_raise`, whose dedup key (rule, patient, episode) makes on-save and sweep the same single alert.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone

from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic
from patients.models import ReportedMedication, SubstanceUse
from prescribers import rules
from prescribers.facts import medication_facts, plan_fact, program_prescriber_keys
from prescribers.models import Dispensation, Medication
from prescribers.selectors import PROGRAM_STATUSES, MedicationLine, medication_lines
from prescribers.services import prescribing_settings
from safety.findings import Finding, dedup_key
from taper.models import TaperPlan
from vitals.checkins.models import CheckIn

# How far back facts are read. An episode's first day is its dedup event, so the history must reach the
# start of any episode still going on: at least 400 days, longer when the clinic's multiple-provider
# window plus the recent window needs it. An episode running unbroken for longer than that would be
# keyed afresh: one more alert, never a missed one.
HISTORY_DAYS = 400
BATCH = 500


def _history_since(today: dt.date, thresholds: rules.Thresholds) -> dt.date:
    return today - dt.timedelta(days=max(HISTORY_DAYS, thresholds.mpe.window_days + thresholds.recent_days))


def clinic_thresholds() -> rules.Thresholds:
    return rules.thresholds_for(prescribing_settings().overrides)


def _alcohol(patient_ids: Sequence[uuid.UUID], since: dt.date) -> dict[uuid.UUID, list[rules.AlcoholFact]]:
    found: dict[uuid.UUID, list[rules.AlcoholFact]] = defaultdict(list)
    checkins = CheckIn.objects.filter(patient_id__in=patient_ids, alcohol=True, local_date__gte=since)
    for pk, patient_id, day in checkins.values_list("pk", "patient_id", "local_date"):
        found[patient_id].append(
            rules.AlcoholFact(
                id=str(pk), kind="checkin", day=day, label=f"Check-in {day:%Y-%m-%d}: drank alcohol"
            )
        )
    uses = SubstanceUse.objects.filter(
        patient_id__in=patient_ids, category=SubstanceUse.Category.ALCOHOL, last_used_on__gte=since
    )
    for pk, patient_id, day in uses.values_list("pk", "patient_id", "last_used_on"):
        found[patient_id].append(
            rules.AlcoholFact(
                id=str(pk), kind="intake", day=day, label=f"Intake: alcohol, last used {day:%Y-%m-%d}"
            )
        )
    return found


def patient_facts(
    patient_ids: Iterable[uuid.UUID], *, today: dt.date, thresholds: rules.Thresholds
) -> list[rules.PatientFacts]:
    ids = [uuid.UUID(str(pid)) for pid in patient_ids]
    since = _history_since(today, thresholds)
    lines = medication_lines(ids, since=since)
    alcohol = _alcohol(ids, since)
    excluded = program_prescriber_keys()
    return [
        rules.PatientFacts(
            patient_id=str(pid),
            today=today,
            medications=medication_facts(lines[pid]),
            plan=plan_fact(lines[pid]),
            alcohol=tuple(alcohol.get(pid, ())),
            excluded_prescribers=excluded,
        )
        for pid in ids
    ]


def order_findings(
    patient_id: uuid.UUID, proposed: MedicationLine, *, today: dt.date, thresholds: rules.Thresholds
) -> list[rules.CoRxFinding]:
    """What saving `proposed` (a new order, or an edit keeping its row's id) would newly raise for this
    patient: the rules' order-select entry point, on the same facts the sweep reads."""
    (facts,) = patient_facts([patient_id], today=today, thresholds=thresholds)
    (fact,) = medication_facts([proposed]) or (None,)
    return [] if fact is None else rules.check_order(facts, fact, thresholds)


def _occurred_at(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=zone)


def findings_for(
    facts: Sequence[rules.PatientFacts], thresholds: rules.Thresholds, zone: ZoneInfo
) -> list[Finding]:
    found = []
    for patient in facts:
        for item in rules.evaluate(patient, thresholds):
            found.append(
                Finding(
                    rule_id=item.rule_id,
                    patient_id=uuid.UUID(patient.patient_id),
                    dedup_key=dedup_key(item.rule_id, patient.patient_id, item.event),
                    evidence=item.evidence,
                    occurred_at=_occurred_at(item.occurred_on, zone),
                )
            )
    return found


def evaluate_patients(
    *, clinic: Clinic, patient_ids: Iterable[uuid.UUID | str], now: dt.datetime | None = None
) -> list:
    """Raise the co-prescription alerts these patients' medications call for; returns the new alerts."""
    from safety.services import alerts_raise

    now = now or timezone.now()
    zone = ZoneInfo(clinic.timezone)
    today = now.astimezone(zone).date()
    with tenant_context(clinic):
        thresholds = clinic_thresholds()
        facts = patient_facts(patient_ids, today=today, thresholds=thresholds)
        return alerts_raise(clinic=clinic, findings=findings_for(facts, thresholds, zone), now=now)


@dataclass(frozen=True)
class SweepResult:
    patients: int
    batches: int
    raised: int

    def as_json(self) -> dict[str, int]:
        return {"patients": self.patients, "batches": self.batches, "raised": self.raised}


def patients_with_recent_medications(*, since: dt.date) -> list[uuid.UUID]:
    """Patients any rule could fire for: an order or fill that covered a day on or after `since`, a
    medicine they report taking, or a taper plan in effect (alcohol while on the plan's benzodiazepine).
    One query: a UNION of four index-backed selects."""
    ordered = Medication.objects.filter(Q(end_on__isnull=True) | Q(end_on__gte=since)).values("patient_id")
    filled = Dispensation.objects.filter(supply_end__gte=since).values("patient_id")
    reported = ReportedMedication.objects.filter(status=ReportedMedication.Status.CURRENT).values(
        "patient_id"
    )
    planned = TaperPlan.objects.filter(status__in=PROGRAM_STATUSES).values("patient_id")
    return sorted(set(ordered.union(filled, reported, planned).values_list("patient_id", flat=True)))


def sweep_clinic(*, clinic: Clinic, now: dt.datetime | None = None) -> SweepResult:
    """Every patient of the clinic with medications in the recent window, in batches of BATCH."""
    now = now or timezone.now()
    zone = ZoneInfo(clinic.timezone)
    with tenant_context(clinic):
        thresholds = clinic_thresholds()
        today = now.astimezone(zone).date()
        since = today - dt.timedelta(days=max(thresholds.recent_days, thresholds.mpe.window_days))
        ids = patients_with_recent_medications(since=since)
    raised = batches = 0
    for start in range(0, len(ids), BATCH):
        raised += len(evaluate_patients(clinic=clinic, patient_ids=ids[start : start + BATCH], now=now))
        batches += 1
    return SweepResult(patients=len(ids), batches=batches, raised=raised)


__all__ = ["SweepResult", "evaluate_patients", "order_findings", "patient_facts", "sweep_clinic"]
