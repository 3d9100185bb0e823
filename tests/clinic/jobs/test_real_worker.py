"""Jobs on a real Celery worker (tests/clinic/jobs/worker.py): clinic scope, row-level security, on-commit.

The worker is another process, so it only sees committed rows: these tests use a transactional
database (each test commits, and the database is flushed afterwards).
"""

from __future__ import annotations

import uuid

import pytest
from celery.result import AsyncResult
from celery.signals import after_task_publish
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from clinic.audit.services import audit
from clinic.tenancy.context import tenant_context
from patients.models import Patient
from patients.tasks import refresh_census
from tests.clinic.jobs.probe_tasks import echo, raw_clinic_ids
from tests.conftest import make_patient

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

RESULT_TIMEOUT = 30


@pytest.fixture
def two_clinics_of_patients(clinic_a, clinic_b):
    """Clinic A: 2 active + 1 in intake. Clinic B: 4 on hold + 1 discharged. Different on purpose."""
    for status in ("active", "active", "intake"):
        make_patient(clinic_a, status=status)
    for status in ("on_hold", "on_hold", "on_hold", "on_hold", "discharged"):
        make_patient(clinic_b, status=status)
    return clinic_a, clinic_b


def test_refresh_census_counts_only_its_clinic(celery_worker, two_clinics_of_patients):
    clinic_a, clinic_b = two_clinics_of_patients
    census_a = refresh_census.delay(clinic_a.pk).get(timeout=RESULT_TIMEOUT)
    census_b = refresh_census.delay(clinic_b.pk).get(timeout=RESULT_TIMEOUT)
    zero = dict.fromkeys(Patient.Status.values, 0)
    assert census_a == {**zero, "active": 2, "intake": 1}
    assert census_b == {**zero, "on_hold": 4, "discharged": 1}
    # The worker wrote the dashboard's cache entry (same Redis, same key prefix).
    assert cache.get(f"census:{clinic_a.pk}") == census_a


def test_raw_sql_in_a_job_sees_only_its_clinic(celery_worker, two_clinics_of_patients):
    clinic_a, clinic_b = two_clinics_of_patients
    for clinic in (clinic_a, clinic_b):
        with tenant_context(clinic):
            audit(actor=None, action="view", object_type="patients.patient", object_id="probe")
    report = raw_clinic_ids.delay(clinic_a.pk).get(timeout=RESULT_TIMEOUT)
    assert report["role"] == settings.DATABASE_APP_ROLE, "the worker must connect as the application role"
    assert report["outside"], "the probe saw no tenant tables"
    for table, clinic_ids in report["outside"].items():
        assert clinic_ids == [], f"{table}: rows visible with no clinic set"
    for table, clinic_ids in report["inside"].items():
        assert set(clinic_ids) <= {clinic_a.pk}, f"{table}: another clinic's rows visible inside clinic_step"
    assert report["inside"]["patients_patient"] == [clinic_a.pk]
    assert report["inside"]["audit_auditevent"] == [clinic_a.pk]
    assert report["patients"] == 3


@pytest.fixture
def published():
    """Ids of the tasks this process sends to the broker, in order."""
    sent: list[str] = []

    def record(sender=None, headers=None, **kwargs):
        sent.append(headers["id"])

    after_task_publish.connect(record, weak=False)
    yield sent
    after_task_publish.disconnect(record)


def test_delay_on_commit_sends_after_commit_and_never_on_rollback(celery_worker, published):
    with pytest.raises(RuntimeError), transaction.atomic():
        echo.delay_on_commit("rolled back")
        raise RuntimeError("roll back")
    assert published == [], "a rolled-back transaction sent its task"

    token = uuid.uuid4().hex
    with transaction.atomic():
        echo.delay_on_commit(token)
        assert published == [], "sent before the commit: the worker could miss the rows"
    assert len(published) == 1
    assert AsyncResult(published[0]).get(timeout=RESULT_TIMEOUT) == token
