"""Routes: compliance (see scheduling/urls.py): a patient's weekly hours and the step-down acceptance."""

from django.urls import path

from scheduling import views_compliance

urlpatterns: list = [
    path("patients/<uuid:patient_id>/hours/", views_compliance.patient_hours_view, name="patient-hours"),
    path(
        "patients/<uuid:patient_id>/step-down/", views_compliance.stepdown_accept_view, name="stepdown-accept"
    ),
]
