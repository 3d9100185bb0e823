"""`manage.py seed_demo`: load the synthetic demo (two clinics, staff in every role, patients). Idempotent."""

from django.core.management.base import BaseCommand, CommandError

from demo.data import DEMO_PASSWORD
from demo.services import DemoRefused, seed_demo


class Command(BaseCommand):
    help = "Create the demo clinics, staff and synthetic patients that are missing (never in production)."

    def handle(self, *args, **options):
        try:
            result = seed_demo()
        except DemoRefused as error:
            raise CommandError(str(error)) from error
        if result.created_anything:
            self.stdout.write(
                f"Demo loaded: {result.clinics} clinics, {result.users} staff accounts, "
                f"{result.memberships} memberships, {result.patients} patients, "
                f"{result.records} clinical demo records created."
            )
        else:
            self.stdout.write("Demo already present; nothing added.")
        # Indented lines are the logins table; dev.py repeats them in its start-up banner.
        width = max(len(email) for email, _, _ in result.logins)
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        self.stdout.write(f"  {'Email':<{width}}  {'Role':<22}  Clinic")
        for email, role, clinic in result.logins:
            self.stdout.write(f"  {email:<{width}}  {role:<22}  {clinic}")
        self.stdout.write(f"  Password for every demo login: {DEMO_PASSWORD}")
        # A patient's daily check-in page per clinic: no login, the personal link is the key.
        from clinic.tenancy.models import Clinic
        from demo import data
        from demo.checkins import demo_checkin_paths

        for clinic in Clinic.objects.filter(slug__in=[spec.slug for spec in data.CLINICS]).order_by("name"):
            for first_name, path in demo_checkin_paths(clinic)[:1]:
                self.stdout.write(f"  Patient check-in ({clinic.name}, {first_name}): {path}")
