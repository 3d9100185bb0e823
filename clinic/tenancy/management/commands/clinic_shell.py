"""`manage.py clinic_shell <slug>`: a Django shell that works inside one clinic.

Support staff get the same fail-closed scope and row-level security as the app; there is no
unscoped shell for patient data.
"""

from __future__ import annotations

from django.core.management import CommandError
from django.core.management.commands.shell import Command as DjangoShellCommand

from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic


class Command(DjangoShellCommand):
    help = "Open a Python shell scoped to one clinic (ORM scope + row-level security)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("clinic_slug", help="The clinic to work in")
        super().add_arguments(parser)

    def handle(self, *args, clinic_slug: str, **options):
        clinic = Clinic.objects.filter(slug=clinic_slug).first()
        if clinic is None:
            raise CommandError(f"No clinic with slug {clinic_slug!r}")
        self.stdout.write(
            f"Working inside {clinic.name} ({clinic.slug}); changes commit when the shell exits."
        )
        with tenant_context(clinic):
            return super().handle(*args, **options)
