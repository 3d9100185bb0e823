"""Routes: setup (see scheduling/urls.py): programs, rooms, session types, series, availability."""

from django.urls import path

from scheduling import views_setup as views

urlpatterns = [
    path("setup/", views.setup_view, name="setup"),
    path("setup/programs/", views.program_list_view, name="program-list"),
    path("setup/programs/new/", views.program_new_view, name="program-new"),
    path("setup/programs/<uuid:program_id>/", views.program_edit_view, name="program-edit"),
    path("setup/rooms/", views.room_list_view, name="room-list"),
    path("setup/rooms/new/", views.room_new_view, name="room-new"),
    path("setup/rooms/<uuid:room_id>/", views.room_edit_view, name="room-edit"),
    path("setup/session-types/", views.session_type_list_view, name="session-type-list"),
    path("setup/series/", views.series_list_view, name="series-list"),
    path("setup/series/new/", views.series_new_view, name="series-new"),
    path("setup/series/<uuid:series_id>/", views.series_detail_view, name="series"),
    path("setup/series/<uuid:series_id>/following/", views.series_following_view, name="series-following"),
    path("setup/series/<uuid:series_id>/end/", views.series_end_view, name="series-end"),
    path("setup/availability/", views.availability_view, name="availability"),
    path("setup/availability/add/", views.availability_add_view, name="availability-add"),
    path(
        "setup/availability/<uuid:availability_id>/remove/",
        views.availability_remove_view,
        name="availability-remove",
    ),
]
