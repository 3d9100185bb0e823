from django.apps import AppConfig


class AdmissionsConfig(AppConfig):
    name = "patients.admissions"
    label = "admissions"
    verbose_name = "Admissions pipeline"
