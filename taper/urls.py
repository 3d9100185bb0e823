from django.urls import path

from taper import (
    views,
    views_actions,
    views_builder,
    views_documents,
    views_formulary,
    views_progress,
    views_settings,
)

app_name = "taper"

# Other parts of the taper area (review queue, progress, dose entry, PDFs) add their routes below.
urlpatterns = [
    # The patient's taper panel (on the patient page), plan history, and the builder with its preview.
    path("patients/<uuid:patient_id>/panel/", views.patient_panel_view, name="patient-panel"),
    path("patients/<uuid:patient_id>/plans/", views.patient_plans_view, name="patient-plans"),
    path("patients/<uuid:patient_id>/new/", views_builder.plan_create_view, name="plan-create"),
    path("patients/<uuid:patient_id>/preview/", views_builder.plan_preview_view, name="preview"),
    # A plan, its actions and its versions.
    path("plans/<uuid:plan_id>/", views.plan_detail_view, name="plan"),
    path("plans/<uuid:plan_id>/edit/", views_builder.plan_edit_view, name="plan-edit"),
    path("plans/<uuid:plan_id>/propose/", views_actions.plan_propose_view, name="plan-propose"),
    path("plans/<uuid:plan_id>/approve/", views_actions.plan_approve_view, name="plan-approve"),
    path("plans/<uuid:plan_id>/activate/", views_actions.plan_activate_view, name="plan-activate"),
    path("plans/<uuid:plan_id>/hold/", views_actions.plan_hold_view, name="plan-hold"),
    path("plans/<uuid:plan_id>/resume/", views_actions.plan_resume_view, name="plan-resume"),
    path("plans/<uuid:plan_id>/pace/", views_actions.plan_pace_view, name="plan-pace"),
    path("plans/<uuid:plan_id>/close/", views_actions.plan_close_view, name="plan-close"),
    path("versions/<uuid:version_id>/", views.version_detail_view, name="version"),
    # Documents: the patient's calendar, the prescriber's summary, and sending it out (Part 2 consent gate).
    path("plans/<uuid:plan_id>/calendar.pdf", views_documents.calendar_pdf_view, name="calendar-pdf"),
    path("plans/<uuid:plan_id>/summary.pdf", views_documents.summary_pdf_view, name="summary-pdf"),
    path("plans/<uuid:plan_id>/summary/send/", views_documents.summary_send_view, name="summary-send"),
    # Clinic settings: the formulary and the defaults for new plans.
    path("formulary/", views_formulary.formulary_view, name="formulary"),
    path("formulary/stocked/", views_formulary.formulary_stocked_view, name="formulary-stocked"),
    path("formulary/add/", views_formulary.formulary_add_view, name="formulary-add"),
    path("formulary/defaults/", views_settings.taper_settings_view, name="settings"),
    path("formulary/tail-floor/confirm/", views_settings.tail_floor_confirm_view, name="tail-floor-confirm"),
    # Progress (planned vs taken), dose entry (nurse) and the psychiatrist's review queue.
    path("plans/<uuid:plan_id>/progress/", views_progress.progress_view, name="progress"),
    path("plans/<uuid:plan_id>/doses/", views_progress.dose_record_view, name="dose-record"),
    path("review/", views_progress.review_queue_view, name="review"),
]
