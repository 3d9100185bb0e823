"""Routes: calendar and bookings (see scheduling/urls.py)."""

from django.urls import path

from scheduling import views_calendar as views

urlpatterns = [
    # The week and the day (?week= / ?date=, filters by facilitator, room, program).
    path("week/", views.week_view, name="week"),
    path("day/", views.day_view, name="day"),
    # One session: its roster, booking into it, moving or cancelling it; cancelling one booking.
    path("sessions/<uuid:occurrence_id>/", views.occurrence_view, name="occurrence"),
    path("sessions/<uuid:occurrence_id>/book/", views.occurrence_book_view, name="occurrence-book"),
    path("sessions/<uuid:occurrence_id>/move/", views.occurrence_move_view, name="occurrence-move"),
    path("sessions/<uuid:occurrence_id>/cancel/", views.occurrence_cancel_view, name="occurrence-cancel"),
    path("bookings/<uuid:booking_id>/cancel/", views.booking_cancel_view, name="booking-cancel"),
    # A patient's schedule, its panel on the patient record, enrolment and one-off bookings.
    path("patients/<uuid:patient_id>/", views.patient_schedule_view, name="patient-schedule"),
    path("patients/<uuid:patient_id>/panel/", views.patient_panel_view, name="patient-panel"),
    path("patients/<uuid:patient_id>/enrol/", views.patient_enrol_view, name="patient-enrol"),
    path("patients/<uuid:patient_id>/book/", views.patient_book_view, name="patient-book"),
    path(
        "patients/<uuid:patient_id>/new-session/", views.patient_session_new_view, name="patient-session-new"
    ),
    path("enrolments/<uuid:enrolment_id>/end/", views.enrolment_end_view, name="enrolment-end"),
]
