from django.apps import AppConfig


class TaperConfig(AppConfig):
    name = "taper"
    verbose_name = "Taper plans"
