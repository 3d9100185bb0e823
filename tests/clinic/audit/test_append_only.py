"""The database refuses to change or remove audit events, for the app role and for the owner; and the
platform chain is readable only through the owner-only maintenance policy."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from clinic.audit.management.commands.verify_audit_chain import PLATFORM_READ_SETTING
from clinic.audit.services import audit_platform_event
from clinic.tenancy.context import tenant_context
from tests.clinic.audit.conftest import add_events, as_owner_in

STATEMENTS = {
    "update": "UPDATE audit_auditevent SET action = 'list' WHERE id = %s",
    "delete": "DELETE FROM audit_auditevent WHERE id = %s",
}


@pytest.mark.django_db
@pytest.mark.parametrize("statement", STATEMENTS.values(), ids=STATEMENTS.keys())
def test_app_role_has_no_update_or_delete_privilege(clinic_a, statement):
    (event,) = add_events(clinic_a, 1)
    denied = pytest.raises(DatabaseError, match="permission denied")
    with tenant_context(clinic_a), denied, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [event.pk])


@pytest.mark.django_db
def test_app_role_cannot_truncate(clinic_a):
    denied = pytest.raises(DatabaseError, match="permission denied")
    with denied, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_auditevent")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("statement", STATEMENTS.values(), ids=STATEMENTS.keys())
def test_owner_role_is_stopped_by_the_trigger(clinic_a, statement):
    (event,) = add_events(clinic_a, 1)
    with pytest.raises(DatabaseError, match="append-only"), as_owner_in(clinic_a) as cursor:
        cursor.execute(statement, [event.pk])  # the row is visible here, so the row trigger fires
    with tenant_context(clinic_a):
        from clinic.audit.models import AuditEvent

        assert AuditEvent.objects.get(pk=event.pk).action == "view"


@pytest.mark.django_db
def test_app_role_never_sees_platform_rows_even_with_the_maintenance_flag(clinic_a):
    audit_platform_event(action="login_failed", actor=None, detail={"email": "x@example.org"})
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', true)", [PLATFORM_READ_SETTING])
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        assert cursor.fetchone()[0] == 0
    with tenant_context(clinic_a), connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', true)", [PLATFORM_READ_SETTING])
        cursor.execute("SELECT count(*) FROM audit_auditevent WHERE clinic_id IS NULL")
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db
def test_maintenance_policy_is_select_only_for_the_owner():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.polname, p.polcmd, p.polpermissive, array(SELECT rolname FROM pg_roles r"
            " WHERE r.oid = ANY(p.polroles)), t.tableowner, current_user"
            " FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"
            " JOIN pg_tables t ON t.tablename = c.relname AND t.schemaname = current_schema()"
            " WHERE c.relname = 'audit_auditevent' AND p.polroles <> '{0}'"
        )
        rows = cursor.fetchall()
    assert len(rows) == 1
    name, command, _permissive, roles, owner, app_role = rows[0]
    assert name == "audit_platform_maintenance_read"
    assert command == "r"  # SELECT only
    assert roles == [owner] and app_role != owner


@pytest.mark.django_db(transaction=True)
def test_owner_without_the_flag_sees_no_platform_rows(clinic_a):
    from clinic.tenancy.maintenance import owner_connection

    audit_platform_event(action="login_failed", actor=None, detail={"email": "x@example.org"})
    with owner_connection(), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT set_config(%s, 'on', true)", [PLATFORM_READ_SETTING])
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        assert cursor.fetchone()[0] == 1
        # The maintenance policy is SELECT only: even then the owner cannot reach the rows to change them.
        cursor.execute("UPDATE audit_auditevent SET actor_label = 'x' WHERE clinic_id IS NULL")
        assert cursor.rowcount == 0
