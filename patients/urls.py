from django.urls import path

from patients import views
from patients.sections import SECTIONS

app_name = "patients"

urlpatterns = [
    path("", views.patient_list_view, name="list"),
    path("new/", views.patient_create_view, name="create"),
    path("<uuid:patient_id>/", views.patient_detail_view, name="detail"),
    path("<uuid:patient_id>/edit/", views.patient_edit_view, name="edit"),
    path("<uuid:patient_id>/face-sheet.pdf", views.face_sheet_view, name="face-sheet"),
    path("<uuid:patient_id>/level-of-care/", views.level_of_care_view, name="level-of-care"),
]

# Each record section: listed and added per patient, edited and closed by the entry's own id.
for section in SECTIONS:
    section_views = views.SECTION_VIEWS[section.key]
    urlpatterns += [
        path(f"<uuid:patient_id>/{section.key}/", section_views["list"], name=f"{section.noun}-list"),
        path(f"<uuid:patient_id>/{section.key}/new/", section_views["add"], name=f"{section.noun}-add"),
        path(
            f"{section.key}/<uuid:{section.kwarg}>/edit/", section_views["edit"], name=f"{section.noun}-edit"
        ),
    ]
    if "close" in section_views:
        urlpatterns.append(
            path(
                f"{section.key}/<uuid:{section.kwarg}>/close/",
                section_views["close"],
                name=f"{section.noun}-close",
            )
        )
