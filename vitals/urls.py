from django.urls import path

from vitals import views

app_name = "vitals"

urlpatterns = [
    path("patients/<uuid:patient_id>/", views.patient_vitals, name="patient"),
    path("patients/<uuid:patient_id>/panel/", views.patient_panel, name="patient-panel"),
    path("patients/<uuid:patient_id>/readings/new/", views.reading_create, name="reading-create"),
    path(
        "patients/<uuid:patient_id>/scores/new/<slug:instrument>/", views.result_create, name="result-create"
    ),
    path("patients/<uuid:patient_id>/flowsheet/", views.flowsheet, name="flowsheet"),
    path("readings/<uuid:reading_id>/", views.reading_detail, name="reading-detail"),
    path("scores/<uuid:result_id>/", views.result_detail, name="result-detail"),
    path("settings/", views.threshold_settings, name="settings"),
]
