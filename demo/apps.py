from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The synthetic demo: the one app that may import every other, and that none imports."""

    name = "demo"
    verbose_name = "Demo data"
