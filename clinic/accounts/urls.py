"""Clinic administration, mounted at /c/<clinic_slug>/admin/ (namespace "staff")."""

from django.urls import path

from clinic.accounts import views

app_name = "staff"
urlpatterns = [
    path("staff/", views.staff_list_view, name="staff"),
    path("staff/invite/", views.staff_invite_view, name="invite"),
    path("staff/<int:membership_id>/roles/", views.member_roles_view, name="member-roles"),
    path("staff/<int:membership_id>/deactivate/", views.member_deactivate_view, name="member-deactivate"),
    path(
        "staff/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke_view,
        name="invitation-revoke",
    ),
    path("settings/", views.clinic_settings_view, name="settings"),
]
