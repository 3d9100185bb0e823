"""Shared fixtures: the test database is created and migrated as the owner role, then every test
talks to it as the application role, so row-level security binds the tests exactly as it binds the app.

People: `clinic_a`/`clinic_b`, with one member per role in each (`staff_a[Role.NURSE]`, …).
"""

from __future__ import annotations

import datetime

import pytest
from django.test.utils import setup_databases, teardown_databases

from clinic.tenancy.maintenance import owner_connection
from clinic.tenancy.roles import Role

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker):
    with django_db_blocker.unblock(), owner_connection():
        config = setup_databases(verbosity=0, interactive=False, keepdb=False)
    yield
    with django_db_blocker.unblock(), owner_connection():
        teardown_databases(config, verbosity=0)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters and cached census live in Redis; each test starts clean.

    Deletes only this run's keys (CACHE_KEY_PREFIX): a FLUSHDB would also empty the Celery broker
    and any other run sharing the Redis server.
    """
    from django.conf import settings
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)
    for key in client.scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*", count=500):
        client.delete(key)
    yield


def make_clinic(slug: str, **extra):
    from clinic.tenancy.models import Clinic

    return Clinic.objects.create(slug=slug, name=extra.pop("name", slug.replace("-", " ").title()), **extra)


def make_member(clinic, role: str, email: str | None = None):
    from clinic.accounts.models import User
    from clinic.tenancy.models import Membership

    email = email or f"{role}@{clinic.slug}.example.org"
    user = User.objects.create_user(email=email, password=PASSWORD, full_name=f"{role.title()} {clinic.slug}")
    Membership.objects.create(user=user, clinic=clinic, roles=[role])
    return user


def make_patient(clinic, **fields):
    from clinic.tenancy.context import tenant_context
    from patients.models import Patient

    values = {
        "first_name": "Test",
        "last_name": "Patient",
        "date_of_birth": datetime.date(1980, 5, 17),
        **fields,
    }
    with tenant_context(clinic):
        if "mrn" not in values:
            values["mrn"] = f"SD-{Patient.objects.count() + 1:06d}"
        return Patient.objects.create(**values)


@pytest.fixture
def clinic_a(db):
    return make_clinic("clinic-a", name="Alder Clinic")


@pytest.fixture
def clinic_b(db):
    return make_clinic("clinic-b", name="Birch Clinic")


@pytest.fixture
def staff_a(clinic_a):
    return {role: make_member(clinic_a, role) for role in Role}


@pytest.fixture
def staff_b(clinic_b):
    return {role: make_member(clinic_b, role) for role in Role}


@pytest.fixture
def patient_a(clinic_a):
    return make_patient(clinic_a, first_name="Avery", last_name="Alder")


@pytest.fixture
def patient_b(clinic_b):
    return make_patient(clinic_b, first_name="Blake", last_name="Birch")
