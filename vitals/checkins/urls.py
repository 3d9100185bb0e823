"""Staff pages for daily check-ins, under /c/<clinic_slug>/checkins/. Namespace "checkins"."""

from django.urls import path

from vitals.checkins import views

app_name = "checkins"

urlpatterns = [
    path("patients/<uuid:patient_id>/panel/", views.patient_panel_view, name="patient-panel"),
    path("patients/<uuid:patient_id>/", views.patient_checkins_view, name="patient"),
    path("patients/<uuid:patient_id>/links/new/", views.link_create_view, name="link-create"),
    path("links/<uuid:link_id>/revoke/", views.link_revoke_view, name="link-revoke"),
    path("entries/<uuid:checkin_id>/", views.checkin_detail_view, name="detail"),
    path("settings/", views.settings_view, name="settings"),
]
