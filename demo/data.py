"""What the demo contains. Pure and deterministic: the same seed gives the same people every time.

Every name here is invented. Patient surnames are deliberately implausible so that nobody mistakes a
demo record for a real one; phone numbers use the 555-01xx range reserved for fiction, e-mail addresses
the reserved example.org domain.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

from clinic.tenancy.roles import Role

DEMO_PASSWORD = "stepdown-demo-taper"  # noqa: S105 - printed for everyone on purpose; demo only
PATIENTS_PER_CLINIC = 40
SEED = 20240601


@dataclass(frozen=True)
class DemoClinic:
    slug: str
    name: str
    timezone: str
    mail_domain: str


@dataclass(frozen=True)
class DemoStaff:
    email: str
    full_name: str
    memberships: tuple[tuple[str, Role], ...]  # (clinic slug, role)


CLINICS = (
    DemoClinic("cedar-ridge", "Cedar Ridge Recovery", "America/Chicago", "cedar.demo.stepdown.test"),
    DemoClinic("harbor-light", "Harbor Light IOP", "America/New_York", "harbor.demo.stepdown.test"),
)

# Login mailbox and invented name per role, e.g. nurse@cedar.demo.stepdown.test.
ROLE_STAFF = {
    Role.CLINIC_ADMIN: ("admin", "Ada Admin"),
    Role.ADMISSIONS: ("admissions", "Abe Admissions"),
    Role.CLINICIAN: ("clinician", "Cleo Clinician"),
    Role.NURSE: ("nurse", "Nora Nurse"),
    Role.PSYCHIATRIST: ("psychiatrist", "Percy Psychiatrist"),
    Role.AUDITOR: ("auditor", "Audra Auditor"),
}

# One person works in both clinics, to show the clinic switcher.
SHARED_STAFF = DemoStaff(
    email="float@demo.stepdown.test",
    full_name="Robin Float",
    memberships=(("cedar-ridge", Role.CLINICIAN), ("harbor-light", Role.PSYCHIATRIST)),
)


def staff() -> list[DemoStaff]:
    people = []
    for clinic in CLINICS:
        town = clinic.name.split()[0]
        for role, (mailbox, name) in ROLE_STAFF.items():
            people.append(
                DemoStaff(
                    email=f"{mailbox}@{clinic.mail_domain}",
                    full_name=f"{name} ({town})",
                    memberships=((clinic.slug, role),),
                )
            )
    people.append(SHARED_STAFF)
    return people


_FIRST_NAMES = (
    "Alex", "Bailey", "Casey", "Dakota", "Emery", "Finley", "Gray", "Harper", "Indigo", "Jules",
    "Kai", "Lane", "Marlowe", "Noel", "Oakley", "Parker", "Quinn", "Reese", "Sage", "Tatum",
    "Umber", "Vale", "Wren", "Xen", "Yael", "Zephyr",
)  # fmt: skip
_LAST_NAMES = (
    "Testwell", "Mockridge", "Samplesby", "Fakenham", "Demoford", "Placebrook", "Synthwick",
    "Stubbington", "Fixtureton", "Dummerly", "Examplar", "Pseudonym", "Notreal", "Madeupson",
)  # fmt: skip
_PRONOUNS = ("", "she/her", "he/him", "they/them")
_STATUS_WEIGHTS = {"active": 55, "intake": 20, "on_hold": 10, "discharged": 15}
_SEXES = ("female", "male", "intersex", "unknown")


def patients(clinic_slug: str, count: int = PATIENTS_PER_CLINIC) -> list[dict]:
    """The clinic's demo patients as `patient_create` fields, with fixed MRNs DEMO-0001… (the natural key)."""
    rng = random.Random(f"{SEED}:{clinic_slug}")  # noqa: S311 - reproducible fiction, not security
    rows = []
    for number in range(1, count + 1):
        first = rng.choice(_FIRST_NAMES)
        last = rng.choice(_LAST_NAMES)
        born = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(0, 365 * 52))
        rows.append(
            {
                "mrn": f"DEMO-{number:04d}",
                "first_name": first,
                "last_name": last,
                "preferred_name": "",
                "date_of_birth": born,
                "sex_at_birth": rng.choices(_SEXES, weights=(46, 46, 2, 6))[0],
                "pronouns": rng.choice(_PRONOUNS),
                "phone": f"+1 555 01{rng.randrange(0, 100):02d}",
                "email": f"{first}.{last}.{number}@example.org".lower(),
                "status": rng.choices(list(_STATUS_WEIGHTS), weights=list(_STATUS_WEIGHTS.values()))[0],
            }
        )
    return rows
