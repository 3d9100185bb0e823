"""Demo patient records: contacts, EHR identifiers, allergies, diagnoses, substance-use history, reported
medications and a level-of-care history (PHP → IOP → outpatient) for the demo patients. Synthetic only.

Idempotent: does nothing when the clinic already has record entries (contacts, allergies, diagnoses…).
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Sequence

from django.utils import timezone

from clinic.tenancy.context import tenant_context
from patients.models import Allergy, CareEpisode, Diagnosis, PatientContact
from patients.services import (
    allergy_add,
    care_episode_start,
    contact_add,
    diagnosis_add,
    identifier_add,
    medication_add,
    substance_use_add,
)

EHR_SYSTEM = "urn:oid:2.16.840.1.113883.3.9999.1"  # a made-up OID arc under HL7's example branch
FIRST_NAMES = ("Robin", "Casey", "Morgan", "Jamie", "Riley", "Drew", "Quinn", "Avery")
RELATIONSHIPS = ("spouse", "parent", "sibling", "friend", "child")
ALLERGIES = (
    ("Penicillin", "Hives", "moderate"),
    ("Sulfonamides", "Rash", "mild"),
    ("Codeine", "Nausea and vomiting", "mild"),
    ("Latex", "Contact dermatitis", "moderate"),
    ("Peanuts", "Anaphylaxis", "severe"),
)
PRIMARY_CODES = ("F13.20", "F13.230", "F13.239", "F13.10", "F13.21")
SECONDARY_CODES = ("F41.1", "F41.0", "F43.10", "F33.1", "F32.A", "F51.01", "F10.20", "F17.210")
BENZODIAZEPINES = (("alprazolam", "2"), ("clonazepam", "1.5"), ("lorazepam", "3"), ("diazepam", "20"))
OTHER_MEDICATIONS = (
    ("Sertraline", "100 mg", "1 tablet daily", "Depression"),
    ("Trazodone", "50 mg", "1 tablet at bedtime", "Sleep"),
    ("Lisinopril", "10 mg", "1 tablet daily", "Blood pressure"),
    ("Buspirone", "15 mg", "1 tablet twice a day", "Anxiety"),
)


def _phone(rng: random.Random) -> str:
    return f"555-01{rng.randint(0, 99):02d}"  # 555-0100…0199: reserved for fiction


def _seed_one(*, patient, actor, rng: random.Random, index: int, today: datetime.date) -> None:
    contact_add(
        actor=actor,
        patient=patient,
        fields={
            "name": f"{rng.choice(FIRST_NAMES)} {patient.last_name}",
            "relationship": rng.choice(RELATIONSHIPS),
            "phone": _phone(rng),
            "is_emergency_contact": True,
            "may_receive_information": rng.random() < 0.5,
        },
    )
    identifier_add(
        actor=actor,
        patient=patient,
        fields={"system": EHR_SYSTEM, "value": f"EHR-{patient.mrn[3:]}", "label": "Regional EHR MRN"},
    )
    if index % 3 != 2:  # some patients have no known allergies, so the banner shows both states
        substance, reaction, severity = rng.choice(ALLERGIES)
        allergy_add(
            actor=actor,
            patient=patient,
            fields={"substance": substance, "reaction": reaction, "severity": severity, "noted_on": today},
        )
    diagnosis_add(
        actor=actor, patient=patient, fields={"code": rng.choice(PRIMARY_CODES), "is_primary": True}
    )
    diagnosis_add(actor=actor, patient=patient, fields={"code": rng.choice(SECONDARY_CODES)})
    drug, dose = rng.choice(BENZODIAZEPINES)
    years = rng.randint(2, 15)
    substance_use_add(
        actor=actor,
        patient=patient,
        fields={
            "category": "benzodiazepine",
            "benzodiazepine": drug,
            "daily_amount": dose,
            "unit": "mg",
            "route": "oral",
            "frequency": rng.choice(("Twice a day", "Three times a day", "At bedtime and as needed")),
            "duration_months": years * 12,
            "age_at_first_use": max(14, patient.age - years),
            "last_used_on": today - datetime.timedelta(days=rng.randint(0, 2)),
            "prescribed": rng.choice(("yes", "partly")),
        },
    )
    if rng.random() < 0.5:
        substance_use_add(
            actor=actor,
            patient=patient,
            fields={"category": "alcohol", "daily_amount": str(rng.randint(1, 4)), "unit": "drinks",
                    "route": "oral", "frequency": "Weekends", "prescribed": "no"},
        )  # fmt: skip
    medication_add(
        actor=actor,
        patient=patient,
        fields={"name": drug.title(), "strength": f"{dose} mg total daily", "dose_frequency": "as prescribed",
                "prescriber_name": "Dr. Lee Park", "indication": "Anxiety", "reported_on": today},
    )  # fmt: skip
    name, strength, dose_frequency, indication = rng.choice(OTHER_MEDICATIONS)
    medication_add(
        actor=actor,
        patient=patient,
        fields={"name": name, "strength": strength, "dose_frequency": dose_frequency,
                "indication": indication, "reported_on": today},
    )  # fmt: skip
    _seed_episodes(patient=patient, actor=actor, index=index, today=today)


def _seed_episodes(*, patient, actor, index: int, today: datetime.date) -> None:
    """PHP → IOP → outpatient, stopping at a different step for different patients."""
    if CareEpisode.objects.filter(patient=patient).exists() or patient.status == "intake":
        return
    steps = (("php", 60, "Admitted after intake assessment"), ("iop", 35, "Step-down: stable on taper"),
             ("op", 7, "Step-down: taper nearly complete"))  # fmt: skip
    for level, days_ago, reason in steps[: 1 + index % 3]:
        care_episode_start(
            actor=actor, patient=patient, level=level, started_on=today - datetime.timedelta(days=days_ago),
            reason=reason,
        )  # fmt: skip


def seed_record(*, clinic, actor, patients: Sequence, rng: random.Random) -> int:
    """Fill the records of up to eight of `patients`. Returns how many records were filled."""
    with tenant_context(clinic):
        if any(model.objects.exists() for model in (PatientContact, Allergy, Diagnosis)):
            return 0
        today = timezone.localdate()
        filled = 0
        for index, patient in enumerate(list(patients)[:8]):
            _seed_one(patient=patient, actor=actor, rng=rng, index=index, today=today)
            filled += 1
        return filled
