"""Signals of the taper app. Taper never imports the apps above it; they answer these.

`review_concerns_requested` is sent while the psychiatrist's review queue is built. Each receiver returns
a lazy queryset of its concerns about patients of the current clinic, with the fields `patient_id`,
`raised_at` and `title` — safety answers with open "withdrawal scores rising" alerts. The queue uses it
as a subquery (a patient's newest concern), so it is never loaded whole. With no receiver connected the
queue simply has no such rows.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.dispatch import Signal

review_concerns_requested = Signal()


def review_concern_sources(sender: object) -> list[QuerySet]:
    """Every receiver's queryset of concerns (`patient_id`, `raised_at`, `title`), unevaluated."""
    return [answer for _, answer in review_concerns_requested.send(sender=sender) if answer is not None]
