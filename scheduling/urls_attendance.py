"""Routes: attendance (see scheduling/urls.py)."""

from django.urls import path

from scheduling import views_attendance as views
from scheduling import views_feeds

urlpatterns = [
    path("my-day/", views.my_day_view, name="my-day"),
    path("my-calendar-link/", views_feeds.my_feed_view, name="my-feed"),
    path("sessions/<uuid:occurrence_id>/attendance/", views.attendance_view, name="attendance"),
    path("sessions/<uuid:occurrence_id>/note/amend/", views.note_amend_view, name="note-amend"),
    path("sessions/<uuid:occurrence_id>/sign-in-sheet.pdf", views.sign_in_sheet_view, name="sign-in-sheet"),
]
