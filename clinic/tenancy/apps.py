from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenancyConfig(AppConfig):
    name = "clinic.tenancy"
    label = "tenancy"
    verbose_name = "Clinics and tenancy"

    def ready(self) -> None:
        from clinic.tenancy.rls import apply_database_security

        # Runs after every migrate (as the owner role): any new tenant table gets its policy.
        post_migrate.connect(apply_database_security, sender=self, dispatch_uid="stepdown-rls")
