"""The clinic's taper settings page: stocked toggles (htmx and plain), adding a formulation, defaults."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from taper.formulary import clinic_catalogue
from taper.models import FormularyEntry, TaperSettings
from tests.conftest import client_for
from tests.taper.plans.views_support import builder_body, count, url

pytestmark = pytest.mark.django_db
FID = "diazepam:tablet:5mg"


def stocked(clinic) -> frozenset[str]:
    with tenant_context(clinic):
        return clinic_catalogue()[1]


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.CLINIC_ADMIN, 200), (Role.PSYCHIATRIST, 200), (Role.NURSE, 403), (Role.CLINICIAN, 403)],
)
def test_who_may_open_the_formulary(clinic_a, staff_a, role, status):
    response = client_for(staff_a[role]).get(url(clinic_a, "formulary/"))
    assert response.status_code == status
    if status == 200:
        html = response.content.decode()
        assert "diazepam 5 mg tablet" in html and "Defaults for new plans" in html
        assert "Taper formulary" in html or role == Role.PSYCHIATRIST  # in the admin navigation


def test_toggle_stocked_with_htmx_returns_the_row(clinic_a, staff_a):
    client = client_for(staff_a[Role.CLINIC_ADMIN])
    toggle = url(clinic_a, "formulary/stocked/")
    response = client.post(toggle, {"formulation": FID, "stocked": "0"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith("<tr") and "Not stocked" in html
    assert FID not in stocked(clinic_a)
    response = client.post(toggle, {"formulation": FID, "stocked": "1"})  # without JS: back to the page
    assert response.status_code == 302 and response["Location"].endswith(
        "/taper/formulary/#f-diazepamtablet5mg"
    )
    assert FID in stocked(clinic_a)
    assert count(clinic_a, FormularyEntry, catalogue_id=FID) == 1


def test_unknown_formulation_is_refused(clinic_a, staff_a):
    client = client_for(staff_a[Role.PSYCHIATRIST])
    toggle = url(clinic_a, "formulary/stocked/")
    response = client.post(
        toggle, {"formulation": "unobtainium:pill:5mg", "stocked": "0"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400 and "Unknown formulation" in response.content.decode()
    assert count(clinic_a, FormularyEntry) == 0
    assert client.get(toggle).status_code == 405


def test_an_unstocked_formulation_is_not_used_by_new_plans(clinic_a, patient_a, staff_a):
    psychiatrist = staff_a[Role.PSYCHIATRIST]
    client = client_for(psychiatrist)
    for fid in ("diazepam:liquid:1mg_per_ml", "diazepam:tablet:2mg"):
        client.post(url(clinic_a, "formulary/stocked/"), {"formulation": fid, "stocked": "0"})
    html = client.post(url(clinic_a, f"patients/{patient_a.pk}/preview/"), builder_body()).content.decode()
    schedule = html.split('id="preview-schedule"')[1].split("</table>")[0]
    assert "oral liquid" not in schedule and "diazepam 2 mg tablet" not in schedule
    assert "diazepam 5 mg tablet" in schedule
    # What is not stocked may still be named as a way to keep the pace, with the way to stock it.
    assert "Stock diazepam oral liquid 1 mg/mL" in html and "Open the formulary" in html


def test_add_a_clinic_formulation(clinic_a, staff_a):
    client = client_for(staff_a[Role.CLINIC_ADMIN])
    body = {
        "drug": "diazepam",
        "kind": "tablet",
        "strength_mg": "2.5",
        "split": "none",
        "mg_per_ml": "",
        "note": "Compounded",
    }
    response = client.post(url(clinic_a, "formulary/add/"), body)
    assert response.status_code == 302
    with tenant_context(clinic_a):
        entry = FormularyEntry.objects.get()
    assert (
        entry.strength_mg == Decimal("2.5") and entry.is_custom and entry.formulation_id in stocked(clinic_a)
    )
    html = client.get(url(clinic_a, "formulary/")).content.decode()
    assert (
        "diazepam 2.5 mg tablet" in html and "added by the clinic" in html and "Entered by the clinic" in html
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"drug": "unobtainium", "kind": "tablet", "strength_mg": "5"}, "Choose from the list."),
        ({"drug": "diazepam", "kind": "tablet", "strength_mg": ""}, "Give the strength in mg (more than 0)."),
        (
            {"drug": "diazepam", "kind": "tablet", "strength_mg": "0"},
            "Give the strength in mg (more than 0).",
        ),
        ({"drug": "diazepam", "kind": "oral_liquid", "mg_per_ml": ""}, "Give the concentration in mg per mL"),
        ({"drug": "diazepam", "kind": "tablet", "strength_mg": "-1"}, "The dose cannot be negative."),
    ],
)
def test_bad_formulation_is_explained_and_not_added(clinic_a, staff_a, body, message):
    body = {"split": "none", "mg_per_ml": "", "strength_mg": "", "note": "", **body}
    response = client_for(staff_a[Role.CLINIC_ADMIN]).post(url(clinic_a, "formulary/add/"), body)
    assert response.status_code == 400 and message in response.content.decode()
    assert count(clinic_a, FormularyEntry) == 0


def test_defaults_are_saved_and_used_by_the_builder(clinic_a, patient_a, staff_a):
    client = client_for(staff_a[Role.CLINIC_ADMIN])
    body = {"default_table": "va_dod", "default_rate_percent": "7.5", "default_interval_days": "21"}
    assert client.post(url(clinic_a, "formulary/defaults/"), body).status_code == 302
    with tenant_context(clinic_a):
        settings = TaperSettings.objects.get()
    assert (settings.default_table, settings.default_rate_percent, settings.default_interval_days) == (
        "va_dod",
        Decimal("7.5"),
        21,
    )
    page = (
        client_for(staff_a[Role.CLINICIAN])
        .get(url(clinic_a, f"patients/{patient_a.pk}/new/"))
        .content.decode()
    )
    assert 'name="rate_percent" value="7.5"' in page and 'name="interval_days" value="21"' in page
    assert '<option value="va_dod" selected>' in page


def test_bad_defaults_change_nothing(clinic_a, staff_a):
    client = client_for(staff_a[Role.CLINIC_ADMIN])
    body = {"default_table": "mine", "default_rate_percent": "120", "default_interval_days": "0"}
    response = client.post(url(clinic_a, "formulary/defaults/"), body)
    html = response.content.decode()
    assert response.status_code == 400 and "at most 100%" in html and "Give at least 1 day." in html
    assert count(clinic_a, TaperSettings, default_table="mine") == 0
    assert client_for(staff_a[Role.NURSE]).post(url(clinic_a, "formulary/defaults/"), body).status_code == 403


def test_the_end_of_taper_floor_is_set_by_the_admin_and_confirmed_by_a_psychiatrist(
    clinic_a, patient_a, staff_a
):
    admin, psychiatrist = client_for(staff_a[Role.CLINIC_ADMIN]), client_for(staff_a[Role.PSYCHIATRIST])
    review = psychiatrist.get(url(clinic_a, "review/")).content.decode()
    assert 'id="confirm-tail-floor"' in review and "Confirm 2 mg" in review
    preview = psychiatrist.post(
        url(clinic_a, f"patients/{patient_a.pk}/preview/"), builder_body()
    ).content.decode()
    assert "not yet confirmed by a clinician" in preview
    assert (
        admin.post(url(clinic_a, "formulary/tail-floor/confirm/")).status_code == 403
    )  # a psychiatrist's call
    assert psychiatrist.post(url(clinic_a, "formulary/tail-floor/confirm/")).status_code == 302
    with tenant_context(clinic_a):
        settings = TaperSettings.objects.get()
        assert (
            settings.tail_floor_confirmed and settings.tail_floor_confirmed_by == staff_a[Role.PSYCHIATRIST]
        )
    assert 'id="confirm-tail-floor"' not in psychiatrist.get(url(clinic_a, "review/")).content.decode()
    preview = psychiatrist.post(
        url(clinic_a, f"patients/{patient_a.pk}/preview/"), builder_body()
    ).content.decode()
    assert "not yet confirmed by a clinician" not in preview
    assert "confirmed by" in admin.get(url(clinic_a, "formulary/")).content.decode()
    # A new floor clears the confirmation; a floor above 5 mg is refused.
    body = {"default_table": "ashton", "default_rate_percent": "10", "default_interval_days": "14"}
    assert (
        admin.post(url(clinic_a, "formulary/defaults/"), {**body, "tail_floor_de_mg": "6"}).status_code == 400
    )
    assert (
        admin.post(url(clinic_a, "formulary/defaults/"), {**body, "tail_floor_de_mg": "5"}).status_code == 302
    )
    with tenant_context(clinic_a):
        settings = TaperSettings.objects.get()
        assert settings.tail_floor_de_mg == 5 and not settings.tail_floor_confirmed
    assert "Confirm 5 mg" in psychiatrist.get(url(clinic_a, "review/")).content.decode()
