"""Who may do what to a taper plan, and which user a saved row names.

Checked in the writes themselves, not only in the views, so the API and any future caller meet the same
rule: only a psychiatrist approves, changes an active plan, or overrides the guideline cap.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from clinic.tenancy.context import require_clinic
from clinic.tenancy.models import Membership
from clinic.tenancy.roles import Perm


def staff_user(actor: Any):
    """The staff user behind `actor`, or None for an API client or a patient's check-in link."""
    return actor if isinstance(actor, get_user_model()) and actor.pk else None


def actor_allows(actor: Any, perm: Perm) -> bool:
    """The role table applied to a staff user (their membership here) or an API client (its token's roles)."""
    if hasattr(actor, "client"):  # api.authentication.ApiPrincipal
        return actor.allows(perm)
    if staff_user(actor) is None:
        return False
    membership = Membership.objects.of(actor).filter(clinic=require_clinic()).first()
    return membership is not None and membership.allows(perm)


def require_psychiatrist(actor: Any, what: str) -> None:
    if not actor_allows(actor, Perm.TAPER_APPROVE):
        raise ValidationError(f"Only a psychiatrist may {what}.")
