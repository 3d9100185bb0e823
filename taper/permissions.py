"""Who may do what to a taper plan.

Checked in the writes themselves, not only in the views, so the API and any future caller meet the same
rule: only a psychiatrist approves, changes an active plan, or overrides the guideline cap.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from clinic.actors import ActorLike, as_actor
from clinic.tenancy.roles import Perm


def require_psychiatrist(actor: ActorLike, what: str) -> None:
    if not as_actor(actor).allows(Perm.TAPER_APPROVE):
        raise ValidationError(f"Only a psychiatrist may {what}.")
