"""Invitation links, outside any clinic (the invitee is not a member yet). Namespace "invite"."""

from django.urls import path

from clinic.accounts import invite_views

app_name = "invite"
urlpatterns = [
    path("<str:token>/", invite_views.invitation_accept_view, name="accept"),
]
