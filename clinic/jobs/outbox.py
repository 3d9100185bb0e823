"""Record, send and drain the task outbox (clinic/jobs/models.py).

- `record`: in the caller's transaction, inside its clinic: one INSERT.
- `send_recorded`: after the commit, publish (bounded, see the CELERY_* timeouts in settings) and mark the
  row sent. A failure leaves it pending, logs a warning, and skips further immediate sends in this process
  for `BROKER_RETRY_AFTER` seconds (each would wait for the same broker).
- `drain`: one clinic's pending rows older than `min_age` (so a row whose immediate send is under way is not
  sent twice), locked with SKIP LOCKED (two drains never take the same row), published oldest first; stops
  at the first broker failure. Also purges sent rows after `KEEP_SENT`.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone

from clinic.jobs.models import OutboxTask
from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic

log = logging.getLogger(__name__)

BROKER_RETRY_AFTER = 10.0  # seconds without immediate sends after one failed
DEFAULT_MIN_AGE = timedelta(seconds=30)
KEEP_SENT = timedelta(days=7)
BATCH = 500

_broker_down_until = 0.0


def broker_presumed_down() -> bool:
    return time.monotonic() < _broker_down_until


def _broker_failed(error: BaseException, what: str) -> None:
    global _broker_down_until
    _broker_down_until = time.monotonic() + BROKER_RETRY_AFTER
    log.warning("publish of %s failed (%s: %s); left in the outbox", what, type(error).__name__, error)


def record(task_name: str, args: tuple, kwargs: dict) -> OutboxTask:
    """Insert the row in the current transaction of the clinic in scope (TenantModel.save takes it)."""
    return OutboxTask.objects.create(task=task_name, args=list(args), kwargs=dict(kwargs))


def _mark_sent(row_id: Any) -> None:
    OutboxTask.objects.filter(pk=row_id, sent_at__isnull=True).update(sent_at=timezone.now())


def send_recorded(clinic: Clinic, row_id: Any, publish) -> bool:
    """After commit: publish, then mark the row sent. Never raises for a broker failure."""
    if broker_presumed_down():
        return False
    try:
        publish()
    except Exception as error:  # any publish failure leaves the row for the drain
        _broker_failed(error, f"outbox row {row_id}")
        return False
    try:
        with tenant_context(clinic):
            _mark_sent(row_id)
    except Exception as error:  # the drain will send it again; the task is idempotent
        log.warning("outbox row %s sent but not marked (%s); it will be sent again", row_id, error)
    return True


def _publish_row(row: OutboxTask) -> None:
    task = current_app.tasks.get(row.task)
    if task is None:
        current_app.send_task(row.task, args=row.args, kwargs=row.kwargs, task_id=str(row.pk))
    else:
        task.apply_async(args=row.args, kwargs=row.kwargs, task_id=str(row.pk))


def drain(*, min_age: timedelta = DEFAULT_MIN_AGE, limit: int = BATCH) -> dict[str, int]:
    """Publish the clinic-in-scope's pending rows. Call inside `clinic_step` (one transaction)."""
    now = timezone.now()
    rows = list(
        OutboxTask.objects.filter(sent_at__isnull=True, created_at__lte=now - min_age)
        .order_by("created_at")
        .select_for_update(skip_locked=True)[:limit]
    )
    sent = failed = 0
    for row in rows:
        try:
            with transaction.atomic():  # a savepoint: a failed publish keeps the rows already marked
                _publish_row(row)
                _mark_sent(row.pk)
            sent += 1
        except Exception as error:  # the broker is down: stop, the next drain retries
            _broker_failed(error, f"outbox row {row.pk} ({row.task})")
            OutboxTask.objects.filter(pk=row.pk).update(
                attempts=row.attempts + 1, last_error=repr(error)[:300]
            )
            failed = 1
            break
    purged, _ = OutboxTask.objects.filter(sent_at__lt=now - KEEP_SENT).delete()
    return {"sent": sent, "pending": len(rows) - sent, "failed": failed, "purged": purged}
