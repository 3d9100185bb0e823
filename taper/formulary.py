"""The clinic's formulary: the catalogue minus what its pharmacies do not stock, plus what it added.

A clinic-added formulation is the clinic's own statement, so it carries status U and every schedule
that uses it lists it among the facts to check.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from taper.catalogue import Catalogue, FormKind, Formulation, Split, Status, load_catalogue, with_formulations
from taper.errors import TaperInputError
from taper.models import FormularyEntry

CLINIC_SOURCE = "Entered by the clinic (formulary settings)"


def _custom_formulation(entry: FormularyEntry) -> Formulation:
    liquid = entry.kind == FormKind.ORAL_LIQUID
    return Formulation(
        id=entry.formulation_id,
        drug=entry.drug,
        kind=FormKind(entry.kind),
        strength_mg=None if liquid else Fraction(str(entry.strength_mg)),
        split=Split.NONE if liquid else Split(entry.split or Split.NONE),
        mg_per_ml=Fraction(str(entry.mg_per_ml)) if liquid else None,
        status=Status.UNVERIFIED,
        source=CLINIC_SOURCE,
        split_status=None if liquid else Status.UNVERIFIED,
        split_source=None if liquid else CLINIC_SOURCE,
        note=entry.note or None,
    )


def clinic_catalogue() -> tuple[Catalogue, frozenset[str]]:
    """The catalogue extended with the clinic's own formulations, and the ids its pharmacies stock."""
    entries = list(FormularyEntry.objects.all())
    custom = tuple(_custom_formulation(e) for e in entries if e.is_custom)
    catalogue = with_formulations(load_catalogue(), custom)
    said = {e.formulation_id: e.stocked for e in entries}
    default = catalogue.default_stock()
    stocked = frozenset(
        fid
        for fid in catalogue.all_formulation_ids()
        if said.get(fid, fid in default or fid.startswith("clinic-"))
    )
    return catalogue, stocked


def formulary_rows() -> list[dict[str, Any]]:
    """Every formulation with whether the clinic stocks it, for the settings page (one query)."""
    catalogue, stocked = clinic_catalogue()
    rows = []
    for drug in sorted(catalogue.drugs.values(), key=lambda d: d.name):
        for form in drug.formulations:
            rows.append(
                {
                    "id": form.id,
                    "drug": drug.name,
                    "description": form.describe(),
                    "stocked": form.id in stocked,
                    "unverified": form.unverified,
                    "source": form.source,
                    "custom": form.source == CLINIC_SOURCE,
                }
            )
    return rows


@transaction.atomic
def formulary_set_stocked(*, actor: ActorLike, formulation_id: str, stocked: bool) -> None:
    catalogue, _ = clinic_catalogue()
    try:
        catalogue.formulation(formulation_id)
    except TaperInputError:
        raise ValidationError("Unknown formulation.") from None
    if formulation_id.startswith("clinic-"):
        entry = FormularyEntry.objects.get(pk=formulation_id.removeprefix("clinic-"))
        entry.stocked = stocked
        entry.save(update_fields=["stocked", "updated_at"])
    else:
        entry, _ = FormularyEntry.objects.update_or_create(
            catalogue_id=formulation_id, defaults={"stocked": stocked}
        )
    audit(
        actor=actor,
        action=AuditEvent.Action.ADMIN,
        obj=entry,
        detail={"formulation": formulation_id, "stocked": stocked},
    )


@transaction.atomic
def formulary_add(
    *,
    actor: ActorLike,
    drug: str,
    kind: str,
    strength_mg: Decimal | None = None,
    split: str = Split.NONE.value,
    mg_per_ml: Decimal | None = None,
    note: str = "",
) -> FormularyEntry:
    errors: dict[str, str] = {}
    try:
        name = load_catalogue().drug(drug).name
    except TaperInputError:
        errors["drug"] = "Choose a medication from the catalogue."
        name = ""
    if kind not in FormKind.__members__.values():
        errors["kind"] = "Choose tablet, capsule or oral liquid."
    elif kind == FormKind.ORAL_LIQUID:
        if mg_per_ml is None or mg_per_ml <= 0:
            errors["mg_per_ml"] = "Give the concentration in mg per mL (more than 0)."
    else:
        if strength_mg is None or strength_mg <= 0:
            errors["strength_mg"] = "Give the strength in mg (more than 0)."
        if split not in Split.__members__.values():
            errors["split"] = "Choose how the tablet may be split."
    if errors:
        raise ValidationError(errors)
    liquid = kind == FormKind.ORAL_LIQUID
    entry = FormularyEntry.objects.create(
        drug=name,
        kind=kind,
        strength_mg=None if liquid else strength_mg,
        split="" if liquid else split,
        mg_per_ml=mg_per_ml if liquid else None,
        note=note.strip()[:300],
        added_by=as_actor(actor).user,
    )
    audit(
        actor=actor,
        action=AuditEvent.Action.ADMIN,
        obj=entry,
        detail={"added": _custom_formulation(entry).describe()},
    )
    return entry
