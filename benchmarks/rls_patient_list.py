"""What row-level security costs on the patient list.

    python benchmarks/rls_patient_list.py [--clinics 20] [--patients 5000] [--runs 50]

Creates its own database `stepdown_bench` (as the owner role; development settings), migrates it, fills
it set-based with synthetic patients (generate_series), and times the patient list's own SQL (taken from
`patients.selectors.patient_list`, so it is exactly what the page runs) with EXPLAIN ANALYZE:

  (a) as the application role inside `tenant_context` — RLS policy + the ORM's clinic filter;
  (b) as the table owner on a copy of the table (same rows, same indexes) that has no row-level
      security — the same SQL, whose explicit `WHERE clinic_id = X` is all that separates clinics.

The two are measured alternately, round by round, so other load on the machine hits both alike.

Prints median and p95 of execution (+ planning) time and the overhead of (a) over (b). Numbers are
reported (benchmarks/README.md), never asserted. The bench database is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
BENCH_DB = "stepdown_bench"
DEFAULT_APP_URL = "postgres://stepdown_app:stepdown_app@127.0.0.1:5432/stepdown"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _urls() -> tuple[str, str]:
    app = os.environ.get("DATABASE_URL", DEFAULT_APP_URL)
    owner = os.environ.get("DATABASE_OWNER_URL", app.replace("stepdown_app", "stepdown_owner"))
    return app, owner


def create_database(owner_url: str) -> None:
    import psycopg

    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")


def drop_database(owner_url: str) -> None:
    import psycopg

    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")


def migrate() -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, check=True, env=os.environ)


FIRST_NAMES = ["Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Gray", "Harper", "Indigo", "Jordan"]
LAST_NAMES = ["Alder", "Birch", "Cedar", "Linden", "Maple", "Oak", "Pine", "Rowan", "Spruce", "Willow", "Yew"]

# Set-based through `_bench_db.insert_select`: every NOT NULL column the expressions leave out gets the
# model's default, so the fill keeps running when the patient record gains columns (a hand-written column
# list missed seven of them).
FILL_EXPRS = {
    "id": "gen_random_uuid()",
    "clinic_id": "c.id",
    "created_at": "now() - g * interval '1 minute'",
    "updated_at": "now() - g * interval '1 minute'",
    "mrn": "'SD-' || lpad(g::text, 6, '0')",
    "first_name": "({first}::text[])[1 + (g * 7) % cardinality({first}::text[])]",
    "last_name": "({last}::text[])[1 + (g * 13) % cardinality({last}::text[])] || ((g % 500)::text)",
    "date_of_birth": "date '1950-01-01' + (g * 37) % 20000",
    "sex_at_birth": "'unknown'",
    "status": "(ARRAY['intake','active','on_hold','discharged'])[1 + g % 4]",
}
FILL_FROM = "tenancy_clinic c CROSS JOIN generate_series(1, {patients}) AS g WHERE c.slug LIKE 'bench-%'"


def fill(owner_url: str, clinics: int, patients: int) -> None:
    """Clinics through the ORM (a platform table); patients in one set-based insert as the owner
    (`_bench_db.fill` lifts FORCE for the insert only and VACUUM ANALYZEs)."""
    from _bench_db import fill as fill_tables
    from _bench_db import make_clinics

    make_clinics(clinics)
    fill_tables(
        owner_url,
        [("patients", "patients.Patient", FILL_EXPRS, FILL_FROM)],
        {"first": FIRST_NAMES, "last": LAST_NAMES, "patients": patients},
    )


def list_queries(clinic) -> dict[str, tuple[str, tuple]]:
    """The page's SQL, compiled by the ORM inside the clinic (so it carries the ORM's clinic filter)."""
    from django.core.paginator import Paginator

    from clinic.tenancy.context import tenant_context
    from patients.selectors import patient_list
    from patients.views import PAGE_SIZE

    with tenant_context(clinic):
        first_page = patient_list()[:PAGE_SIZE]
        search = patient_list(search="linden")[:PAGE_SIZE]
        count = Paginator(patient_list(), PAGE_SIZE).object_list
        return {
            "count (pager)": _count_sql(count),
            "first page of 25": first_page.query.sql_with_params(),
            "name search 'linden'": search.query.sql_with_params(),
        }


def _count_sql(queryset) -> tuple[str, tuple]:
    query = queryset.query.chain()
    query.clear_ordering(force=True)
    sql, params = query.get_compiler("default").as_sql()
    return f"SELECT count(*) FROM ({sql}) AS page_count", params


def _explain(cursor, sql: str, params) -> float:
    cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
    plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return plan[0]["Planning Time"] + plan[0]["Execution Time"]


COPY_TABLE = "bench_patient_norls"


def make_copy_without_rls(owner_url: str) -> None:
    """The same rows and indexes in a table with no row-level security, for the baseline."""
    import psycopg

    with psycopg.connect(owner_url) as conn:
        conn.execute("ALTER TABLE patients_patient NO FORCE ROW LEVEL SECURITY")  # the owner reads all rows
        conn.execute(f"CREATE TABLE {COPY_TABLE} (LIKE patients_patient INCLUDING ALL)")
        conn.execute(f"INSERT INTO {COPY_TABLE} SELECT * FROM patients_patient")
        conn.execute("ALTER TABLE patients_patient FORCE ROW LEVEL SECURITY")
        conn.commit()
        conn.autocommit = True
        conn.execute(f"VACUUM ANALYZE {COPY_TABLE}")


def time_pair(clinic, owner_url: str, sql: str, params, runs: int) -> tuple[list[float], list[float]]:
    """Alternate the two runs, so load from anything else on the machine hits both sides alike."""
    import psycopg
    from django.db import connection

    from clinic.tenancy.context import tenant_context

    baseline_sql = sql.replace('"patients_patient"', f'"{COPY_TABLE}"')
    with_rls, without = [], []
    with (
        tenant_context(clinic),
        connection.cursor() as app,
        psycopg.connect(owner_url, autocommit=True) as conn,
        conn.cursor() as owner,
    ):
        app.execute("SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user")
        assert app.fetchone()[0] is False, "(a) must run as a role that RLS binds"
        for round_ in range(runs + 5):  # the first 5 rounds warm the caches and are dropped
            a, b = _explain(app, sql, params), _explain(owner, baseline_sql, params)
            if round_ >= 5:
                with_rls.append(a)
                without.append(b)
    return with_rls, without


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clinics", type=int, default=20)
    parser.add_argument("--patients", type=int, default=5000, help="patients per clinic")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    app_url, owner_url = _urls()
    os.environ.setdefault("STEPDOWN_ENV", "development")
    os.environ["DATABASE_URL"] = _with_database(app_url, BENCH_DB)
    os.environ["DATABASE_OWNER_URL"] = _with_database(owner_url, BENCH_DB)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    sys.path.insert(0, str(ROOT))

    create_database(owner_url)
    try:
        migrate()
        import django

        django.setup()
        from clinic.tenancy.models import Clinic

        fill(os.environ["DATABASE_OWNER_URL"], args.clinics, args.patients)
        clinic = Clinic.objects.filter(slug__startswith="bench-").order_by("slug")[args.clinics // 2]
        print(f"{args.clinics} clinics x {args.patients} patients; {clinic.slug}; {args.runs} runs")
        print("EXPLAIN ANALYZE planning+execution time, ms\n")
        print("| query | RLS, app role: median / p95 | no RLS, WHERE clinic_id: median / p95 | overhead |")
        print("|---|---|---|---|")
        make_copy_without_rls(os.environ["DATABASE_OWNER_URL"])
        for label, (sql, params) in list_queries(clinic).items():
            with_rls, without = time_pair(clinic, os.environ["DATABASE_OWNER_URL"], sql, params, args.runs)
            a, b = statistics.median(with_rls), statistics.median(without)
            print(
                f"| {label} | {a:.3f} / {_p95(with_rls):.3f} | {b:.3f} / {_p95(without):.3f} "
                f"| {100 * (a - b) / b:+.1f}% |"
            )
    finally:
        if "django" in sys.modules and sys.modules["django"].apps.apps.ready:
            from django.db import connections

            connections.close_all()  # the app role's session must end before the database can go
        drop_database(owner_url)


if __name__ == "__main__":
    main()
