from django.core.management.commands.flush import Command as DjangoFlushCommand

from clinic.tenancy.maintenance import owner_connection


class Command(DjangoFlushCommand):
    help = (
        DjangoFlushCommand.help
        + " Runs as the table-owner role (the app role may not truncate the audit trail)."
    )

    def handle(self, **options):
        with owner_connection(options["database"]):
            return super().handle(**options)
