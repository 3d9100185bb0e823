"""The project-wide Celery base task and the helpers every job uses.

Every task body must be idempotent: `acks_late` + reject-on-worker-lost means a task whose worker dies
is delivered again. Tasks take ids (JSON), are enqueued after commit, and do tenant work inside
`clinic_step`, which enters `tenant_context` for one clinic.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from celery import Task
from celery.contrib.django.task import DjangoTask
from django.db import InterfaceError, OperationalError, transaction
from redis.exceptions import ConnectionError as RedisConnectionError


class StepdownTask(DjangoTask):
    """Every task of ours. Enqueue from a service with `task.delay_on_commit(clinic_id, …)`: the worker then
    sees the committed rows, a rolled-back write enqueues nothing, and the body re-enters the tenant scope
    from the clinic id with `clinic_step`."""

    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (OperationalError, InterfaceError, RedisConnectionError)
    retry_backoff = 5
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 5

    def delay_on_commit(self, *args, **kwargs) -> None:
        """`delay` once the transaction commits, and never lost to a broker outage.

        Inside a clinic the fact that the task must run is first recorded in the outbox, in this same
        transaction (clinic/jobs/outbox.py): after the commit it is published (bounded to about a second)
        and marked sent; if the broker is down the request still succeeds and the beat's drain publishes it
        once the broker answers. Outside a clinic (platform work) there is no outbox row: the publish after
        commit is bounded and a failure is logged, never raised."""
        self._on_commit(lambda: self.delay(*args, **kwargs), args, kwargs)

    def apply_async_on_commit(self, args=None, kwargs=None, **options) -> None:
        """Like delay_on_commit with publishing options; a drained outbox row is sent without them."""
        args, kwargs = tuple(args or ()), dict(kwargs or {})
        self._on_commit(lambda: self.apply_async(args, kwargs, **options), args, kwargs)

    def _on_commit(self, publish, args: tuple, kwargs: dict) -> None:
        from clinic.jobs import outbox
        from clinic.tenancy.context import current_clinic

        clinic = current_clinic()
        row_id = outbox.record(self.name, args, kwargs).pk if clinic is not None else None

        # A function, not functools.partial: Django logs a failed robust hook by its __qualname__.
        def send() -> None:
            if row_id is not None:
                outbox.send_recorded(clinic, row_id, publish)
            else:
                try:
                    publish()
                except Exception as error:  # the write is committed: a publish never fails it
                    outbox.log.warning("publish of %s after commit failed: %r", self.name, error)

        transaction.on_commit(send, robust=True)


@contextmanager
def clinic_step(clinic_id: int) -> Iterator:
    """Run one tenant step of a job inside that clinic (its own transaction)."""
    from clinic.tenancy.context import tenant_context
    from clinic.tenancy.models import Clinic

    clinic = Clinic.objects.get(pk=clinic_id, is_active=True)
    with tenant_context(clinic):
        yield clinic


def fan_out_to_clinics(task: Task, *args, **kwargs) -> int:
    """Beat entry point for sweeps: one task per active clinic, each working in that clinic's scope."""
    from clinic.tenancy.models import Clinic

    clinic_ids = list(Clinic.objects.filter(is_active=True).values_list("pk", flat=True))
    for clinic_id in clinic_ids:
        task.delay(clinic_id, *args, **kwargs)
    return len(clinic_ids)
