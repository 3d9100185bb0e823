"""Routes: day-before reminders (see scheduling/urls.py)."""

from django.urls import path

from scheduling import views_reminders

urlpatterns = [
    path(
        "bookings/<uuid:booking_id>/reminded/", views_reminders.booking_reminded_view, name="booking-reminded"
    ),
]
