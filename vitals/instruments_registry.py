"""Which instruments a clinic can score: the built-in files plus the licensed definitions it loaded itself.

Definitions are validated by vitals.scoring.load_definition (the same loader whatever the origin).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from vitals.scoring import InstrumentDefinition, builtin, builtin_ids, load_definition

FLAG_NAMES_FILE = Path(__file__).parent / "data" / "result_flags.json"


@lru_cache(maxsize=16)
def builtin_definition(instrument_id: str) -> InstrumentDefinition:
    return builtin(instrument_id)


def builtin_definitions() -> list[InstrumentDefinition]:
    return [builtin_definition(i) for i in builtin_ids()]


def clinic_definitions() -> list[InstrumentDefinition]:
    """The current clinic's loaded (licensed) instruments; a definition that no longer loads is skipped."""
    from vitals.models import ClinicInstrument

    found = []
    for row in ClinicInstrument.objects.filter(is_active=True).order_by("instrument"):
        try:
            found.append(load_definition(row.definition, origin=f"clinic instrument {row.instrument}"))
        except ValueError:
            continue
    return found


def available_definitions() -> list[InstrumentDefinition]:
    return builtin_definitions() + clinic_definitions()


def definition_for(instrument_id: str) -> InstrumentDefinition | None:
    if instrument_id in builtin_ids():
        return builtin_definition(instrument_id)
    return next((d for d in clinic_definitions() if d.id == instrument_id), None)


@lru_cache(maxsize=1)
def _flag_names() -> dict:
    with FLAG_NAMES_FILE.open(encoding="utf-8") as fh:
        return json.load(fh)


def stored_flag_name(instrument_id: str, flag_id: str) -> str:
    """The fact name a result flag is stored under (e.g. PHQ-9 `urgent_item` → `phq9_item9_positive`)."""
    data = _flag_names()
    name = data["names"].get(instrument_id, {}).get(flag_id)
    return name or data["default"].format(instrument=instrument_id, flag=flag_id)


def band_code(label: str) -> str:
    """A stable code for a band label: "moderately severe" → "moderately_severe", "none/minimal" →
    "none_minimal"."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:40]
