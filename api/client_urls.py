"""The API-client admin pages, mounted inside a clinic (namespace "api-clients"). Paths sit beside the
staff admin and the consent pages they belong with in the menu."""

from django.urls import path

from api import views

app_name = "api-clients"
urlpatterns = [
    path("admin/api-clients/", views.api_clients_view, name="list"),
    path("admin/api-clients/<int:client_id>/revoke/", views.api_client_revoke_view, name="revoke"),
    path("consent/api-clients/<int:api_client_id>/", views.api_client_disclosure_view, name="disclosure"),
]
