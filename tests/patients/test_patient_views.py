"""The patient pages: bad input gets form errors and writes nothing; duplicates warn; MRNs are assigned;
the list page's query count does not grow with the number of patients."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.models import Patient
from tests.conftest import make_patient
from tests.dates import clinic_date

pytestmark = pytest.mark.django_db

GOOD = {
    "first_name": "Sasha",
    "last_name": "Linden",
    "date_of_birth": "1979-11-02",
    "sex_at_birth": "unknown",
    "status": "intake",
}


@pytest.fixture
def admissions_client(client, staff_a):
    client.force_login(staff_a[Role.ADMISSIONS])
    return client


def _state(clinic) -> tuple[int, int]:
    with tenant_context(clinic):
        return Patient.objects.count(), AuditEvent.objects.exclude(action=AuditEvent.Action.LIST).count()


def _url(clinic, tail: str = "") -> str:
    return f"/c/{clinic.slug}/patients/{tail}"


BAD_FORMS = {
    "missing-fields": ({}, {"first_name", "last_name", "date_of_birth"}),
    "wrong-date": ({**GOOD, "date_of_birth": "31/31/1999"}, {"date_of_birth"}),
    "future-date": (
        {**GOOD, "date_of_birth": (clinic_date() + datetime.timedelta(days=1)).isoformat()},
        {"date_of_birth"},
    ),
    "oversized": ({**GOOD, "first_name": "S" * 101, "last_name": "L" * 500}, {"first_name", "last_name"}),
    "bad-mrn": ({**GOOD, "mrn": "mrn with spaces"}, {"mrn"}),
    "bad-choice": ({**GOOD, "status": "cured"}, {"status"}),
}


@pytest.mark.parametrize(("data", "fields"), BAD_FORMS.values(), ids=BAD_FORMS.keys())
def test_bad_input_shows_form_errors_and_writes_nothing(admissions_client, clinic_a, data, fields):
    before = _state(clinic_a)
    response = admissions_client.post(_url(clinic_a, "new/"), data=data)
    assert response.status_code == 200
    form = response.context["form"]
    assert fields <= set(form.errors), form.errors
    assert 'aria-invalid="true"' in response.content.decode() or form.errors
    assert _state(clinic_a) == before


def test_bad_edit_changes_nothing(admissions_client, clinic_a, patient_a):
    response = admissions_client.post(
        _url(clinic_a, f"{patient_a.pk}/edit/"), data={**GOOD, "last_name": "x" * 101}
    )
    assert response.status_code == 200 and "last_name" in response.context["form"].errors
    with tenant_context(clinic_a):
        assert Patient.objects.get(pk=patient_a.pk).last_name == patient_a.last_name


def test_create_assigns_the_next_mrn_and_audits(admissions_client, clinic_a):
    make_patient(clinic_a, mrn="SD-000041")
    response = admissions_client.post(_url(clinic_a, "new/"), data=GOOD)
    assert response.status_code == 302
    with tenant_context(clinic_a):
        patient = Patient.objects.get(last_name="Linden")
        assert AuditEvent.objects.filter(action=AuditEvent.Action.CREATE, object_id=str(patient.pk)).exists()
    assert patient.mrn == "SD-000042"
    assert response["Location"] == _url(clinic_a, f"{patient.pk}/")


def test_duplicate_mrn_is_a_field_error(admissions_client, clinic_a):
    make_patient(clinic_a, mrn="SD-000100")
    before = _state(clinic_a)
    response = admissions_client.post(_url(clinic_a, "new/"), data={**GOOD, "mrn": "SD-000100"})
    assert response.status_code == 200
    assert "already has this MRN" in str(response.context["form"].errors["mrn"])
    assert _state(clinic_a) == before


def test_possible_duplicate_patient_warns_before_saving(admissions_client, clinic_a):
    existing = make_patient(
        clinic_a, first_name="Sasha", last_name="Linden", date_of_birth=datetime.date(1979, 11, 2)
    )
    before = _state(clinic_a)
    response = admissions_client.post(
        _url(clinic_a, "new/"), data={**GOOD, "first_name": "sasha", "last_name": " LINDEN "}
    )
    assert response.status_code == 200
    assert [p.pk for p in response.context["duplicates"]] == [existing.pk]
    assert _state(clinic_a) == before
    confirmed = admissions_client.post(_url(clinic_a, "new/"), data={**GOOD, "confirm_duplicate": "1"})
    assert confirmed.status_code == 302
    with tenant_context(clinic_a):
        assert Patient.objects.filter(last_name__iexact="linden").count() == 2


def test_same_name_in_another_clinic_is_not_a_duplicate(admissions_client, clinic_a, clinic_b):
    make_patient(clinic_b, first_name="Sasha", last_name="Linden", date_of_birth=datetime.date(1979, 11, 2))
    assert admissions_client.post(_url(clinic_a, "new/"), data=GOOD).status_code == 302


def _list_queries(client, clinic, params: str = "") -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(_url(clinic) + params)
    assert response.status_code == 200
    return len(queries)


def test_list_query_count_does_not_grow_with_patients(admissions_client, clinic_a):
    with tenant_context(clinic_a):
        Patient.objects.bulk_create(
            Patient(clinic=clinic_a, mrn=f"SD-{n:06d}", first_name=f"P{n}", last_name="Many",
                    date_of_birth=datetime.date(1970, 1, 1))
            for n in range(1, 11)
        )  # fmt: skip
    # Warm up: the first requests of a session also start the audit chain and store the idle timeout.
    for _ in range(2):
        _list_queries(admissions_client, clinic_a)
    few = _list_queries(admissions_client, clinic_a)
    with tenant_context(clinic_a):
        Patient.objects.bulk_create(
            Patient(clinic=clinic_a, mrn=f"SD-{n:06d}", first_name=f"P{n}", last_name="Many",
                    date_of_birth=datetime.date(1970, 1, 1))
            for n in range(11, 201)
        )  # fmt: skip
    many = _list_queries(admissions_client, clinic_a)
    assert many == few, f"10 patients: {few} queries, 200 patients: {many}"
    assert _list_queries(admissions_client, clinic_a, "?q=many&page=3") == few
