"""A diagnostic task for the real-worker tests, loaded into the worker by `-I tests.clinic.jobs.probe_tasks`.

It reports which clinics' rows raw SQL can see in every tenant table, outside any clinic and inside
`clinic_step`: the proof that row-level security binds job code exactly as it binds requests.
"""

from __future__ import annotations

from django.db import connection

from clinic.celery import app
from clinic.jobs.base import clinic_step
from clinic.tenancy.rls import tenant_models


def _clinic_ids_by_table() -> dict[str, list[int | None]]:
    seen = {}
    with connection.cursor() as cursor:
        for model in tenant_models():
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"SELECT DISTINCT clinic_id FROM {table}")
            seen[model._meta.db_table] = sorted({row[0] for row in cursor.fetchall()}, key=str)
    return seen


@app.task(name="tests.clinic.jobs.raw_clinic_ids")
def raw_clinic_ids(clinic_id: int) -> dict:
    outside = _clinic_ids_by_table()
    with clinic_step(clinic_id):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, count(*) FROM patients_patient")
            role, patients = cursor.fetchone()
        inside = _clinic_ids_by_table()
    return {"outside": outside, "inside": inside, "role": role, "patients": patients}


@app.task(name="tests.clinic.jobs.echo")
def echo(token: str) -> str:
    return token
