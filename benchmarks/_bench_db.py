"""What the database benchmarks share: their own throw-away database, and a set-based fill.

    from _bench_db import bench_environment, create_database, migrate, fill, drop_database

A benchmark creates its database as the owner role (development settings), migrates it, fills it with one
`INSERT … SELECT` per table (`insert_select`: every NOT NULL column, the model's default where the fill
gives no expression, so it keeps working when other areas add columns), ANALYZEs, and then runs as the
application role inside `tenant_context` (row-level security on). The Celery broker is an in-memory one,
so whatever the code under test queues goes nowhere. Not imported by the app or the tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_APP_URL = "postgres://stepdown_app:stepdown_app@127.0.0.1:5432/stepdown"
ZONES = [
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Pacific/Honolulu",
    "Europe/London", "Pacific/Auckland", "Australia/Sydney", "Asia/Kolkata", "America/Anchorage",
]  # fmt: skip
NEW = {"id": "gen_random_uuid()", "created_at": "now()", "updated_at": "now()"}
_PARAM = re.compile(r"\{([a-z_]+)\}")


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def urls() -> tuple[str, str]:
    """(application role URL, owner role URL) from DATABASE_URL / DATABASE_OWNER_URL or the defaults."""
    app = os.environ.get("DATABASE_URL", DEFAULT_APP_URL)
    owner = os.environ.get("DATABASE_OWNER_URL", app.replace("stepdown_app", "stepdown_owner"))
    return app, owner


def bench_environment(name: str, **extra: str) -> tuple[str, str]:
    """Point Django at the bench database `name` (before django.setup()); returns the server-level owner
    URL (to create and drop the database) and the bench database's owner URL (to fill it)."""
    app_url, owner_url = urls()
    os.environ.setdefault("STEPDOWN_ENV", "development")
    os.environ["DATABASE_URL"] = with_database(app_url, name)
    os.environ["DATABASE_OWNER_URL"] = with_database(owner_url, name)
    os.environ["CELERY_BROKER_URL"] = "memory://"  # whatever the code queues goes nowhere
    os.environ["CELERY_RESULT_BACKEND"] = "cache+memory://"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    for key, value in extra.items():
        os.environ.setdefault(key, value)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return owner_url, os.environ["DATABASE_OWNER_URL"]


def create_database(owner_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")


def drop_database(owner_url: str, name: str) -> None:
    """Close Django's connections (when it is set up) and drop the bench database."""
    import psycopg

    if "django" in sys.modules and sys.modules["django"].apps.apps.ready:
        from django.db import connections

        connections.close_all()
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")


def migrate() -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, check=True, env=os.environ)


def analyze(owner_url: str, table: str) -> None:
    import psycopg

    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(f"ANALYZE {table}")


# --- set-based fill ----------------------------------------------------------------------------------------
def insert_select(model_label: str, exprs: dict[str, str], source: str) -> tuple[str, dict]:
    """INSERT INTO <table> (every NOT NULL column) SELECT <exprs or the field's default> FROM <source>.

    Columns not given in `exprs` get the model field's default as a typed parameter, so the fill keeps
    working when other areas add columns with defaults. `exprs` and `source` are plain SQL (a literal
    `%` is the modulo operator); `{name}` in them (lower-case letters and _) is the fill parameter `name`."""
    from django.apps import apps
    from django.db import connection

    def plain(sql: str) -> str:
        return _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))

    model = apps.get_model(model_label)
    columns, values, params = [], [], {}
    for field in model._meta.concrete_fields:
        if field.column in exprs:
            columns.append(field.column)
            values.append(plain(exprs[field.column]))
        elif not field.null:
            default = field.get_default()  # "" for text fields without one
            if default is None:
                raise ValueError(
                    f"{model_label}.{field.name}: NOT NULL without a default; give an expression"
                )
            name = f"d{len(params)}"
            if field.get_internal_type() == "JSONField":
                values.append(f"%({name})s::jsonb")
                params[name] = json.dumps(default)
            else:
                values.append(f"%({name})s::{field.db_type(connection)}")
                params[name] = field.get_db_prep_save(default, connection)
            columns.append(field.column)
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    return f"INSERT INTO {table} ({cols}) SELECT {', '.join(values)} FROM {plain(source)}", params


def fill(
    owner_url: str,
    statements: Sequence[tuple[str, str, dict[str, str], str]],
    params: dict[str, object],
    *,
    after: Sequence[str] = (),
    reads: Sequence[str] = (),
) -> dict[str, int]:
    """Run (label, model, expressions, FROM …) fill statements as the owner in one transaction (each table
    ANALYZEd once filled, for the statements that read it next), then the `after` statements (plain SQL,
    e.g. UPDATEs linking rows), then VACUUM ANALYZE every table filled.
    The owner is bound by FORCEd row-level security too: it is lifted for the fill only. Returns rows per
    label. `reads` names more models the statements read (rows made with the ORM beforehand): their row-level
    security is lifted for the fill too."""
    import psycopg
    from django.apps import apps

    models = [model for _, model, _, _ in statements] + list(reads)
    tables = list(dict.fromkeys(apps.get_model(model)._meta.db_table for model in models))
    counts = {}
    with psycopg.connect(owner_url) as conn:
        for table in tables:
            conn.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        for label, model, exprs, source in statements:
            sql, defaults = insert_select(model, exprs, source)
            started = time.perf_counter()
            counts[label] = conn.execute(sql, {**defaults, **params}).rowcount
            # Statistics for the statements that read this table next (no stale "empty table" plans).
            conn.execute(f"ANALYZE {apps.get_model(model)._meta.db_table}")
            print(f"  {label}: {counts[label]:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
        for sql in after:
            conn.execute(sql)
        conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table in tables:
            conn.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        conn.commit()
        conn.autocommit = True
        for table in tables:
            conn.execute(f"VACUUM ANALYZE {table}")
    return counts


def make_clinics(count: int, prefix: str = "bench") -> None:
    """`count` clinics `<prefix>-001`…, in the ten time zones in turn."""
    from clinic.tenancy.models import Clinic

    Clinic.objects.bulk_create(
        Clinic(slug=f"{prefix}-{n:03d}", name=f"Bench clinic {n}", timezone=ZONES[n % len(ZONES)])
        for n in range(1, count + 1)
    )
