"""The demo seed: complete (every role in both clinics), synthetic, and idempotent."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from clinic.accounts.models import User
from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic, Membership
from clinic.tenancy.roles import Role
from demo import data
from demo.services import DemoRefused, seed_demo
from patients.models import Patient

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    result = {
        "clinics": Clinic.objects.count(),
        "users": User.objects.count(),
        "memberships": Membership.objects.count(),
    }
    from clinic.tenancy.rls import tenant_models

    for clinic in Clinic.objects.all():
        with tenant_context(clinic):
            result[f"patients:{clinic.slug}"] = Patient.objects.count()
            result[f"audit:{clinic.slug}"] = AuditEvent.objects.filter(
                clinic=clinic, action="create", object_type="patients.patient"
            ).count()
            for model in tenant_models():  # every tenant table: a second seed must add no row anywhere
                result[f"{model._meta.label}:{clinic.slug}"] = model._base_manager.count()
    return result


def test_seeding_twice_adds_nothing():
    first = seed_demo()
    after_first = counts()
    second = seed_demo()

    assert first.created_anything
    assert not second.created_anything
    assert counts() == after_first
    assert after_first["clinics"] == len(data.CLINICS)
    for spec in data.CLINICS:
        assert after_first[f"patients:{spec.slug}"] == data.PATIENTS_PER_CLINIC
        # Each demo patient went through patient_create, so each has its creation audit event.
        assert after_first[f"audit:{spec.slug}"] == data.PATIENTS_PER_CLINIC


def test_every_role_is_staffed_in_both_clinics():
    seed_demo()
    for spec in data.CLINICS:
        memberships = Membership.objects.filter(clinic__slug=spec.slug)
        roles = {role for held in memberships.values_list("roles", flat=True) for role in held}
        assert roles >= {role.value for role in Role}, spec.slug


def test_demo_logins_work_and_the_shared_person_sees_both_clinics(client):
    seed_demo()
    shared = data.SHARED_STAFF.email
    assert client.login(email=shared, password=data.DEMO_PASSWORD)

    home = client.get("/")
    assert home.status_code == 200
    for spec in data.CLINICS:
        assert spec.name in home.content.decode()
        assert client.get(f"/c/{spec.slug}/").status_code == 200

    client.logout()
    assert client.login(email="nurse@cedar.demo.stepdown.test", password=data.DEMO_PASSWORD)
    assert client.get("/c/harbor-light/").status_code == 404  # one clinic only


def test_patients_are_deterministic_and_synthetic():
    assert data.patients("cedar-ridge") == data.patients("cedar-ridge")
    assert data.patients("cedar-ridge") != data.patients("harbor-light")
    for row in data.patients("harbor-light"):
        assert row["email"].endswith("@example.org")
        assert row["phone"].startswith("+1 555 01")  # the range reserved for fiction


def test_management_command_prints_the_logins(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert data.DEMO_PASSWORD in out
    assert "admin@cedar.demo.stepdown.test" in out
    assert data.SHARED_STAFF.email in out


def test_refuses_in_production(settings):
    settings.STEPDOWN_ENV = "production"
    with pytest.raises(DemoRefused):
        seed_demo()
    assert not Clinic.objects.exists()
