from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "patients.intake"
    label = "intake"
    verbose_name = "Intake assessments"
