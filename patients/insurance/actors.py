"""The staff user an insurance row records as having acted (`requested_by`, `verified_by`, `entered_by`)."""

from __future__ import annotations

from typing import Any


def staff_user(actor: Any):
    """The staff user behind an actor (an API client acts for nobody in particular)."""
    if getattr(actor, "is_authenticated", False) and not hasattr(actor, "audit_label"):
        return actor
    return None
