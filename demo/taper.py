"""Demo taper plans: for the demo patients who report a benzodiazepine, plans in every state a psychiatrist
meets (active with weeks of recorded doses, one held, one awaiting approval, a draft, and a stopped plan
replaced by a new draft), built through the services by the clinic's demo psychiatrist. Synthetic only.

The patients who get daily check-ins (clinic/demo/checkins.py: the first few in treatment) get active
plans, so their check-ins record the day's dose; nurse-recorded doses stop where the check-ins begin.

Idempotent: a clinic that already has taper plans is left alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from clinic.actors import ActorLike
from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic, Membership
from clinic.tenancy.roles import Role
from patients.models import CareEpisode, Patient, ReportedMedication
from taper import selectors, services
from taper.models import TaperPlan

CHECKIN_PATIENTS = 3  # clinic/demo/checkins.py PATIENTS: the first patients in treatment
CHECKIN_DAYS = 14  # clinic/demo/checkins.py DAYS: check-ins record the dose on these days
# How each reported daily total is taken (synthetic, but achievable with the catalogue's tablets).
REGIMENS: dict[str, list[tuple[str, str]]] = {
    "alprazolam": [("1", "08:00"), ("1", "21:00")],
    "clonazepam": [("0.5", "08:00"), ("1", "21:00")],
    "lorazepam": [("1", "08:00"), ("1", "14:00"), ("1", "21:00")],
    "diazepam": [("10", "08:00"), ("10", "21:00")],
}
# States for the benzodiazepine patients who do not check in, in order.
OTHER_STATES = ("held", "proposed", "draft", "active", "replaced")


def _benzo_patients(patients: Sequence[Patient]) -> list[tuple[Patient, str]]:
    known = set(REGIMENS)
    by_patient: dict[Any, str] = {}
    for med in ReportedMedication.objects.filter(
        is_benzodiazepine=True, status=ReportedMedication.Status.CURRENT
    ).order_by("name"):
        drug = next((w for w in re.findall(r"[a-z]+", med.name.lower()) if w in known), None)
        if drug:
            by_patient.setdefault(med.patient_id, drug)
    return [(p, by_patient[p.pk]) for p in patients if p.pk in by_patient]


def _checkin_patient_ids(patients: Sequence[Patient]) -> set:
    """The same choice clinic/demo/checkins.py makes."""
    in_treatment = set(CareEpisode.objects.filter(ended_on__isnull=True).values_list("patient_id", flat=True))
    chosen = [p for p in patients if p.pk in in_treatment and p.status != Patient.Status.DISCHARGED]
    return {p.pk for p in chosen[:CHECKIN_PATIENTS]}


def _plan_input(drug: str, start: dt.date, **changes: Any) -> services.PlanInput:
    """The demo's plan: shorter-acting drugs are switched to diazepam first (their tablets are too coarse
    to keep the guideline cap near the end), diazepam is tapered directly. The daily dose is in the
    guideline's high band, so it is confirmed as a person would: by typing the daily DE shown."""
    values: dict[str, Any] = {
        "regimen": [{"drug": drug, "dose_mg": mg, "time_of_day": at} for mg, at in REGIMENS[drug]],
        "start_date": start,
        "rate_percent": Decimal(10),
        "interval_days": 14,
        "strategy": "direct" if drug == "diazepam" else "cross_titrate",
        "substitution_interval_days": None if drug == "diazepam" else 7,
        **changes,
    }
    data = services.PlanInput(**values)
    _, schedule = services.compute(data, today=min(start, selectors.clinic_today()))
    confirmed = f"{schedule.baseline_de_mg.numerator / schedule.baseline_de_mg.denominator:g}"
    return dataclasses.replace(data, high_dose_confirmation=confirmed if schedule.high_dose else "")


def _create(actor, patient, data: services.PlanInput, reason: str):
    """Built as it was on its first day (a demo plan may have started weeks ago)."""
    return services.plan_create(
        actor=actor,
        patient=patient,
        data=data,
        reason=reason,
        today=min(data.start_date, selectors.clinic_today()),
    )


def _approve(plan: TaperPlan, psychiatrist) -> TaperPlan:
    """Approved after reading the warnings shown (the approval records them)."""
    plan = TaperPlan.objects.select_related("current_version").get(pk=plan.pk)
    digest = services.warnings_digest(plan.current_version)
    return services.plan_approve(
        actor=psychiatrist, plan=plan, note="Reviewed with the patient", warnings_seen=digest
    )


def _record_doses(plan: TaperPlan, nurse: Any, *, start: dt.date, until: dt.date, rng: random.Random) -> int:
    """One nurse entry a day from `start` to `until` (inclusive): mostly as planned, now and then less."""
    created = 0
    day = start
    while day <= until:
        if rng.random() < 0.1:
            step = selectors.step_in(plan.current_version, day)
            taken = {drug: Decimal(mg) * Decimal("0.75") for drug, mg in step.daily_mg_by_drug.items()}
            services.dose_record(actor=nurse, plan=plan, day=day, source="nurse", mg_by_drug=taken,
                                 note="Took less: felt drowsy")  # fmt: skip
        else:
            services.dose_record(actor=nurse, plan=plan, day=day, source="nurse", as_planned=True)
        created += 1
        day += dt.timedelta(days=1)
    return created


def _active(patient, drug, psychiatrist, *, start: dt.date, reason: str) -> TaperPlan:
    plan = _create(psychiatrist, patient, _plan_input(drug, start), reason)
    _approve(plan, psychiatrist)
    return services.plan_activate(actor=psychiatrist, plan=plan)


def seed_taper(*, clinic: Clinic, actor: ActorLike, patients: Sequence[Patient], rng: random.Random) -> int:
    """`actor` is the clinic's demo psychiatrist. Returns how many rows (plans and dose records) were made."""
    if actor is None:
        return 0
    with tenant_context(clinic):
        if TaperPlan.objects.exists():
            return 0
        nurse_row = (
            Membership.objects.filter(clinic=clinic, roles__contains=[Role.NURSE.value])
            .select_related("user")
            .order_by("created_at")
            .first()
        )
        nurse = nurse_row.user if nurse_row else actor
        today = selectors.clinic_today()
        yesterday = today - dt.timedelta(days=1)
        checkin_ids = _checkin_patient_ids(patients)
        created = 0
        others = 0
        checking_in = 0
        for patient, drug in _benzo_patients(patients):
            if patient.pk in checkin_ids:
                start = today - dt.timedelta(days=35 + 7 * checking_in)
                checking_in += 1
                plan = _active(patient, drug, actor, start=start, reason="Agreed at the intake review")
                # Check-ins record the last two weeks; the nurse recorded the weeks before.
                created += 1 + _record_doses(
                    plan, nurse, start=start, until=today - dt.timedelta(days=CHECKIN_DAYS + 1), rng=rng
                )
                continue
            if others >= len(OTHER_STATES):
                continue
            state = OTHER_STATES[others]
            others += 1
            if state in ("held", "active"):
                start = today - dt.timedelta(days=42 if state == "held" else 28)
                plan = _active(patient, drug, actor, start=start, reason="Agreed at the intake review")
                created += 1 + _record_doses(plan, nurse, start=start, until=yesterday, rng=rng)
                if state == "held":
                    held_from = today - dt.timedelta(days=4)
                    services.plan_hold(
                        actor=actor,
                        plan=plan,
                        from_date=held_from,
                        days=None,
                        reason="Rebound anxiety and poor sleep after the last step; hold at the current dose",
                        today=held_from,  # recorded when it happened
                    )
            elif state == "proposed":
                plan = _create(nurse, patient, _plan_input(drug, today + dt.timedelta(days=7)),
                               "Drafted by nursing after the admission assessment")  # fmt: skip
                services.plan_propose(actor=nurse, plan=plan)
                created += 1
            elif state == "draft":
                _create(nurse, patient, _plan_input(drug, today + dt.timedelta(days=14)),
                        "First draft; doses to confirm with the patient")  # fmt: skip
                created += 1
            elif state == "replaced":
                old = _active(
                    patient, drug, actor, start=today - dt.timedelta(days=60), reason="First attempt"
                )
                services.plan_close(
                    actor=actor, plan=old, outcome="stopped",
                    reason="Readmitted to PHP; restart at a slower pace from the current dose",
                )  # fmt: skip
                slower = _plan_input(drug, today + dt.timedelta(days=3), rate_percent=Decimal(5))
                _create(actor, patient, slower, "Restart at 5% every two weeks")
                created += 2
        return created
