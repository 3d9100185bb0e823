from django.core.management.base import BaseCommand

from prescribers.loader import load_drug_table
from prescribers.models import Drug


class Command(BaseCommand):
    help = "Load prescribers/data/drugs.json (ingredient → class, RxNorm code) into the drug table."

    def handle(self, *args, **options) -> None:
        written, deleted = load_drug_table(Drug)
        self.stdout.write(f"Drug table: {written} ingredients written, {deleted} removed.")
