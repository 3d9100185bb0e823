"""Recording the doses a patient actually took, against the step planned for that day.

One record per plan and day, in mg per drug and in diazepam-equivalent (the plan's table); a later entry
replaces an earlier one, except that a patient's check-in never replaces what staff recorded.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm
from taper.catalogue import EquivalenceTable, load_catalogue
from taper.engine import TaperInputError, as_decimal
from taper.models import DoseRecord, TaperPlan
from taper.selectors import step_in

# An entry guard against typos (e.g. 500 for 5.00), not a clinical limit: far above any oral daily dose.
MAX_DAILY_MG_ENTRY = Decimal(1000)


def _mg(value: Any, drug: str) -> Decimal:
    try:
        mg = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({"mg_by_drug": f"{drug}: the amount must be a number of mg."}) from None
    if not mg.is_finite() or mg < 0:
        raise ValidationError({"mg_by_drug": f"{drug}: the amount cannot be negative."})
    if mg > MAX_DAILY_MG_ENTRY:
        raise ValidationError(
            {"mg_by_drug": f"{drug}: {mg} mg in one day is not plausible; check the entry."}
        )
    return mg


def dose_record(
    *,
    actor: ActorLike,
    plan: TaperPlan,
    day: datetime.date,
    source: str,
    as_planned: bool | None = None,
    mg_by_drug: Mapping[str, Any] | None = None,
    note: str = "",
    today: datetime.date | None = None,
) -> DoseRecord:
    """Record what the patient took on `day` (one record per plan and day; a later entry replaces an
    earlier one, except that a patient's check-in never replaces what staff recorded)."""
    with transaction.atomic():
        if source not in DoseRecord.Source.values:
            raise ValidationError({"source": "Unknown source."})
        if source != DoseRecord.Source.CHECKIN and not as_actor(actor).allows(Perm.TAPER_RECORD_DOSE):
            raise ValidationError("Your role does not allow recording doses.")
        plan = TaperPlan.objects.select_related("current_version", "patient").get(pk=plan.pk)
        if plan.status != TaperPlan.Status.ACTIVE:
            raise ValidationError("Doses are recorded against an active plan.")
        if day > (today or clinic_today()):
            raise ValidationError({"day": "You cannot record a dose for a day that has not happened yet."})
        step = step_in(plan.current_version, day)
        if step is None:
            raise ValidationError({"day": "That day is before the plan started."})
        table = EquivalenceTable(plan.current_version.table)
        catalogue = load_catalogue()
        if as_planned:
            amounts = {d: Decimal(v) for d, v in step.daily_mg_by_drug.items()}
        else:
            if not mg_by_drug:
                raise ValidationError(
                    {"mg_by_drug": "Enter how much the patient took, or mark it as planned."}
                )
            amounts = {}
            for drug, value in mg_by_drug.items():
                try:
                    name = catalogue.drug(str(drug)).name
                except TaperInputError:
                    raise ValidationError({"mg_by_drug": f"Unknown medication {drug!r}."}) from None
                amounts[name] = _mg(value, name)
        de = sum(
            (Fraction(str(mg)) * catalogue.drug(drug).de_per_mg(table) for drug, mg in amounts.items()),
            Fraction(0),
        )
        existing = DoseRecord.objects.select_for_update().filter(plan=plan, day=day).first()
        if existing and source == DoseRecord.Source.CHECKIN and existing.source != DoseRecord.Source.CHECKIN:
            return existing
        values = {
            "patient": plan.patient,
            "mg_by_drug": {d: f"{mg.normalize():f}" for d, mg in amounts.items()},
            "de_mg": as_decimal(de),
            "planned_de_mg": step.daily_de_mg,
            "as_planned": bool(as_planned) if as_planned is not None else None,
            "source": source,
            "recorded_by": as_actor(actor).user,
            "note": (note or "").strip()[:500],
        }
        if existing:
            before = {"mg_by_drug": existing.mg_by_drug, "source": existing.source}
            for key, value in values.items():
                setattr(existing, key, value)
            existing.save()
            record, action, detail = existing, AuditEvent.Action.UPDATE, {"before": before}
        else:
            record = DoseRecord.objects.create(plan=plan, day=day, **values)
            action, detail = AuditEvent.Action.CREATE, {}
        audit(
            actor=actor,
            action=action,
            obj=record,
            patient=plan.patient,
            detail={"day": day.isoformat(), "mg_by_drug": values["mg_by_drug"], "source": source, **detail},
        )
        return record


__all__ = ["MAX_DAILY_MG_ENTRY", "dose_record"]
