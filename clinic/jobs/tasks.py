"""Platform jobs: the worker heartbeat (read by /healthz). Domain jobs live in their app's tasks.py."""

from __future__ import annotations

import time

from celery import shared_task
from django.core.cache import cache

HEARTBEAT_KEY = "jobs:heartbeat"


@shared_task(name="clinic.jobs.tasks.heartbeat")
def heartbeat() -> float:
    now = time.time()
    cache.set(HEARTBEAT_KEY, now, timeout=3600)
    return now
