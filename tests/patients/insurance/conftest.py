"""Insurance fixtures: a clinic with a billing profile, a patient with a coverage, and a file-drop transport
in a temporary folder (so tests never touch a real outbox)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from clinic.tenancy.context import tenant_context
from tests.patients.consent.factories import tpo_consent_in

SAMPLES = Path(__file__).resolve().parents[1] / "eligibility" / "samples"
NPI = "1234567893"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def answer_for(check, name: str) -> str:
    """A sample 271 rewritten to answer `check`: its TRN02 (and BHT03) carry the check's trace number."""
    import re

    text = sample(name)
    text = re.sub(
        r"TRN([*|])2\1TRACE\d+", lambda m: f"TRN{m.group(1)}2{m.group(1)}{check.trace_number}", text
    )

    def bht(m: re.Match) -> str:
        sep = m.group(1)
        return f"BHT{sep}0022{sep}11{sep}{check.trace_number}"

    return re.sub(r"BHT([*|])0022\111\1TRACE\d+", bht, text)


@pytest.fixture(autouse=True)
def eligibility_folders(settings, tmp_path):
    settings.ELIGIBILITY_TRANSPORT = "patients.eligibility.transport.FileDropTransport"
    settings.ELIGIBILITY_OUTBOX = tmp_path / "outbox"
    settings.ELIGIBILITY_INBOX = tmp_path / "inbox"
    return tmp_path


@pytest.fixture
def profile(clinic_a):
    from patients.insurance.services import billing_profile_save

    with tenant_context(clinic_a):
        return billing_profile_save(
            actor=None,
            fields={
                "organization_name": "Alder Clinic",
                "npi": NPI,
                "submitter_id": "ALDER",
                "receiver_id": "ACMECLEARING",
                "usage_indicator": "T",
            },
        )


def coverage_fields(**over) -> dict:
    return {
        "payer_name": "Acme Health Plan",
        "payer_id": "ACME1",
        "plan_name": "Gold PPO 1500",
        "member_id": "ABC-123",
        "group_number": "GRP-7781",
        "subscriber_relationship": "self",
        "effective_from": dt.date(2026, 1, 1),
        "priority": "primary",
        **over,
    }


@pytest.fixture
def coverage(clinic_a, patient_a):
    from patients.insurance.services import coverage_create

    tpo_consent_in(clinic_a, patient_a)  # a 270 is a Part 2 disclosure to the payer
    with tenant_context(clinic_a):
        return coverage_create(actor=None, patient=patient_a, fields=coverage_fields())


@pytest.fixture
def dependent_coverage(clinic_a):
    from patients.insurance.services import coverage_create
    from tests.conftest import make_patient

    child = make_patient(clinic_a, first_name="Tom", last_name="Doe", date_of_birth=dt.date(2008, 5, 5))
    tpo_consent_in(clinic_a, child)
    with tenant_context(clinic_a):
        return coverage_create(
            actor=None,
            patient=child,
            fields=coverage_fields(
                subscriber_relationship="child",
                subscriber_first_name="Jane",
                subscriber_last_name="Doe",
                subscriber_date_of_birth=dt.date(1980, 1, 2),
            ),
        )
