"""API jobs: forgetting Idempotency-Key records once clients can no longer replay them."""

from __future__ import annotations

from celery import shared_task

from api.idempotency import idempotency_purge
from clinic.jobs.base import clinic_step, fan_out_to_clinics


@shared_task(name="api.tasks.purge_idempotency_keys")
def purge_idempotency_keys(clinic_id: int) -> int:
    with clinic_step(clinic_id):
        return idempotency_purge()


@shared_task(name="api.tasks.purge_all_idempotency_keys")
def purge_all_idempotency_keys() -> int:
    return fan_out_to_clinics(purge_idempotency_keys)
