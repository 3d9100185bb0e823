"""The taper builder's pre-filled regimen (taper/prefill.py): from the reported medications and the
substance-use history, one line per drug, each saying where it came from."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.tenancy.context import clinic_today, tenant_context
from patients.admissions.services import inquiry_convert_to_patient
from patients.services import medication_add, substance_use_add
from taper.prefill import HISTORY, MEDICATIONS, Reported, is_daily_total, regimen_from, reported_regimen
from tests.conftest import client_for
from tests.patients.admissions.conftest import make_inquiry
from tests.taper.plans.views_support import url

pytestmark = pytest.mark.django_db

ALPRAZOLAM_LINE = {"drug": "alprazolam", "dose_mg": "2", "time_of_day": "08:00"}
ALPRAZOLAM_SOURCE = "Alprazolam 2 mg a day — reported at first contact; check how it is split over the day"


@pytest.fixture
def converted_a(clinic_a):
    """A patient made from an inquiry that reported alprazolam 2 mg a day (and alcohol)."""
    inquiry = make_inquiry(clinic_a, benzodiazepines=[{"drug": "alprazolam", "daily_dose_mg": "2"}])
    with tenant_context(clinic_a):
        return inquiry_convert_to_patient(actor=None, inquiry=inquiry, confirm_duplicate=True)


def test_inquiry_converted_patient_gets_the_reported_alprazolam_line(clinic_a, converted_a):
    with tenant_context(clinic_a), CaptureQueriesContext(connection) as queries:
        lines, sources = reported_regimen(converted_a)
    assert lines == [ALPRAZOLAM_LINE]  # the medication and the substance-use row give one line
    assert sources == [ALPRAZOLAM_SOURCE]
    assert len(queries) <= 2


def test_builder_page_shows_the_prefilled_alprazolam_line(clinic_a, converted_a, clinician):
    html = client_for(clinician).get(url(clinic_a, f"patients/{converted_a.pk}/new/")).content.decode()
    assert 'value="alprazolam" selected' in html and 'name="line-0-dose_mg" value="2"' in html
    assert "line-1-drug" not in html
    assert "Pre-filled from the patient" in html and "reported at first contact" in html


def test_substance_use_rows_fill_in_and_old_use_does_not(clinic_a, patient_a):
    with tenant_context(clinic_a):
        substance_use_add(
            actor=None,
            patient=patient_a,
            fields={
                "category": "benzodiazepine",
                "benzodiazepine": "lorazepam",
                "daily_amount": "3",
                "unit": "mg",
            },
        )
        substance_use_add(
            actor=None,
            patient=patient_a,
            fields={
                "category": "benzodiazepine",
                "benzodiazepine": "diazepam",
                "daily_amount": "10",
                "unit": "mg",
                "last_used_on": clinic_today() - datetime.timedelta(days=400),
            },
        )
        substance_use_add(  # no daily amount in mg: nothing to pre-fill
            actor=None,
            patient=patient_a,
            fields={"category": "benzodiazepine", "benzodiazepine": "clonazepam"},
        )
        lines, sources = reported_regimen(patient_a)
    assert lines == [{"drug": "lorazepam", "dose_mg": "3", "time_of_day": "08:00"}]
    assert sources == [
        "Lorazepam 3 mg a day — from the substance-use history; check how it is split over the day"
    ]


def test_a_per_dose_strength_wins_over_the_daily_amount(clinic_a, patient_a):
    with tenant_context(clinic_a):
        medication_add(
            actor=None,
            patient=patient_a,
            fields={
                "name": "Xanax",
                "strength": "0.5 mg",
                "dose_frequency": "three times a day",
                "reported_on": clinic_today(),
            },
        )
        substance_use_add(
            actor=None,
            patient=patient_a,
            fields={
                "category": "benzodiazepine",
                "benzodiazepine": "alprazolam",
                "daily_amount": "1.5",
                "unit": "mg",
            },
        )
        lines, sources = reported_regimen(patient_a)
    assert lines == [{"drug": "alprazolam", "dose_mg": "0.5", "time_of_day": "08:00"}]
    assert sources == [
        "Xanax 0.5 mg three times a day — from the reported medications; check how many doses a day and "
        "when; the record also says Alprazolam 1.5 mg a day"
    ]


def _report(where, dose, *, per_dose=False, drug="alprazolam", text="t", inquiry=False) -> Reported:
    return Reported(drug, None if dose is None else Decimal(dose), per_dose, text, where, inquiry)


def test_regimen_from_one_line_per_drug_in_order_of_appearance():
    lines, sources = regimen_from(
        [
            _report(MEDICATIONS, "2", text="Klonopin 2 mg a day", drug="clonazepam"),
            _report(MEDICATIONS, "1", per_dose=True, text="Ativan 1 mg", drug="lorazepam"),
            _report(MEDICATIONS, "1", per_dose=True, text="Lorazepam 1 mg at night", drug="lorazepam"),
            _report(HISTORY, "1.50", text="Clonazepam 1.5 mg a day", drug="clonazepam", inquiry=True),
            _report(MEDICATIONS, None, text="Valium", drug="diazepam"),
        ]
    )
    assert [(line["drug"], line["dose_mg"]) for line in lines] == [
        ("clonazepam", "1.5"),  # a daily total in words gives way to the history's number
        ("lorazepam", "1"),
        ("diazepam", ""),  # no dose anywhere: the line is there to be completed
    ]
    assert sources[0].startswith("Clonazepam 1.5 mg a day — reported at first contact")
    assert sources[0].endswith("the record also says Klonopin 2 mg a day")
    assert sources[2] == "Valium — from the reported medications; give the dose and the time of day"


@pytest.mark.parametrize(
    ("strength", "daily"),
    [
        ("2 mg a day", True),
        ("1.5 mg total daily", True),
        ("3 mg/day", True),
        ("1 mg", False),
        ("0.5 mg twice a day", False),
        ("1 mg three times daily", False),
        ("", False),
    ],
)
def test_is_daily_total(strength, daily):
    assert is_daily_total(strength) is daily
