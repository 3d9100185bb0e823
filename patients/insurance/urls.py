from django.urls import path

from patients.insurance import views

app_name = "insurance"

urlpatterns = [
    path("patients/<uuid:patient_id>/panel/", views.patient_panel, name="patient-panel"),
    path("patients/<uuid:patient_id>/coverages/new/", views.coverage_create, name="coverage-create"),
    path("coverages/<uuid:coverage_id>/", views.coverage_detail, name="coverage-detail"),
    path("coverages/<uuid:coverage_id>/edit/", views.coverage_edit, name="coverage-edit"),
    path(
        "coverages/<uuid:coverage_id>/verifications/new/",
        views.verification_create,
        name="verification-create",
    ),
    path("coverages/<uuid:coverage_id>/eligibility/new/", views.check_start, name="check-start"),
    path(
        "coverages/<uuid:coverage_id>/authorizations/new/",
        views.authorization_create,
        name="authorization-create",
    ),
    path("verifications/<uuid:verification_id>/", views.verification_detail, name="verification-detail"),
    path("eligibility/<uuid:check_id>/", views.check_detail, name="check-detail"),
    path("eligibility/<uuid:check_id>/response/", views.check_upload, name="check-upload"),
    path("authorizations/<uuid:authorization_id>/", views.authorization_detail, name="authorization-detail"),
    path("authorizations/<uuid:authorization_id>/edit/", views.authorization_edit, name="authorization-edit"),
    path("authorizations/<uuid:authorization_id>/usage/", views.usage_create, name="usage-create"),
    path("settings/", views.billing_profile, name="settings"),
]
