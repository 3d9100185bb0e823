from django.urls import path

from prescribers import views, views_coordination, views_letters, views_pdmp, views_registry, views_settings

app_name = "prescribers"

urlpatterns = [
    # The prescriber registry.
    path("", views_registry.registry_view, name="registry"),
    path("new/", views_registry.prescriber_create_view, name="prescriber-create"),
    path("<uuid:prescriber_id>/", views_registry.prescriber_detail_view, name="prescriber"),
    path("<uuid:prescriber_id>/edit/", views_registry.prescriber_edit_view, name="prescriber-edit"),
    path("<uuid:prescriber_id>/active/", views_registry.prescriber_active_view, name="prescriber-active"),
    # A patient's medication list (every source), its panel on the patient page, its PDF; medications.
    path("patients/<uuid:patient_id>/medications/", views.medication_list_view, name="patient-medications"),
    path("patients/<uuid:patient_id>/panel/", views.patient_panel_view, name="patient-panel"),
    path(
        "patients/<uuid:patient_id>/medications/pdf/", views.medication_list_pdf_view, name="medications-pdf"
    ),
    path(
        "patients/<uuid:patient_id>/medications/new/", views.medication_create_view, name="medication-create"
    ),
    path("medications/<uuid:med_id>/edit/", views.medication_edit_view, name="medication-edit"),
    path("medications/<uuid:med_id>/stop/", views.medication_stop_view, name="medication-stop"),
    # PDMP reports: upload, preview, import; a stored report and its PDF.
    path("patients/<uuid:patient_id>/pdmp/", views_pdmp.pdmp_import_view, name="pdmp-import"),
    path("pdmp/<uuid:import_id>/", views_pdmp.pdmp_import_detail, name="pdmp-import-detail"),
    path("pdmp/<uuid:import_id>/pdf/", views_pdmp.pdmp_import_pdf, name="pdmp-pdf"),
    # Prescribers of record.
    path(
        "patients/<uuid:patient_id>/prescribers/",
        views_coordination.of_record_view,
        name="patient-prescribers",
    ),
    path(
        "patients/<uuid:patient_id>/prescribers/add/",
        views_coordination.of_record_set_view,
        name="of-record-set",
    ),
    path("of-record/<uuid:of_record_id>/end/", views_coordination.of_record_end_view, name="of-record-end"),
    # The coordination log and tasks.
    path(
        "patients/<uuid:patient_id>/coordination/", views_coordination.coordination_view, name="coordination"
    ),
    path(
        "patients/<uuid:patient_id>/coordination/log/",
        views_coordination.entry_create_view,
        name="entry-create",
    ),
    path(
        "patients/<uuid:patient_id>/coordination/tasks/new/",
        views_coordination.task_create_view,
        name="task-create",
    ),
    path("tasks/<uuid:task_id>/close/", views_coordination.task_close_view, name="task-close"),
    # The letter to a prescriber (Part 2 consent gate) and its preview.
    path("patients/<uuid:patient_id>/letter/", views_letters.letter_send_view, name="letter-send"),
    path(
        "patients/<uuid:patient_id>/letter/preview/", views_letters.letter_preview_view, name="letter-preview"
    ),
    # Clinic settings: PDMP state storage policies, the drug table.
    path("settings/", views_settings.settings_view, name="settings"),
    path("settings/thresholds/", views_settings.thresholds_view, name="thresholds"),
    path("settings/drugs/", views_settings.drug_table_view, name="drugs"),
]
