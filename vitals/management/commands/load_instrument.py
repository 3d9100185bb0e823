"""`manage.py load_instrument <clinic_slug> <file.json>`: load a licensed instrument for one clinic.

The file is the clinic's licensed copy (e.g. vitals/instruments/examples/isi.example.json with every item
text and answer label filled in). It must pass the same loader as the built-in instruments; it is stored
for that clinic only and never added to the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic
from vitals.services import clinic_instrument_load


class Command(BaseCommand):
    help = "Load (or replace) a licensed instrument definition for one clinic."

    def add_arguments(self, parser) -> None:
        parser.add_argument("clinic_slug")
        parser.add_argument("path", type=Path)

    def handle(self, *args, clinic_slug: str, path: Path, **options) -> None:
        clinic = Clinic.objects.filter(slug=clinic_slug).first()
        if clinic is None:
            raise CommandError(f"No clinic with slug {clinic_slug!r}")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        try:
            with tenant_context(clinic):
                row = clinic_instrument_load(actor=None, definition=raw)
        except ValidationError as exc:
            problems = "\n  - ".join(exc.message_dict.get("definition", exc.messages))
            raise CommandError(f"{path} was not loaded:\n  - {problems}") from exc
        self.stdout.write(f"Loaded {row.instrument} for {clinic.name}; staff can now record it.")
