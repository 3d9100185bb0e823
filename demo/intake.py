"""Demo intake assessments: synthetic, realistic ASAM ratings for a few demo patients.

Idempotent: does nothing when the clinic already has intake assessments. Some are signed, one signed
assessment carries an amendment, one stays a draft, so every state of the pages has something to show.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from clinic.tenancy.context import tenant_context
from patients.intake.models import IntakeAssessment
from patients.intake.services import (
    assessment_amend,
    assessment_create,
    assessment_sign,
    suggestion_for,
)

DRUGS = (
    ("alprazolam", ("1.00", "2.00", "3.00")),
    ("clonazepam", ("1.00", "2.00")),
    ("lorazepam", ("2.00", "4.00")),
)
NOTES = {
    1: ("Interdose tremor and sweating.", "No current withdrawal signs.", "Rebound anxiety late afternoon."),
    2: ("Hypertension, treated.", "No significant medical history.", "Chronic low back pain."),
    3: (
        "Generalised anxiety; no suicidal ideation.",
        "Low mood since the last dose cut.",
        "Panic twice weekly.",
    ),
    4: ("Motivated; wants off benzodiazepines.", "Ambivalent; family urged the referral.", "Ready to start."),
    5: ("Two failed self-tapers.", "Long-term prescribed use, no misuse.", "Reinstated after a fast taper."),
    6: ("Lives with a supportive partner.", "Lives alone; works nights.", "Stable housing, sober friends."),
}


def _fields(rng: random.Random, assessed_on: datetime.date) -> dict[str, Any]:
    ratings = {n: rng.choice((0, 1, 1, 2, 2, 3)) for n in range(1, 7)}
    seizures = rng.random() < 0.15
    drug, doses = rng.choice(DRUGS)
    values: dict[str, Any] = {
        "assessed_on": assessed_on,
        **{f"d{n}_rating": rating for n, rating in ratings.items()},
        **{f"d{n}_notes": rng.choice(NOTES[n]) for n in ratings},
        "prior_withdrawal_attempts": rng.randint(0, 3),
        "withdrawal_seizures": seizures,
        "withdrawal_seizures_when": "Several years ago, after abrupt cessation" if seizures else "",
        "withdrawal_delirium": False,
        "has_anxiety_panic": rng.random() < 0.7,
        "has_insomnia": rng.random() < 0.6,
        "has_depression": rng.random() < 0.4,
        "has_chronic_pain": rng.random() < 0.2,
        "current_benzodiazepine": drug,
        "daily_dose_mg": rng.choice(doses),
    }
    level = suggestion_for(values).level
    values.update(
        recommended_level=level,
        rationale="Level follows the dimensional ratings and withdrawal history; reviewed with the patient.",
    )
    return values


def seed_intake(*, clinic, actor, patients: Sequence, rng: random.Random) -> int:
    """Create assessments for up to six of `patients`, assessed and signed by `actor` (a care-team member)."""
    with tenant_context(clinic):
        if IntakeAssessment.objects.exists():
            return 0
        today = timezone.localdate()
        created = 0
        for index, patient in enumerate(list(patients)[:6]):
            assessed_on = today - datetime.timedelta(days=rng.randint(3, 60))
            assessment = assessment_create(actor=actor, patient=patient, fields=_fields(rng, assessed_on))
            created += 1
            if index == 5:
                continue  # one draft, waiting to be signed
            assessment = assessment_sign(actor=actor, assessment=assessment)
            if index == 0:
                assessment_amend(
                    actor=actor,
                    assessment=assessment,
                    fields={
                        "d6_rating": min(4, assessment.d6_rating + 1),
                        "d6_notes": "Housing became unstable.",
                    },
                    reason="Patient reported an eviction notice at the second session.",
                )
        return created
