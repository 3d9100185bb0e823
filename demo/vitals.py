"""Demo vitals and scores: three weeks of synthetic readings, CIWA-B, PHQ-9 and GAD-7 for a few patients in
treatment, recorded through the services (so each has its audit event and classification). Synthetic only.

Idempotent: a clinic that already has vital readings is left alone.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from collections.abc import Sequence

from django.utils import timezone

from clinic.actors import ActorLike
from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic
from patients.models import CareEpisode, Patient
from vitals.models import VitalReading
from vitals.services import instrument_result_record, vitals_record

DAYS = 21
PATIENTS = 4


def _at(clinic: Clinic, days_ago: int, hour: int, minute: int) -> dt.datetime:
    zone = zoneinfo.ZoneInfo(clinic.timezone)
    day = timezone.localtime(timezone.now(), zone).date() - dt.timedelta(days=days_ago)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone)


def _answers(rng: random.Random, items: int, level: float, top: int, zero: tuple[str, ...] = ()) -> dict:
    """Answers around `level` (0..1 of the scale), never above `top`; items in `zero` answered 0."""
    answers = {}
    for n in range(1, items + 1):
        value = round(level * top + rng.uniform(-1, 1))
        answers[str(n)] = 0 if str(n) in zero else max(0, min(top, value))
    return answers


def seed_vitals(*, clinic: Clinic, actor: ActorLike, patients: Sequence[Patient], rng: random.Random) -> int:
    """Readings every two or three days and weekly scores; returns how many rows were created."""
    with tenant_context(clinic):
        if VitalReading.objects.exists():
            return 0
        in_treatment = set(
            CareEpisode.objects.filter(ended_on__isnull=True).values_list("patient_id", flat=True)
        )
        chosen = [p for p in patients if p.pk in in_treatment][:PATIENTS]
        taken_by = (getattr(actor, "full_name", "") or "Demo nurse") if actor else "Demo nurse"
        created = 0
        for index, patient in enumerate(chosen):
            # One patient's withdrawal drifts up (more to see on the flowsheet); the others settle.
            rising = index == 0
            sbp, dbp, hr = rng.randint(112, 134), rng.randint(70, 84), rng.randint(62, 84)
            days_ago = DAYS
            while days_ago >= 1:
                trend = (DAYS - days_ago) / DAYS
                bump = int(12 * trend) if rising else 0
                values = {
                    "systolic_bp": sbp + bump + rng.randint(-6, 6),
                    "diastolic_bp": dbp + bump // 2 + rng.randint(-4, 4),
                    "heart_rate": hr + bump + rng.randint(-5, 5),
                    "respiratory_rate": rng.randint(13, 18),
                    "temperature": f"{rng.uniform(36.3, 37.2):.1f}",
                    "spo2": rng.randint(96, 99),
                }
                if days_ago % 7 == 0:
                    values["weight"] = f"{rng.uniform(60, 95):.1f}"
                vitals_record(
                    actor=actor,
                    patient=patient,
                    taken_at=_at(clinic, days_ago, rng.randint(9, 11), rng.choice((0, 15, 30, 45))),
                    values=values,
                    position="sitting",
                    taken_by=taken_by,
                    source="clinic",
                    confirm_unusual=True,
                    on_oxygen=False,
                    consciousness="A",
                )
                created += 1
                days_ago -= rng.choice((2, 3))
            for week, days_ago in enumerate((DAYS - 1, DAYS - 8, DAYS - 15, 2)):
                level = 0.3 + 0.1 * week if rising else max(0.05, 0.35 - 0.1 * week)
                instrument_result_record(
                    actor=actor,
                    patient=patient,
                    instrument="ciwa_b",
                    answers=_answers(rng, 20, level, 4),
                    completed_at=_at(clinic, days_ago, 10, 30),
                    source="clinic",
                )
                created += 1
                if week % 2 == 0:
                    for instrument, items in (("phq9", 9), ("gad7", 7)):
                        instrument_result_record(
                            actor=actor,
                            patient=patient,
                            instrument=instrument,
                            answers=_answers(rng, items, level * 0.8, 3, zero=("9",)),
                            completed_at=_at(clinic, days_ago, 10, 45),
                            source="clinic",
                        )
                        created += 1
        return created
