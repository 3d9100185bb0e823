from django.urls import path

from clinic.audit import views

app_name = "audit"
urlpatterns = [
    path("", views.audit_report_view, name="report"),
    path("export.csv", views.audit_export_view, name="export"),
]
