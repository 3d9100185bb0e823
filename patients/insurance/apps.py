from django.apps import AppConfig


class InsuranceConfig(AppConfig):
    name = "patients.insurance"
    label = "insurance"
    verbose_name = "Insurance, eligibility and authorizations"
