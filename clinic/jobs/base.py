"""The project-wide Celery base task and the helpers every job uses.

Every task body must be idempotent: `acks_late` + reject-on-worker-lost means a task whose worker dies
is delivered again. Tasks take ids (JSON), are enqueued after commit, and do tenant work inside
`clinic_step`, which enters `tenant_context` for one clinic.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from celery import Task
from django.db import InterfaceError, OperationalError, transaction
from redis.exceptions import ConnectionError as RedisConnectionError


class StepdownTask(Task):
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (OperationalError, InterfaceError, RedisConnectionError)
    retry_backoff = 5
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 5


@contextmanager
def clinic_step(clinic_id: int) -> Iterator:
    """Run one tenant step of a job inside that clinic (its own transaction)."""
    from clinic.tenancy.context import tenant_context
    from clinic.tenancy.models import Clinic

    clinic = Clinic.objects.get(pk=clinic_id, is_active=True)
    with tenant_context(clinic):
        yield clinic


def enqueue_on_commit(task: Task, *args, **kwargs) -> None:
    """Send `task` once the current transaction commits, so the worker sees the committed rows."""
    transaction.on_commit(lambda: task.delay(*args, **kwargs))


def fan_out_to_clinics(task: Task, *args, **kwargs) -> int:
    """Beat entry point for sweeps: one task per active clinic, each working in that clinic's scope."""
    from clinic.tenancy.models import Clinic

    clinic_ids = list(Clinic.objects.filter(is_active=True).values_list("pk", flat=True))
    for clinic_id in clinic_ids:
        task.delay(clinic_id, *args, **kwargs)
    return len(clinic_ids)
