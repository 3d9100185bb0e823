"""Load the drug table (prescribers/data/drugs.json) into the `Drug` reference table."""

from __future__ import annotations

from typing import Any

from prescribers import drugs


def load_drug_table(drug_model: Any) -> tuple[int, int]:
    """Insert or update every ingredient, delete those no longer listed. Returns (written, deleted).
    Takes the model so the data migration can pass its historical one."""
    table = drugs.table()
    listed = set()
    for drug in table.drugs:
        listed.add(drug.ingredient)
        drug_model.objects.update_or_create(
            ingredient=drug.ingredient,
            defaults={
                "drug_class": drug.drug_class,
                "rxcui": drug.rxcui or "",
                "rxcui_status": drug.rxcui_status,
                "names": list(drug.names),
                "source": table.sources[drug.source][:500],
                "table_version": table.version,
            },
        )
    deleted, _ = drug_model.objects.exclude(ingredient__in=listed).delete()
    return len(listed), deleted
