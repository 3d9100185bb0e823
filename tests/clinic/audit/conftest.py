"""Helpers for the audit tests: events of a clinic, raw owner-role SQL, the platform chain."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import tenant_context
from clinic.tenancy.maintenance import owner_connection
from tests.conftest import PASSWORD  # noqa: F401 - re-exported for the test modules


def clinic_events(clinic, **filters) -> list[AuditEvent]:
    with tenant_context(clinic):
        return list(AuditEvent.objects.filter(**filters).order_by("id"))


def add_events(clinic, count: int, *, actor=None, patient=None, action="view") -> list[AuditEvent]:
    with tenant_context(clinic):
        return [
            audit(
                actor=actor, action=action, object_type="patients.patient", patient=patient, detail={"n": n}
            )
            for n in range(count)
        ]


@contextmanager
def as_owner_in(clinic):
    """The table-owner role, inside `clinic` (RLS is FORCEd for the owner too). Commits on success."""
    with owner_connection(), tenant_context(clinic), connection.cursor() as cursor:
        yield cursor


def tamper(clinic, sql: str, params: list) -> None:
    """What an attacker with the owner's password would do: switch the guard off, change, switch it on."""
    with as_owner_in(clinic) as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER stepdown_append_only")
        cursor.execute(sql, params)
        assert cursor.rowcount == 1
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER stepdown_append_only")


def verify(*args: str) -> tuple[bool, str]:
    """Run the command; (intact?, its output)."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("verify_audit_chain", *args, stdout=out)
    except CommandError as error:
        assert error.returncode != 0
        return False, out.getvalue() + str(error)
    return True, out.getvalue()


@pytest.fixture(autouse=True)
def checkpoint_dir(settings, tmp_path):
    """Each test its own checkpoint logs (the signed files `verify_audit_chain` compares the chain with)."""
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "audit-checkpoints"
    return settings.AUDIT_CHECKPOINT_DIR


@pytest.fixture
def clinician_client(client, staff_a):
    from clinic.tenancy.roles import Role

    client.force_login(staff_a[Role.CLINICIAN])
    return client
