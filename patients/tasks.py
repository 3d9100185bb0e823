"""Patient jobs: the per-clinic census behind the "Today" page's figures."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache

from clinic.jobs.base import clinic_step, fan_out_to_clinics
from patients.selectors import patient_census

CENSUS_TTL = 24 * 3600


def census_cache_key(clinic_id: int) -> str:
    return f"census:{clinic_id}"


@shared_task(name="patients.tasks.refresh_census")
def refresh_census(clinic_id: int) -> dict[str, int]:
    """Count one clinic's patients by status. Re-runnable: it overwrites a cache key."""
    with clinic_step(clinic_id) as clinic:
        census = patient_census()
    cache.set(census_cache_key(clinic.pk), census, timeout=CENSUS_TTL)
    return census


@shared_task(name="patients.tasks.refresh_all_census")
def refresh_all_census() -> int:
    return fan_out_to_clinics(refresh_census)
