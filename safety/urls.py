from django.urls import path

from safety import views

app_name = "safety"

urlpatterns = [
    path("", views.inbox_view, name="inbox"),
    path("acknowledge/", views.bulk_acknowledge_view, name="bulk-acknowledge"),
    path("settings/", views.settings_view, name="settings"),
    path("<uuid:alert_id>/", views.detail_view, name="detail"),
    path("<uuid:alert_id>/acknowledge/", views.acknowledge_view, name="acknowledge"),
    path("<uuid:alert_id>/assign/", views.assign_view, name="assign"),
    path("<uuid:alert_id>/resolve/", views.resolve_view, name="resolve"),
    path("<uuid:alert_id>/dismiss/", views.dismiss_view, name="dismiss"),
    path("patients/<uuid:patient_id>/", views.patient_alerts_view, name="patient-alerts"),
    path("patients/<uuid:patient_id>/panel/", views.patient_panel_view, name="patient-panel"),
]
