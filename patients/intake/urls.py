from django.urls import path

from patients.intake import views

app_name = "intake"

urlpatterns = [
    path("patients/<uuid:patient_id>/panel/", views.patient_panel_view, name="patient-panel"),
    path("patients/<uuid:patient_id>/new/", views.assessment_create_view, name="create"),
    path("assessments/<uuid:assessment_id>/", views.assessment_detail_view, name="detail"),
    path("assessments/<uuid:assessment_id>/edit/", views.assessment_edit_view, name="edit"),
    path("assessments/<uuid:assessment_id>/sign/", views.assessment_sign_view, name="sign"),
    path("assessments/<uuid:assessment_id>/amend/", views.assessment_amend_view, name="amend"),
    path("assessments/<uuid:assessment_id>/pdf/", views.assessment_pdf_view, name="pdf"),
]
