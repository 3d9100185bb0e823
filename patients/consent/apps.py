from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "patients.consent"
    label = "consent"
    verbose_name = "42 CFR Part 2 consent and disclosures"
