"""Demo insurance: a billing profile, coverages, verifications and authorizations. Synthetic only.

Idempotent: a clinic that already has coverages is left alone.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

from django.utils import timezone

from clinic.actors import ActorLike
from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic
from patients.insurance import services
from patients.insurance.models import ClinicBillingProfile, Coverage
from patients.models import CareEpisode, Patient

# Fictional payers (ids in the style of clearinghouse payer lists, not real ones).
PAYERS = (
    ("Acme Health Plan", "ACME1", "Gold PPO 1500"),
    ("Blue Meadow Insurance", "BMI77", "Silver HMO"),
    ("Cedar Mutual", "CEDAR-M", "Choice EPO"),
)
DEMO_NPI = "1234567893"  # the CMS documentation example NPI (valid check digit, belongs to no one)


def seed_insurance(
    *, clinic: Clinic, actor: ActorLike, patients: Sequence[Patient], rng: random.Random
) -> int:
    """Add coverages for most patients; returns how many coverages were created."""
    with tenant_context(clinic):
        if Coverage.objects.exists():
            return 0
        if not ClinicBillingProfile.objects.exists():
            services.billing_profile_save(
                actor=actor,
                fields={
                    "organization_name": clinic.name[:60],
                    "npi": DEMO_NPI,
                    "submitter_id": clinic.slug.replace("-", "").upper()[:15],
                    "receiver_id": "DEMOCLEARING",
                    "usage_indicator": "T",
                },
            )
        today = timezone.localdate()
        created = 0
        for patient in patients:
            if rng.random() < 0.15:
                continue  # self-pay
            payer, payer_id, plan = rng.choice(PAYERS)
            coverage = services.coverage_create(
                actor=actor,
                patient=patient,
                fields={
                    "payer_name": payer,
                    "payer_id": payer_id,
                    "plan_name": plan,
                    "member_id": f"{payer_id[:3]}-{rng.randrange(10**8, 10**9)}",
                    "group_number": f"GRP-{rng.randrange(1000, 9999)}",
                    "effective_from": dt.date(today.year, 1, 1),
                    "priority": "primary",
                },
            )
            created += 1
            services.verification_record(
                actor=actor,
                coverage=coverage,
                fields={
                    "method": rng.choice(["phone", "portal"]),
                    "verified_at": timezone.now() - dt.timedelta(days=rng.randrange(1, 40)),
                    "reference_number": f"CALL-{rng.randrange(100000, 999999)}",
                    "coverage_active": "yes",
                    "iop_covered": "yes",
                    "php_covered": rng.choice(["yes", "yes", "unknown"]),
                    "copay_amount": rng.choice([25, 40, 50]),
                    "coinsurance_percent": rng.choice([10, 20, 30]),
                    "deductible_amount": 1500,
                    "deductible_met": rng.randrange(0, 1500),
                    "prior_authorization_required": "yes",
                    "in_network": "yes",
                },
            )
            # Authorizations only where the patient is in treatment, for the level they are at.
            episode = CareEpisode.objects.filter(patient=patient, ended_on__isnull=True).first()
            if episode is not None:
                start = max(episode.started_on, today - dt.timedelta(days=rng.randrange(0, 20)))
                auth = services.authorization_create(
                    actor=actor,
                    coverage=coverage,
                    fields={
                        "level_of_care": episode.level,
                        "authorization_number": f"UR-{rng.randrange(100000, 999999)}",
                        "units_authorized": rng.choice([10, 12, 15]),
                        "unit_type": "days",
                        "start_date": start,
                        "end_date": start + dt.timedelta(days=30),
                        "next_review_date": today + dt.timedelta(days=rng.randrange(-1, 14)),
                    },
                )
                for offset in range(rng.randrange(0, 6)):
                    day = start + dt.timedelta(days=offset * 2)
                    if day <= today:
                        services.authorization_usage_add(actor=actor, authorization=auth, service_date=day)
        return created
