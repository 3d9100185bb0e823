"""Platform jobs: the worker heartbeat (read by /healthz) and the per-clinic census sweep."""

from __future__ import annotations

import time

from celery import shared_task
from django.core.cache import cache

from clinic.jobs.base import clinic_step, fan_out_to_clinics

HEARTBEAT_KEY = "jobs:heartbeat"


@shared_task(name="clinic.jobs.tasks.heartbeat")
def heartbeat() -> float:
    now = time.time()
    cache.set(HEARTBEAT_KEY, now, timeout=3600)
    return now


@shared_task(name="clinic.jobs.tasks.refresh_census")
def refresh_census(clinic_id: int) -> dict[str, int]:
    """Count one clinic's patients by status for its dashboard. Re-runnable: it overwrites a cache key."""
    from patients.selectors import patient_census

    with clinic_step(clinic_id) as clinic:
        census = patient_census()
    cache.set(f"census:{clinic.pk}", census, timeout=24 * 3600)
    return census


@shared_task(name="clinic.jobs.tasks.refresh_all_census")
def refresh_all_census() -> int:
    return fan_out_to_clinics(refresh_census)


@shared_task(name="clinic.jobs.tasks.purge_idempotency_keys")
def purge_idempotency_keys(clinic_id: int) -> int:
    from api.idempotency import idempotency_purge

    with clinic_step(clinic_id):
        return idempotency_purge()


@shared_task(name="clinic.jobs.tasks.purge_all_idempotency_keys")
def purge_all_idempotency_keys() -> int:
    return fan_out_to_clinics(purge_idempotency_keys)
