"""Writing the demo. Idempotent: every row has a natural key (clinic slug, e-mail, MRN) and is only
created when missing, so a second run adds nothing and never overwrites what someone changed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from clinic.accounts.models import User
from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic, Membership
from clinic.tenancy.roles import Role
from demo import data
from patients.models import Patient
from patients.services import patient_create


class DemoRefused(RuntimeError):
    pass


@dataclass
class SeedResult:
    clinics: int = 0
    users: int = 0
    memberships: int = 0
    patients: int = 0
    records: int = 0  # rows of the intake/record/insurance/consent/admissions demos
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (email, role label, clinic name)

    @property
    def created_anything(self) -> bool:
        return any((self.clinics, self.users, self.memberships, self.patients, self.records))


def _ensure_clinics(result: SeedResult) -> dict[str, Clinic]:
    clinics = {}
    for spec in data.CLINICS:
        clinic, created = Clinic.objects.get_or_create(
            slug=spec.slug, defaults={"name": spec.name, "timezone": spec.timezone}
        )
        result.clinics += created
        clinics[spec.slug] = clinic
    return clinics


def _ensure_staff(clinics: dict[str, Clinic], result: SeedResult) -> None:
    for person in data.staff():
        user = User.objects.filter(email=person.email).first()
        if user is None:
            user = User.objects.create_user(
                email=person.email, password=data.DEMO_PASSWORD, full_name=person.full_name
            )
            result.users += 1
        for slug, role in person.memberships:
            _, created = Membership.objects.get_or_create(
                user=user, clinic=clinics[slug], defaults={"roles": [role]}
            )
            result.memberships += created
            result.logins.append((person.email, role.label, clinics[slug].name))


def _ensure_patients(clinic: Clinic, result: SeedResult) -> None:
    with tenant_context(clinic):
        existing = set(Patient.objects.values_list("mrn", flat=True))
        for fields in data.patients(clinic.slug):
            if fields["mrn"] in existing:
                continue
            # Through the service, so each demo patient gets its audit event like any other.
            # actor=None: the audit trail shows no person did this (the seeding command did).
            patient_create(actor=None, fields=fields)
            result.patients += 1


def _member_with(clinic: Clinic, role: Role) -> User | None:
    membership = Membership.objects.filter(clinic=clinic, roles__contains=[role.value]).select_related("user")
    found = membership.order_by("created_at").first()
    return found.user if found else None


def _ensure_clinical_demo(clinic: Clinic, result: SeedResult) -> None:
    """Each area's demo, in dependency order, acted by the member whose job it is. Each is idempotent."""
    from demo.admissions import seed_admissions
    from demo.alerts import seed_alerts
    from demo.checkins import seed_checkins
    from demo.consent import seed_consent
    from demo.insurance import seed_insurance
    from demo.intake import seed_intake
    from demo.prescribers import seed_prescribers
    from demo.record import seed_record
    from demo.scheduling import seed_scheduling
    from demo.taper import seed_taper
    from demo.vitals import seed_vitals

    with tenant_context(clinic):
        patients = list(Patient.objects.order_by("mrn"))
    rng = random.Random(f"stepdown-demo-{clinic.slug}")  # noqa: S311 - synthetic data, not security
    steps = (
        (seed_record, Role.NURSE),
        (seed_consent, Role.ADMISSIONS),
        (seed_insurance, Role.ADMISSIONS),
        (seed_intake, Role.CLINICIAN),
        (seed_admissions, Role.ADMISSIONS),
        (seed_vitals, Role.NURSE),
        (seed_alerts, Role.CLINICIAN),
        (seed_taper, Role.PSYCHIATRIST),  # before check-ins: their patients need active plans
        (seed_checkins, Role.NURSE),  # after any taper demo: a check-in records the day's dose
        # After taper: the prescriber of record (a psychiatrist names it) and the co-prescriptions need plans.
        (seed_prescribers, Role.PSYCHIATRIST),
        # After admissions: enrolment follows the open level-of-care episode.
        (seed_scheduling, Role.CLINIC_ADMIN),
    )
    for seed, role in steps:
        actor = _member_with(clinic, role)
        result.records += seed(clinic=clinic, actor=actor, patients=patients, rng=rng) or 0


def seed_demo() -> SeedResult:
    """Create the demo clinics, staff and patients that are missing. Refuses in production."""
    if settings.STEPDOWN_ENV == "production":
        raise DemoRefused("The demo has a published password; it is never loaded in production.")
    result = SeedResult()
    with transaction.atomic():
        clinics = _ensure_clinics(result)
        _ensure_staff(clinics, result)
        for clinic in clinics.values():
            _ensure_patients(clinic, result)
            _ensure_clinical_demo(clinic, result)
    return result
