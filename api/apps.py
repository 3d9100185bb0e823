from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        from api import schema  # noqa: F401 - registers the OpenAPI extension for token auth
        from api.dates import install_api_date_bounds
        from api.strings import install_strict_strings

        install_api_date_bounds()  # every serializer's dates held to clinic.date_bounds
        install_strict_strings()  # a number sent for a text field is a 400, not text
