"""Demo prescribers, medications and coordination: an outside registry per clinic, the program's own
psychiatrist as the benzodiazepine prescriber of record, and a few patients whose other prescriptions the
co-prescription rules flag (an opioid, a gabapentinoid, a second benzodiazepine from another prescriber).
Synthetic only: invented names; NPIs and DEA numbers are generated with valid check digits and are not
anyone's registration. Idempotent: nothing is added once the clinic has a prescriber registry.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from decimal import Decimal

from stdnum import luhn

from clinic.actors import ActorLike
from clinic.tenancy.context import clinic_today, tenant_context
from clinic.tenancy.models import Clinic
from patients.models import Patient
from prescribers import pdmp_import, services
from prescribers.models import PatientPrescriber, Prescriber
from prescribers.pdmp import samples
from taper.models import TaperPlan

# (first, last, credentials, specialty, practice, in program)
PRESCRIBERS = (
    ("Percy", "Psychiatrist", "MD", "Psychiatry", "This program", True),
    ("Wren", "Quillfeather", "MD", "Family medicine", "Maple Street Family Practice", False),
    ("Odell", "Marchbanks", "DO", "Pain medicine", "Riverside Pain Clinic", False),
    ("Tamsin", "Brightwater", "PA-C", "Urgent care", "Northgate Urgent Care", False),
    ("Lucan", "Featherstone", "DDS", "Dentistry", "Lakeshore Dental", False),
)
# Demo storage policies: the clinic admin must check the real rule of their own state.
STATE_POLICIES = {
    "cedar-ridge": (("IL", "raw"), ("IN", "pdf"), ("WI", "display")),
    "harbor-light": (("NY", "raw"), ("NJ", "pdf"), ("CT", "display")),
}


def demo_npi(n: int) -> str:
    body = f"19{n:07d}"
    return body + luhn.calc_check_digit("80840" + body)


def demo_dea(letters: str, n: int) -> str:
    digits = [int(c) for c in f"{n:06d}"]
    check = (digits[0] + digits[2] + digits[4] + 2 * (digits[1] + digits[3] + digits[5])) % 10
    return f"{letters}{n:06d}{check}"


def _registry(clinic: Clinic, actor: ActorLike) -> list[Prescriber]:
    offset = 100 * (1 + sorted(STATE_POLICIES).index(clinic.slug)) if clinic.slug in STATE_POLICIES else 0
    made = []
    for i, (first, last, credentials, specialty, practice, in_program) in enumerate(PRESCRIBERS):
        made.append(
            services.prescriber_create(
                actor=actor,
                fields={
                    "first_name": first,
                    "last_name": last,
                    "credentials": credentials,
                    "specialty": specialty,
                    "practice": practice,
                    "npi": demo_npi(offset + i),
                    "dea": demo_dea("A" + last[0], offset * 10 + i + 1),
                    "phone": f"555-01{10 + i:02d}",
                    "fax": f"555-01{50 + i:02d}",
                    "in_program": in_program,
                },
            )
        )
    return made


def _order(actor, patient, prescriber, *, drug, strength, dose_unit, per_day, start, **extra):
    return services.medication_create(
        actor=actor,
        patient=patient,
        fields={
            "drug_text": drug,
            "strength": Decimal(strength),
            "strength_unit": "mg",
            "dose": Decimal(1),
            "dose_unit": dose_unit,
            "doses_per_day": Decimal(per_day),
            "start_on": start,
            "prescriber": prescriber,
            **extra,
        },
    )


def seed_prescribers(
    *, clinic: Clinic, actor: ActorLike, patients: Sequence[Patient], rng: random.Random
) -> int:
    """`actor` is the clinic's demo psychiatrist (names the prescriber of record). Returns rows made."""
    with tenant_context(clinic):
        if Prescriber.objects.exists():
            return 0
        today = clinic_today()
        for state, storage in STATE_POLICIES.get(clinic.slug, (("OR", "raw"),)):
            services.state_policy_set(
                actor=actor, state=state, storage=storage, note="Demo setting: check your state's rule."
            )
        ours, pcp, pain, urgent, dentist = _registry(clinic, actor)
        on_plan = list(
            Patient.objects.filter(
                taper_plans__status__in=(TaperPlan.Status.ACTIVE, TaperPlan.Status.APPROVED)
            ).order_by("mrn")[:4]
        )
        made = len(PRESCRIBERS)
        for patient in on_plan:
            services.prescriber_of_record_set(
                actor=actor,
                patient=patient,
                prescriber=ours,
                role=PatientPrescriber.Role.BENZODIAZEPINE,
                note="The taper plan is prescribed here.",
            )
            made += 1
        if len(on_plan) >= 3:
            first, second, third = on_plan[:3]
            _order(
                actor,
                first,
                pain,
                drug="Oxycodone 10 mg tablet",
                strength="10",
                dose_unit="tablet",
                per_day="4",
                start=today - dt.timedelta(days=6),
                days_supply=30,
                quantity=Decimal(120),
            )
            _order(
                actor,
                second,
                pcp,
                drug="Gabapentin 300 mg capsule",
                strength="300",
                dose_unit="capsule",
                per_day="3",
                start=today - dt.timedelta(days=20),
            )
            _order(
                actor,
                third,
                urgent,
                drug="Alprazolam 0.5 mg tablet",
                strength="0.5",
                dose_unit="tablet",
                per_day="2",
                start=today - dt.timedelta(days=4),
                days_supply=15,
                quantity=Decimal(30),
                as_needed=True,
            )
            services.consolidation_tasks_open(actor=actor, patient=third, today=today)
            services.coordination_entry_add(
                actor=actor,
                patient=first,
                prescriber=pain,
                kind="call",
                direction="out",
                summary="Called the pain clinic about the oxycodone and the taper plan; "
                "left a message for Dr Marchbanks.",
            )
            made += 4
        if len(on_plan) >= 4:
            # The synthetic example report, moved so its latest fill was five days ago: a second
            # benzodiazepine prescriber, an opioid and a gabapentinoid the rules flag.
            raw_state = next(
                state
                for state, storage in STATE_POLICIES.get(clinic.slug, (("OR", "raw"),))
                if storage == "raw"
            )
            row = pdmp_import.commit(
                actor=actor,
                patient=on_plan[3],
                state=raw_state,
                format="fhir",
                data=samples.example("fhir", latest_fill_on=today - dt.timedelta(days=5)),
                filename="pdmp-history-demo.json",
                identity_confirmed=True,
                note="Synthetic demo report (the example report's fictional patient).",
            )
            made += 1 + row.new_fill_count
        _order(
            actor,
            patients[-1],
            dentist,
            drug="Ibuprofen 600 mg tablet",
            strength="600",
            dose_unit="tablet",
            per_day="3",
            start=today - dt.timedelta(days=2),
            days_supply=5,
            quantity=Decimal(15),
        )
        made += 1
        ids = [p.pk for p in on_plan]
    from safety.corx import evaluate_patients

    # The on-save jobs run after commit on a worker; the demo raises its alerts now for the first page.
    evaluate_patients(clinic=clinic, patient_ids=ids)
    return made
