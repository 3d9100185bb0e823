"""Signals of the taper app. Taper never imports the apps above it; they answer these.

`review_concerns_requested` is sent while the psychiatrist's review queue is built. Each receiver returns
a list of `ReviewConcern` (newest first) about patients of the current clinic — safety answers with open
"withdrawal scores rising" alerts. With no receiver connected the queue simply has no such rows.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.dispatch import Signal

review_concerns_requested = Signal()


@dataclass(frozen=True)
class ReviewConcern:
    patient_id: uuid.UUID
    raised_at: datetime.datetime
    title: str


def review_concerns(sender: object) -> list[ReviewConcern]:
    """Every receiver's concerns, newest first."""
    concerns = [c for _, answer in review_concerns_requested.send(sender=sender) for c in answer or []]
    return sorted(concerns, key=lambda c: c.raised_at, reverse=True)
