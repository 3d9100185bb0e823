from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenancyConfig(AppConfig):
    name = "clinic.tenancy"
    label = "tenancy"
    verbose_name = "Clinics and tenancy"

    def ready(self) -> None:
        from clinic.form_dates import install_form_date_bounds
        from clinic.tenancy.rls import apply_database_security

        install_form_date_bounds()  # every form's dates held to clinic.date_bounds

        # Runs after every migrate (as the owner role): any new tenant table gets its policy.
        post_migrate.connect(apply_database_security, sender=self, dispatch_uid="stepdown-rls")
