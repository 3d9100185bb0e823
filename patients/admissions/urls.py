from django.urls import path

from patients.admissions import views

app_name = "admissions"

urlpatterns = [
    path("", views.board_view, name="board"),
    path("new/", views.inquiry_create_view, name="create"),
    path("inquiries/<uuid:inquiry_id>/", views.inquiry_detail_view, name="detail"),
    path("inquiries/<uuid:inquiry_id>/edit/", views.inquiry_edit_view, name="edit"),
    path("inquiries/<uuid:inquiry_id>/advance/", views.inquiry_advance_view, name="advance"),
    path("inquiries/<uuid:inquiry_id>/convert/", views.inquiry_convert_view, name="convert"),
]
