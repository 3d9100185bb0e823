"""The clinic's taper settings: defaults for new plans and the end-of-taper floor.

A changed floor stays unverified (every schedule that uses it says so) until a psychiatrist confirms it.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import require_clinic
from taper.catalogue import EquivalenceTable
from taper.engine import as_decimal
from taper.models import TaperSettings
from taper.permissions import require_psychiatrist
from taper.policy import policy


def taper_settings() -> TaperSettings:
    """The clinic's settings row, made with the defaults on first use."""
    settings, _ = TaperSettings.objects.get_or_create(clinic=require_clinic())
    return settings


@transaction.atomic
def taper_settings_update(
    *,
    actor: ActorLike,
    default_table: str,
    default_interval_days: int,
    default_rate_percent: Decimal,
    tail_floor_de_mg: Decimal | None = None,
) -> TaperSettings:
    """The clinic's defaults. Changing the end-of-taper floor clears its confirmation: a psychiatrist
    confirms the new value (`taper_settings_confirm_tail_floor`)."""
    try:
        EquivalenceTable(default_table)
    except ValueError:
        raise ValidationError({"default_table": "Choose an equivalence table."}) from None
    tail = policy().tail
    settings = taper_settings()
    before = {"default_table": settings.default_table, "tail_floor_de_mg": str(settings.tail_floor_de_mg)}
    if tail_floor_de_mg is not None:
        if not 0 <= Fraction(str(tail_floor_de_mg)) <= tail.max_floor_de_mg:
            raise ValidationError(
                {
                    "tail_floor_de_mg": (
                        f"The end-of-taper floor is between 0 and {as_decimal(tail.max_floor_de_mg, 0)} mg "
                        "diazepam-equivalent a day."
                    )
                }
            )
        if Decimal(tail_floor_de_mg) != settings.tail_floor_de_mg:
            settings.tail_floor_de_mg = tail_floor_de_mg
            settings.tail_floor_confirmed_by, settings.tail_floor_confirmed_at = None, None
    settings.default_table = default_table
    settings.default_interval_days = default_interval_days
    settings.default_rate_percent = default_rate_percent
    settings.full_clean()
    settings.save()
    audit(
        actor=actor,
        action=AuditEvent.Action.ADMIN,
        obj=settings,
        detail={
            "before": before,
            "after": {"default_table": default_table, "tail_floor_de_mg": str(settings.tail_floor_de_mg)},
        },
    )
    return settings


@transaction.atomic
def taper_settings_confirm_tail_floor(*, actor: ActorLike) -> TaperSettings:
    """A psychiatrist confirms the clinic's end-of-taper floor: schedules stop marking it unverified."""
    require_psychiatrist(actor, "confirm the end-of-taper floor")
    settings = taper_settings()
    settings.tail_floor_confirmed_by, settings.tail_floor_confirmed_at = as_actor(actor).user, timezone.now()
    settings.save(update_fields=["tail_floor_confirmed_by", "tail_floor_confirmed_at", "updated_at"])
    audit(
        actor=actor,
        action=AuditEvent.Action.ADMIN,
        obj=settings,
        detail={"confirmed_tail_floor_de_mg": str(settings.tail_floor_de_mg)},
    )
    return settings


__all__ = ["taper_settings", "taper_settings_confirm_tail_floor", "taper_settings_update"]
