"""The patient's check-in page, outside any clinic URL: /checkin/<token>/. Namespace "checkin-public"."""

from django.urls import path

from vitals.checkins import public_views

app_name = "checkin-public"

urlpatterns = [
    path("<str:token>/", public_views.checkin_view, name="checkin"),
]
