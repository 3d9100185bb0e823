from django.apps import AppConfig


class CheckinsConfig(AppConfig):
    name = "vitals.checkins"
    label = "checkins"
    verbose_name = "Patient daily check-ins"
