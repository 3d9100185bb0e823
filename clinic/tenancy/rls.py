"""Postgres row-level security for every tenant table, applied after each migrate as the owner role.

Policy: a row is visible and writable only when its clinic_id equals the `stepdown.clinic_id` setting
that `tenant_context` sets per transaction. No setting, no rows. FORCE makes the owner obey it too.
The setting is read through a scalar sub-select so Postgres evaluates it once per query (an InitPlan),
not once per row.
"""

from __future__ import annotations

import logging

from django.apps import apps
from django.conf import settings
from django.db import connections
from django.db.models import Model

from clinic.tenancy.models import TenantModel

log = logging.getLogger(__name__)

POLICY = "clinic_isolation"
CURRENT_CLINIC_SQL = "(SELECT stepdown_current_clinic())"

_FUNCTION = """
CREATE OR REPLACE FUNCTION stepdown_current_clinic() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT NULLIF(current_setting('stepdown.clinic_id', true), '')::bigint $$;
"""


# Tables whose model says `append_only = True` (the audit trail, the accounting of disclosures) get this
# trigger after every migrate: the database refuses UPDATE and DELETE whoever asks, the owner included.
APPEND_ONLY_TRIGGER = "stepdown_append_only"
_APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION stepdown_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
"""


def append_only_models() -> list[type[Model]]:
    return [model for model in apps.get_models() if getattr(model, "append_only", False)]


def append_only_sql(model: type[Model]) -> list[str]:
    table = connections["default"].ops.quote_name(model._meta.db_table)
    return [
        f"DROP TRIGGER IF EXISTS {APPEND_ONLY_TRIGGER} ON {table}",
        f"CREATE TRIGGER {APPEND_ONLY_TRIGGER} BEFORE UPDATE OR DELETE ON {table}"
        " FOR EACH ROW EXECUTE FUNCTION stepdown_refuse_change()",
    ]


def tenant_models() -> list[type[Model]]:
    """Every concrete model whose rows belong to one clinic (TenantModel, or opted in explicitly)."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        if issubclass(model, TenantModel) or getattr(model, "rls_tenant_table", False):
            found.append(model)
    return found


def policy_sql(model: type[Model]) -> list[str]:
    table = connections["default"].ops.quote_name(model._meta.db_table)
    match = f"clinic_id = {CURRENT_CLINIC_SQL}"
    # Platform rows (e.g. audit events of a failed login, before any clinic is known) may be written
    # with no clinic but are never readable from a clinic's context.
    check = (
        f"({match} OR clinic_id IS NULL)" if getattr(model, "rls_allow_null_clinic_insert", False) else match
    )
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {POLICY} ON {table}",
        f"CREATE POLICY {POLICY} ON {table} USING ({match}) WITH CHECK ({check})",
    ]


def grants_sql(app_role: str, existing: set[str] | None = None) -> list[str]:
    quote = connections["default"].ops.quote_name
    role = quote(app_role)
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"GRANT EXECUTE ON FUNCTION stepdown_current_clinic() TO {role}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON django_migrations FROM {role}",
    ]
    for model in append_only_models():
        if existing is not None and model._meta.db_table not in existing:
            continue
        statements.append(f"REVOKE UPDATE, DELETE, TRUNCATE ON {quote(model._meta.db_table)} FROM {role}")
    # Tables only the database's own functions write (`app_role_read_only = True`, e.g. the audit chain head).
    for model in apps.get_models():
        table = model._meta.db_table
        if getattr(model, "app_role_read_only", False) and (existing is None or table in existing):
            statements.append(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {quote(table)} FROM {role}")
    return statements


def apply_database_security(sender=None, using: str = "default", **kwargs) -> None:
    conn = connections[using]
    app_role = settings.DATABASE_APP_ROLE
    with conn.cursor() as cursor:
        cursor.execute(_FUNCTION)
        cursor.execute(_APPEND_ONLY_FUNCTION)
        # A model whose table is not created yet (`migrate app 0001`, a migration still to write) has no rows
        # to protect; the post_migrate run that creates its table secures it.
        existing = set(conn.introspection.table_names(cursor))
        for model in tenant_models():
            if model._meta.db_table not in existing:
                continue
            for statement in policy_sql(model):
                cursor.execute(statement)
        for model in append_only_models():
            if model._meta.db_table not in existing:
                continue
            for statement in append_only_sql(model):
                cursor.execute(statement)
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
        if app_role and app_role != owner:
            for statement in grants_sql(app_role, existing):
                cursor.execute(statement)
        else:
            log.warning("The application connects as the table owner %s: grants skipped", owner)
