"""The prescriber registry pages and the prescribing settings."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from prescribers.models import PdmpStatePolicy, Prescriber
from tests.conftest import client_for
from tests.prescribers.factories import (
    DEAS,
    NPIS,
    make_fill,
    make_medication,
    make_prescriber,
    prescriber_fields,
)

pytestmark = pytest.mark.django_db


def url(name: str, clinic, **kwargs) -> str:
    return reverse(f"prescribers:{name}", kwargs={"clinic_slug": clinic.slug, **kwargs})


def test_search_by_name_npi_dea_and_practice(clinic_a, admissions):
    make_prescriber(clinic_a, npi=NPIS[0], dea=DEAS[0], last_name="Hale", practice="Maple Family Medicine")
    make_prescriber(clinic_a, npi=NPIS[1], last_name="Quinn", practice="Riverside Pain Clinic")
    client = client_for(admissions)
    for query, expected in (
        ("hale", "Hale"),
        (NPIS[1], "Quinn"),
        (DEAS[0].lower(), "Hale"),
        ("riverside", "Quinn"),
    ):
        body = client.get(url("registry", clinic_a), {"q": query}).content.decode()
        others = {"Hale", "Quinn"} - {expected}
        assert expected in body and not any(f"Robin {o}" in body for o in others), query
    rows = client.get(url("registry", clinic_a), {"q": "hale"}, HTTP_HX_REQUEST="true")
    assert "<html" not in rows.content.decode() and "Hale" in rows.content.decode()


def test_create_edit_and_a_duplicate_npi_links_to_the_existing_record(clinic_a, admissions):
    client = client_for(admissions)
    response = client.post(url("prescriber-create", clinic_a), prescriber_fields(practice="Maple"))
    with tenant_context(clinic_a):
        first = Prescriber.objects.get()
    assert response.status_code == 302 and response["Location"] == url(
        "prescriber", clinic_a, prescriber_id=first.pk
    )
    twin = client.post(url("prescriber-create", clinic_a), prescriber_fields(first_name="Other"))
    assert twin.status_code == 400
    body = twin.content.decode()
    assert "already has this NPI" in body
    assert url("prescriber", clinic_a, prescriber_id=first.pk) in body and 'id="duplicates"' in body
    bad = client.post(
        url("prescriber-create", clinic_a), prescriber_fields(npi="1234567890", dea="AP5836728")
    )
    assert bad.status_code == 400 and "check digit" in bad.content.decode()
    edit = client.post(
        url("prescriber-edit", clinic_a, prescriber_id=first.pk),
        prescriber_fields(specialty="Family medicine"),
    )
    assert edit.status_code == 302
    with tenant_context(clinic_a):
        assert Prescriber.objects.count() == 1 and Prescriber.objects.get().specialty == "Family medicine"


def test_deactivate_and_reactivate(clinic_a, admissions):
    prescriber = make_prescriber(clinic_a)
    client = client_for(admissions)
    active = url("prescriber-active", clinic_a, prescriber_id=prescriber.pk)
    assert client.post(active, {}).status_code == 400
    assert client.post(active, {"is_active": "0"}).status_code == 302
    with tenant_context(clinic_a):
        assert not Prescriber.objects.get().is_active
    assert "Inactive" in client.get(url("prescriber", clinic_a, prescriber_id=prescriber.pk)).content.decode()
    assert prescriber.display_name not in client.get(url("registry", clinic_a)).content.decode()
    listed = client.get(url("registry", clinic_a), {"inactive": "on"}).content.decode()
    assert prescriber.display_name in listed
    client.post(active, {"is_active": "1"})
    with tenant_context(clinic_a):
        assert Prescriber.objects.get().is_active


def test_detail_shows_patients_and_recent_prescriptions_only_to_the_care_team(
    clinic_a, patient_a, nurse, admissions
):
    from prescribers.services import prescriber_of_record_set

    prescriber = make_prescriber(clinic_a)
    make_medication(clinic_a, patient_a, prescriber=prescriber)
    make_fill(clinic_a, patient_a, prescriber=prescriber)
    with tenant_context(clinic_a):
        prescriber_of_record_set(actor=None, patient=patient_a, prescriber=prescriber, role="other")
    page = client_for(nurse).get(url("prescriber", clinic_a, prescriber_id=prescriber.pk)).content.decode()
    assert (
        patient_a.display_name in page
        and "Oxycodone 10 mg tablet" in page
        and "Alprazolam 1 mg tablet" in page
    )
    with tenant_context(clinic_a):
        listed = AuditEvent.objects.filter(action=AuditEvent.Action.LIST, patient_id=patient_a.pk)
        assert listed.filter(detail__view="prescriber page").count() == 1
    registry_only = client_for(admissions).get(url("prescriber", clinic_a, prescriber_id=prescriber.pk))
    assert registry_only.status_code == 200 and patient_a.display_name not in registry_only.content.decode()


def test_registry_roles(clinic_a, staff_a):
    prescriber = make_prescriber(clinic_a)
    assert client_for(staff_a["auditor"]).get(url("registry", clinic_a)).status_code == 403
    assert (
        client_for(staff_a["auditor"])
        .get(url("prescriber", clinic_a, prescriber_id=prescriber.pk))
        .status_code
        == 403
    )
    assert client_for(staff_a["clinic_admin"]).get(url("prescriber-create", clinic_a)).status_code == 200


# --- settings --------------------------------------------------------------------------------------------
def test_state_policies_are_set_by_the_clinic_admin(clinic_a, clinic_admin, nurse):
    client = client_for(clinic_admin)
    assert client.get(url("settings", clinic_a)).status_code == 200
    assert (
        client.post(
            url("settings", clinic_a), {"state": "or", "storage": "pdf", "note": "ORS 431A"}
        ).status_code
        == 302
    )
    bad = client.post(url("settings", clinic_a), {"state": "O1", "storage": "raw"})
    assert bad.status_code == 400 and "two-letter state code" in bad.content.decode()
    missing = client.post(url("settings", clinic_a), {"state": "WA"})
    assert missing.status_code == 400
    with tenant_context(clinic_a):
        assert list(PdmpStatePolicy.objects.values_list("state", "storage", "note")) == [
            ("OR", "pdf", "ORS 431A")
        ]
    page = client.get(url("settings", clinic_a), {"state": "OR"}).content.decode()
    assert "Change OR" in page and "Keep the PDF report only" in page
    assert client_for(nurse).get(url("settings", clinic_a)).status_code == 403


def _thresholds(clinic) -> dict:
    from prescribers.models import PrescribingSettings

    with tenant_context(clinic):
        row = PrescribingSettings.objects.first()
        return row.overrides if row else {}


DEFAULT_CLASSES = ["barbiturate", "benzodiazepine", "opioid", "z_drug"]


def test_the_clinic_admin_tightens_thresholds_and_every_patient_is_rechecked(
    clinic_a, clinic_admin, monkeypatch, django_capture_on_commit_callbacks
):
    from safety import tasks

    sweeps = []
    monkeypatch.setattr(tasks.sweep_coprescriptions, "delay", lambda *args: sweeps.append(args))
    client = client_for(clinic_admin)
    page = client.get(url("settings", clinic_a)).content.decode()
    assert "50 MME/day" in page and "Why these numbers" in page and "clinical.md" not in page
    form = {"mme_reassess": "40", "mpe_definition": "5x5x90", "mpe_pharmacies_min": "3"}
    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(url("thresholds", clinic_a), {**form, "mpe_classes": DEFAULT_CLASSES})
    assert saved.status_code == 302 and saved["Location"].endswith("#thresholds")
    assert _thresholds(clinic_a) == {"mme_reassess": "40", "mpe_pharmacies_min": 3}
    assert sweeps == [(clinic_a.pk,)]
    page = client.get(url("settings", clinic_a)).content.decode()
    assert "40 MME/day" in page and "≥3 pharmacies within 90 days" in page
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(object_type="prescribers.prescribingsettings").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mme_reassess": "60"}, "looser than the reference value of 50"),
        ({"mpe_window_days": "30"}, "may lengthen the window, not shorten it"),
        ({"mpe_window_days": "9999"}, "less than or equal to 730"),
        ({"mpe_prescribers_min": "1"}, "greater than or equal to 2"),
        ({"recent_days": "7"}, "may look further back, not less far"),
        ({"mme_reassess": "45", "mme_avoid": "40"}, "must not be above the &#x27;avoid&#x27; level"),
        ({"mpe_classes": ["opioid", "benzodiazepine"]}, "Leaving out barbiturate, z_drug"),
        ({"mpe_definition": "7x7x7"}, "Select a valid choice"),
    ],
)
def test_a_looser_or_malformed_threshold_is_refused_and_nothing_changes(
    clinic_a, clinic_admin, changes, message
):
    before = _thresholds(clinic_a)
    form = {"mpe_definition": "5x5x90", "mpe_classes": DEFAULT_CLASSES, **changes}
    refused = client_for(clinic_admin).post(url("thresholds", clinic_a), form)
    assert refused.status_code == 400
    body = refused.content.decode()
    assert message in body and 'id="error-summary"' in body
    assert _thresholds(clinic_a) == before


def test_the_stricter_definition_and_an_added_class_are_kept(clinic_a, clinic_admin, nurse):
    form = {"mpe_definition": "pqa_4x4x180", "mpe_classes": [*DEFAULT_CLASSES, "muscle_relaxant"]}
    assert client_for(clinic_admin).post(url("thresholds", clinic_a), form).status_code == 302
    assert _thresholds(clinic_a) == {
        "mpe_definition": "pqa_4x4x180",
        "mpe_classes": sorted([*DEFAULT_CLASSES, "muscle_relaxant"]),
    }
    page = client_for(clinic_admin).get(url("settings", clinic_a)).content.decode()
    assert "≥4 prescribers and ≥4 pharmacies within 180 days" in page
    assert client_for(nurse).post(url("thresholds", clinic_a), form).status_code == 403
    assert client_for(clinic_admin).get(url("thresholds", clinic_a)).status_code == 405


def test_drug_table_lists_classes_codes_and_sources(clinic_a, clinic_admin):
    body = client_for(clinic_admin).get(url("drugs", clinic_a)).content.decode()
    assert "alprazolam" in body and "xanax" in body and ">596<" in body
    assert "Benzodiazepine" in body and "Opioid" in body and "Secondary sources" in body
