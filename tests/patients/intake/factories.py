"""Valid intake-assessment input and ready-made assessments for tests (and the tenancy registry)."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role

_serial = itertools.count(1)


def assessment_fields(**overrides: Any) -> dict[str, Any]:
    """Service input (Python values) for a moderate-risk patient whom the rules place in IOP."""
    values: dict[str, Any] = {
        "assessed_on": datetime.date(2026, 3, 2),
        "d1_rating": 2,
        "d1_notes": "Interdose anxiety and tremor in the evenings; no current intoxication.",
        "d2_rating": 1,
        "d2_notes": "Hypertension, controlled.",
        "d3_rating": 2,
        "d3_notes": "Generalised anxiety; no suicidal ideation today.",
        "d4_rating": 1,
        "d4_notes": "Wants to taper; worried about sleep.",
        "d5_rating": 2,
        "d5_notes": "Two prior self-tapers ended in rapid reinstatement.",
        "d6_rating": 1,
        "d6_notes": "Lives with a supportive partner.",
        "prior_withdrawal_attempts": 2,
        "withdrawal_seizures": False,
        "withdrawal_seizures_when": "",
        "withdrawal_delirium": False,
        "withdrawal_delirium_when": "",
        "complicated_withdrawal_notes": "",
        "has_depression": False,
        "has_anxiety_panic": True,
        "has_ptsd": False,
        "has_insomnia": True,
        "has_chronic_pain": False,
        "has_bipolar": False,
        "suicidality_current": False,
        "suicidality_past": False,
        "co_occurring_notes": "",
        "current_benzodiazepine": "alprazolam",
        "daily_dose_mg": "2.00",
        "recommended_level": "iop",
        "rationale": "Moderate withdrawal risk and relapse risk; stable home; no complicated withdrawal.",
        "departure_reason": "",
    }
    values.update(overrides)
    return values


def assessment_form_data(**overrides: Any) -> dict[str, Any]:
    """The same as a browser form body (checkboxes present only when ticked)."""
    data = {}
    for name, value in assessment_fields(**overrides).items():
        if value is False:
            continue
        data[name] = "on" if value is True else str(value)
    return data


def make_clinician(clinic, role: Role = Role.CLINICIAN):
    from tests.conftest import make_member

    return make_member(clinic, role, email=f"{role.value}{next(_serial)}@{clinic.slug}.example.org")


def make_assessment(clinic, *, patient=None, actor=None, sign: bool = False, **overrides: Any):
    from patients.intake.services import assessment_create, assessment_sign
    from tests.conftest import make_patient

    patient = patient or make_patient(clinic, first_name="Intake", last_name=f"Probe{next(_serial)}")
    actor = actor or make_clinician(clinic)
    with tenant_context(clinic):
        assessment = assessment_create(actor=actor, patient=patient, fields=assessment_fields(**overrides))
        if sign:
            assessment = assessment_sign(actor=actor, assessment=assessment)
    return assessment
