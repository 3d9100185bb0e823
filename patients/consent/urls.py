from django.urls import path

from patients.consent import views

app_name = "consent"

urlpatterns = [
    path("patients/<uuid:patient_id>/panel/", views.patient_panel_view, name="patient-panel"),
    path("patients/<uuid:patient_id>/new/", views.consent_create_view, name="create"),
    path("patients/<uuid:patient_id>/disclosures/", views.accounting_view, name="accounting"),
    path("patients/<uuid:patient_id>/disclosures/pdf/", views.accounting_pdf_view, name="accounting-pdf"),
    path("consents/<uuid:consent_id>/", views.consent_detail_view, name="detail"),
    path("consents/<uuid:consent_id>/pdf/", views.consent_pdf_view, name="pdf"),
    path("consents/<uuid:consent_id>/sign/", views.consent_sign_view, name="sign"),
    path("consents/<uuid:consent_id>/revoke/", views.consent_revoke_view, name="revoke"),
    path("consents/<uuid:consent_id>/expiry-event/", views.consent_expiry_event_view, name="expiry-event"),
    path("recipients/", views.recipient_list_view, name="recipients"),
    path("recipients/new/", views.recipient_create_view, name="recipient-create"),
    path("notice/", views.notice_view, name="notice"),
]
