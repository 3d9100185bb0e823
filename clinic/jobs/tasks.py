"""Platform jobs: the worker heartbeat (read by /healthz) and the outbox drain. Domain jobs live in their
app's tasks.py."""

from __future__ import annotations

import time
from datetime import timedelta

from celery import shared_task
from django.core.cache import cache

from clinic.jobs.base import StepdownTask, clinic_step, fan_out_to_clinics

HEARTBEAT_KEY = "jobs:heartbeat"


@shared_task(name="clinic.jobs.tasks.heartbeat")
def heartbeat() -> float:
    now = time.time()
    cache.set(HEARTBEAT_KEY, now, timeout=3600)
    return now


@shared_task(base=StepdownTask, name="clinic.jobs.tasks.drain_outbox")
def drain_outbox(clinic_id: int, min_age_seconds: float | None = None) -> dict[str, int]:
    """Publish one clinic's outbox rows that were not sent after their commit (broker down at the time)."""
    from clinic.jobs import outbox

    min_age = outbox.DEFAULT_MIN_AGE if min_age_seconds is None else timedelta(seconds=min_age_seconds)
    with clinic_step(clinic_id):
        return outbox.drain(min_age=min_age)


@shared_task(base=StepdownTask, name="clinic.jobs.tasks.drain_all_outboxes")
def drain_all_outboxes(min_age_seconds: float | None = None) -> int:
    """Beat entry point, every minute: one drain per active clinic, each in its own scope."""
    if min_age_seconds is None:
        return fan_out_to_clinics(drain_outbox)
    return fan_out_to_clinics(drain_outbox, min_age_seconds=min_age_seconds)
