"""The task outbox: the fact that a job must run, committed in the same transaction as the write needing it.

A row per `delay_on_commit` made inside a clinic. After the commit the task is published at once and the row
marked sent; if the broker is down the row stays pending and `drain_outbox` (beat, every minute) publishes
it once the broker answers. Delivery is at least once (a publish whose "sent" mark is lost is sent again),
which is why every task body is idempotent (see clinic/jobs/base.py).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from clinic.tenancy.models import TenantModel


class OutboxTask(TenantModel):
    task = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            # The drain's query: a clinic's pending rows, oldest first.
            models.Index(
                fields=["clinic", "created_at"], condition=Q(sent_at__isnull=True), name="jobs_outbox_pending"
            ),
            # The purge of sent rows.
            models.Index(fields=["clinic", "sent_at"], name="jobs_outbox_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.task} ({'sent' if self.sent_at else 'pending'})"
