from django.core.management.commands.migrate import Command as DjangoMigrateCommand

from clinic.tenancy.maintenance import owner_connection


class Command(DjangoMigrateCommand):
    help = DjangoMigrateCommand.help + " Runs as the table-owner role, then applies row-level security."

    def handle(self, *args, **options):
        with owner_connection(options["database"]):
            return super().handle(*args, **options)
