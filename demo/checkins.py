"""Demo daily check-ins: a personal link and two weeks of synthetic check-ins for a few patients in
treatment, submitted through the service (so each has its audit event, guidance, flags and — when the
patient has an active taper plan — the day's dose record). Synthetic only.

Idempotent: a patient who already has a check-in link is left alone. Today is left open, so whoever runs
the demo can check in with the printed link.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.utils import timezone

from clinic.actors import ActorLike
from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic
from patients.models import CareEpisode, Patient
from vitals.checkins import rules, services
from vitals.checkins.models import CheckInLink
from vitals.checkins.selectors import checkin_link_path, day_plan

DAYS = 14
PATIENTS = 3
LINK_DAYS = 30


def _answers(rng: random.Random, *, worse: float, plan) -> dict[str, Any]:
    """A day's answers; `worse` (0..1) pushes symptoms, anxiety and cravings up."""
    form = rules.symptom_form()
    top = form.max_rating
    symptoms = {item.id: max(0, min(top, round(rng.uniform(-0.8, 1.2) + 2 * worse))) for item in form.items}
    status = "no_plan"
    doses: dict[str, Decimal] = {}
    if plan is not None:
        status = rng.choices(["taken_as_planned", "took_less", "missed"], weights=[90, 6, 4])[0]
        if status == "took_less":
            doses = {drug: (mg / 2).quantize(Decimal("0.5")) for drug, mg in plan.mg_by_drug.items()}
            if all(doses[d] == plan.mg_by_drug[d] for d in doses):
                status, doses = "taken_as_planned", {}
    return {
        "dose_status": status,
        "doses": doses,
        "symptoms": symptoms,
        "red_flags": {},
        "sleep_hours": Decimal(str(round(rng.uniform(4.5, 8.0) - 2 * worse, 1))).max(Decimal(2)),
        "sleep_quality": rng.choice(["good", "fair", "fair", "poor"] if worse < 0.5 else ["fair", "poor"]),
        "anxiety": max(0, min(10, round(rng.uniform(2, 5) + 5 * worse))),
        "cravings": max(0, min(10, round(rng.uniform(1, 4) + 4 * worse))),
        "alcohol": rng.random() < 0.05,
        "other_drugs": False,
        "other_drugs_text": "",
        "free_text": rng.choice(["", "", "", "Slept badly, busy week at work.", "Feeling steadier today."]),
    }


def seed_checkins(
    *, clinic: Clinic, actor: ActorLike, patients: Sequence[Patient], rng: random.Random
) -> int:
    """Returns how many rows (links and check-ins) were created."""
    zone = zoneinfo.ZoneInfo(clinic.timezone)
    with tenant_context(clinic):
        in_treatment = set(
            CareEpisode.objects.filter(ended_on__isnull=True).values_list("patient_id", flat=True)
        )
        chosen = [p for p in patients if p.pk in in_treatment and p.status != Patient.Status.DISCHARGED][
            :PATIENTS
        ]
        has_link = set(CheckInLink.objects.values_list("patient_id", flat=True))
        today = timezone.localtime(timezone.now(), zone).date()
        created = 0
        for index, patient in enumerate(chosen):
            if patient.pk in has_link:
                continue
            link = services.checkin_link_create(actor=actor, patient=patient, days=LINK_DAYS)
            # The link has been in use for the two weeks of history.
            opened = timezone.now() - dt.timedelta(days=DAYS + 1)
            CheckInLink.objects.filter(pk=link.pk).update(
                created_at=opened, expires_at=opened + dt.timedelta(days=LINK_DAYS)
            )
            link.refresh_from_db()
            created += 1
            for days_ago in range(DAYS, 0, -1):
                if rng.random() < 0.08:
                    continue  # a missed day now and then
                day = today - dt.timedelta(days=days_ago)
                at = dt.datetime.combine(day, dt.time(rng.randint(17, 21), rng.randint(0, 59)), tzinfo=zone)
                # The first patient has a harder second week (a taper step); the others settle.
                worse = max(0.0, (DAYS - days_ago - 6) / DAYS * 1.6) if index == 0 else 0.0
                plan = day_plan(patient=patient, day=day)
                services.checkin_submit(link=link, answers=_answers(rng, worse=worse, plan=plan), now=at)
                created += 1
        return created


def demo_checkin_paths(clinic: Clinic) -> list[tuple[str, str]]:
    """(patient first name, URL path) of the clinic's active demo check-in links, for the seed output."""
    with tenant_context(clinic):
        links = (
            CheckInLink.objects.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())
            .select_related("patient")
            .order_by("patient__mrn", "-created_at")
        )
        seen: dict = {}
        for link in links:
            seen.setdefault(link.patient_id, (link.patient.first_name, checkin_link_path(link)))
        return list(seen.values())
