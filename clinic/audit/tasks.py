"""Audit jobs: the signed checkpoints of every chain's head (beat, every 10 minutes)."""

from __future__ import annotations

from celery import shared_task

from clinic.audit.checkpoints import checkpoints_write


@shared_task(name="clinic.audit.tasks.write_checkpoints")
def write_checkpoints() -> int:
    """Re-runnable: a chain whose head did not move since its last checkpoint gets no new line."""
    return checkpoints_write()
