"""Row-level security: raw SQL through the application's connection sees only the current clinic."""

from __future__ import annotations

import pytest
from django.db import connection
from django_scopes.exceptions import ScopeError

from clinic.tenancy.context import tenant_context
from clinic.tenancy.rls import tenant_models
from patients.models import Patient

pytestmark = pytest.mark.django_db


def _raw_clinic_ids(table: str) -> set[int | None]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT DISTINCT clinic_id FROM "{table}"')
        return {row[0] for row in cursor.fetchall()}


def test_application_role_is_not_privileged():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolbypassrls, current_user FROM pg_roles WHERE rolname = current_user"
        )
        superuser, bypass, user = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"
        )
        (owned,) = cursor.fetchone()
    assert not superuser and not bypass, user
    assert owned == 0, "the app role must not own tables (owners can switch RLS off)"


def test_every_tenant_table_has_forced_policy():
    tables = [model._meta.db_table for model in tenant_models()]
    assert "patients_patient" in tables and "audit_auditevent" in tables
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
            # Policies for everyone (PUBLIC, role 0). Owner-only maintenance policies are tested where
            # they are made (tests/clinic/audit/test_append_only.py: the platform-chain read).
            " (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid AND p.polroles = '{0}')"
            " FROM pg_class c WHERE c.relname = ANY(%s)",
            [tables],
        )
        rows = {name: (enabled, forced, policies) for name, enabled, forced, policies in cursor.fetchall()}
    for table in tables:
        assert rows[table] == (True, True, 1), table


def test_raw_sql_sees_only_current_clinic_on_every_tenant_table(
    clinic_a, clinic_b, staff_a, patient_a, patient_b
):
    from clinic.audit.services import audit

    for clinic, patient in ((clinic_a, patient_a), (clinic_b, patient_b)):
        with tenant_context(clinic):
            audit(actor=None, action="view", obj=patient, patient=patient)
    for model in tenant_models():
        table = model._meta.db_table
        assert _raw_clinic_ids(table) == set(), f"{table} leaks rows with no clinic set"
        for clinic in (clinic_a, clinic_b):
            with tenant_context(clinic):
                assert _raw_clinic_ids(table) <= {clinic.pk}, f"{table} leaks another clinic's rows"
    with tenant_context(clinic_a):
        assert _raw_clinic_ids("patients_patient") == {clinic_a.pk}


def test_orm_fails_closed_outside_a_clinic(patient_a):
    with pytest.raises(ScopeError):
        list(Patient.objects.all())


def test_cannot_write_a_row_for_another_clinic(clinic_a, clinic_b, patient_b):
    with tenant_context(clinic_a), pytest.raises(PermissionError):
        patient_b.first_name = "Changed"
        patient_b.save()


@pytest.mark.parametrize("model", tenant_models(), ids=lambda model: model._meta.label)
def test_database_refuses_rows_of_another_clinic_on_every_tenant_table(model, clinic_a, clinic_b):
    """Below the ORM guard: an INSERT naming clinic B, sent while clinic A is set, breaks the RLS policy."""
    from django.db import DatabaseError, transaction

    with tenant_context(clinic_a), transaction.atomic():
        cursor = connection.cursor()
        table = connection.ops.quote_name(model._meta.db_table)
        # Postgres applies the policy before NOT NULL and other constraints, so clinic_id alone is enough.
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            cursor.execute(f"INSERT INTO {table} (clinic_id) VALUES (%s)", [clinic_b.pk])


def test_tenant_context_refuses_none_and_nesting(clinic_a, clinic_b):
    with pytest.raises(TypeError), tenant_context(None):
        pass
    with tenant_context(clinic_a), pytest.raises(RuntimeError), tenant_context(clinic_b):
        pass


def test_every_append_only_table_has_the_guard_trigger():
    from clinic.tenancy.rls import APPEND_ONLY_TRIGGER, append_only_models

    tables = [model._meta.db_table for model in append_only_models()]
    assert {"audit_auditevent", "consent_disclosure"} <= set(tables)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE t.tgname = %s AND t.tgenabled = 'O'",
            [APPEND_ONLY_TRIGGER],
        )
        guarded = {row[0] for row in cursor.fetchall()}
    assert set(tables) <= guarded
