"""Demo admissions pipeline: inquiries in every stage, a couple closed, one or two admitted. Synthetic only.

Idempotent: a clinic that already has inquiries is left alone. Everything goes through the admissions
services (audited like real work); only the "days in stage" are back-dated afterwards so the board shows
realistic ages, including a few overdue cards.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from clinic.actors import ActorLike
from clinic.tenancy.context import clinic_today, tenant_context
from clinic.tenancy.models import Clinic
from patients.admissions import stages
from patients.admissions.models import Inquiry, InquiryStageChange
from patients.admissions.selectors import assignable_staff
from patients.admissions.services import (
    inquiry_advance,
    inquiry_close,
    inquiry_create,
    inquiry_link_patient,
)
from patients.models import Patient

# (stage to reach, how many) — the shape of a typical week's pipeline.
PLAN: tuple[tuple[str, int], ...] = (
    ("new", 3),
    ("pre_screened", 3),
    ("benefits_verified", 2),
    ("intake_scheduled", 2),
    ("assessed", 2),
    ("admitted", 2),
    ("referred_out", 1),
    ("declined", 1),
)
_FIRST = ("Ash", "Brook", "Cedar", "Drew", "Ellis", "Flynn", "Glen", "Hollis", "Ira", "Jody", "Kit", "Lou")
_LAST = ("Inventwell", "Storyfield", "Fablewick", "Notaperson", "Pretendly", "Imaginsby", "Fictionby")
_SOURCES = ("self", "family", "primary_care", "psychiatrist", "hospital", "eap", "court")
_DRUGS = (
    ("alprazolam", ("1", "2", "3", "4")),
    ("clonazepam", ("0.5", "1", "2")),
    ("lorazepam", ("1", "2", "3")),
    ("diazepam", ("10", "20", "40")),
    ("temazepam", ("15", "30")),
)
_REASONS = (
    "Prescribed for panic disorder years ago; prescriber now wants a taper and the patient wants support.",
    "Tried to stop on their own last month and had bad rebound anxiety and insomnia.",
    "Family worried about daytime sedation and falls; patient agrees to a supervised taper.",
    "Discharged from the ED after withdrawal symptoms; referred for structured outpatient care.",
)


def _requirements(stage: stages.Stage, rng: random.Random) -> dict[str, Any]:
    if stage == stages.Stage.INTAKE_SCHEDULED:
        return {
            "intake_at": timezone.now() + dt.timedelta(days=rng.randrange(1, 6), hours=rng.randrange(0, 6))
        }
    if stage == stages.Stage.ASSESSED:
        return {"level_of_care": rng.choice(("iop", "iop", "php"))}
    if stage == stages.Stage.ADMITTED:
        return {"admitted_on": clinic_today() - dt.timedelta(days=rng.randrange(0, 4))}
    return {}


def _walk(
    *, actor: ActorLike, inquiry: Inquiry, target: str, patient: Patient | None, rng: random.Random
) -> Inquiry:
    if target in (stages.Stage.REFERRED_OUT, stages.Stage.DECLINED):
        reason = "higher_level" if target == stages.Stage.REFERRED_OUT else "cost"
        return inquiry_close(actor=actor, inquiry=inquiry, to_stage=target, reason=reason, note="Demo record")
    for stage in stages.PIPELINE[1 : stages.PIPELINE.index(stages.Stage(target)) + 1]:
        if stage == stages.Stage.ADMITTED:
            inquiry_link_patient(actor=actor, inquiry=inquiry, patient=patient)
        values = _requirements(stage, rng)
        if stage == stages.Stage.ADMITTED:
            values["level_of_care"] = inquiry.level_of_care or "iop"
        inquiry = inquiry_advance(actor=actor, inquiry=inquiry, to_stage=stage, **values)
    return inquiry


def _backdate(inquiry: Inquiry, rng: random.Random) -> None:
    """Demo only: spread the history over past days so the board shows ages and a few overdue cards."""
    when = timezone.now() - dt.timedelta(days=rng.randrange(0, 6), hours=rng.randrange(0, 12))
    Inquiry.objects.filter(pk=inquiry.pk).update(stage_entered_at=when)
    for change in InquiryStageChange.objects.filter(inquiry=inquiry).order_by("-changed_at", "-created_at"):
        InquiryStageChange.objects.filter(pk=change.pk).update(changed_at=when)
        when -= dt.timedelta(days=rng.randrange(1, 4), hours=rng.randrange(0, 8))


def seed_admissions(
    *, clinic: Clinic, actor: ActorLike, patients: Sequence[Patient], rng: random.Random
) -> int:
    """Add the demo pipeline; returns how many inquiries were created."""
    with tenant_context(clinic):
        if Inquiry.objects.exists():
            return 0
        staff = list(assignable_staff())
        # Admitted demo inquiries link to patients still in intake with no care episode, so admitting
        # them (which opens the first episode) tells a consistent story.
        admittable = [
            p for p in patients if p.status == Patient.Status.INTAKE and not p.care_episodes.exists()
        ]
        created = 0
        for target, count in PLAN:
            for _ in range(count):
                if target == stages.Stage.ADMITTED and not admittable:
                    continue
                patient = admittable.pop() if target == stages.Stage.ADMITTED else None
                first = patient.first_name if patient else rng.choice(_FIRST)
                last = patient.last_name if patient else rng.choice(_LAST)
                born = (
                    patient.date_of_birth
                    if patient
                    else dt.date(1955, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 45))
                )
                family_call = rng.random() < 0.3
                drug, doses = rng.choice(_DRUGS)
                inquiry = inquiry_create(
                    actor=actor,
                    fields={
                        "referral_source": rng.choice(_SOURCES),
                        "contact_name": f"{rng.choice(_FIRST)} {last}" if family_call else f"{first} {last}",
                        "contact_relationship": rng.choice(("spouse", "parent", "sibling"))
                        if family_call
                        else "self",
                        "contact_phone": f"+1 555 01{rng.randrange(0, 100):02d}",
                        "first_name": first,
                        "last_name": last,
                        "date_of_birth": born,
                        "phone": f"+1 555 01{rng.randrange(0, 100):02d}",
                        "reason": rng.choice(_REASONS),
                        "other_substances": rng.sample(
                            ["alcohol", "cannabis", "opioids"], k=rng.randrange(0, 2)
                        ),
                        "assigned_to": rng.choice(staff) if staff else None,
                    },
                    benzodiazepines=[{"drug": drug, "daily_dose_mg": rng.choice(doses)}],
                )
                inquiry = _walk(actor=actor, inquiry=inquiry, target=target, patient=patient, rng=rng)
                _backdate(inquiry, rng)
                created += 1
        return created
