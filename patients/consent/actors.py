"""Who acted, as consent rows record it: the staff user (`recorded_by`, `disclosed_by`, …) and a label
that also names an API client (`disclosed_by_label`)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model


def user_or_none(actor: Any):
    return actor if isinstance(actor, get_user_model()) and actor.pk else None


def actor_label(actor: Any) -> str:
    return getattr(actor, "audit_label", "") or getattr(actor, "email", "") or ""
