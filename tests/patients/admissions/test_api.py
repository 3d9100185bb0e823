"""The inquiries API: roles, validation as problem+json with nothing written, the advance action, filters."""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.admissions.models import Inquiry, InquiryStageChange, ReportedBenzodiazepine
from patients.admissions.services import inquiry_convert_to_patient
from patients.models import CareEpisode
from tests.conftest import token_client
from tests.dates import clinic_date
from tests.patients.admissions.conftest import make_inquiry, walk_to

pytestmark = pytest.mark.django_db

INQUIRIES = "/api/v1/inquiries/"
PROBLEM = "application/problem+json"
VALID = {
    "referral_source": "eap",
    "contact_name": "Casey Thornwhistle",
    "contact_relationship": "self",
    "first_name": "Casey",
    "last_name": "Thornwhistle",
    "date_of_birth": "1990-10-05",
    "reason": "Lorazepam daily since 2019.",
    "benzodiazepines": [{"drug": "lorazepam", "daily_dose_mg": "2.5"}],
    "other_substances": ["alcohol"],
}


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def patch(client, url, body):
    return client.patch(url, data=json.dumps(body), content_type="application/json")


def _rows(clinic):
    with tenant_context(clinic):
        return (
            Inquiry.objects.count(),
            ReportedBenzodiazepine.objects.count(),
            InquiryStageChange.objects.count(),
        )


def test_create_read_and_list(clinic_a):
    api = token_client(clinic_a, Role.ADMISSIONS)
    created = post(api, INQUIRIES, VALID)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["stage"] == "new" and body["benzodiazepines"] == [
        {"drug": "lorazepam", "daily_dose_mg": "2.50"}
    ]
    assert [c["to_stage"] for c in body["stage_changes"]] == ["new"]
    got = api.get(f"{INQUIRIES}{body['id']}/").json()
    assert got["last_name"] == "Thornwhistle"
    listed = api.get(INQUIRIES).json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]


BAD = {
    "impossible-dob": ({**VALID, "date_of_birth": "1990-02-30"}, "date_of_birth"),
    "future-dob": ({**VALID, "date_of_birth": "2999-01-01"}, "date_of_birth"),
    "dose-zero": (
        {**VALID, "benzodiazepines": [{"drug": "lorazepam", "daily_dose_mg": "0"}]},
        "benzodiazepines",
    ),
    "dose-negative": (
        {**VALID, "benzodiazepines": [{"drug": "lorazepam", "daily_dose_mg": "-3"}]},
        "benzodiazepines",
    ),
    "dose-huge": (
        {**VALID, "benzodiazepines": [{"drug": "lorazepam", "daily_dose_mg": "9000"}]},
        "benzodiazepines",
    ),
    "unknown-drug": (
        {**VALID, "benzodiazepines": [{"drug": "benzonium", "daily_dose_mg": "1"}]},
        "benzodiazepines",
    ),
    "oversized-reason": ({**VALID, "reason": "x" * 2001}, "reason"),
    "unknown-substance": ({**VALID, "other_substances": ["sugar"]}, "other_substances"),
    "missing-names": ({"referral_source": "self"}, "first_name"),
    "stage-is-read-only": ({**VALID, "stage": "admitted", "first_name": ""}, "first_name"),
}


@pytest.mark.parametrize(("body", "field"), BAD.values(), ids=BAD.keys())
def test_bad_input_is_a_400_problem_and_writes_nothing(clinic_a, body, field):
    api = token_client(clinic_a, Role.ADMISSIONS)
    before = _rows(clinic_a)
    response = post(api, INQUIRIES, body)
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert field in response.json()["errors"], response.json()
    assert _rows(clinic_a) == before


def test_stage_cannot_be_set_by_create_or_patch(clinic_a, inquiry_a):
    api = token_client(clinic_a, Role.ADMISSIONS)
    created = post(api, INQUIRIES, {**VALID, "stage": "admitted"}).json()
    assert created["stage"] == "new"
    patched = patch(api, f"{INQUIRIES}{inquiry_a.pk}/", {"stage": "admitted", "phone": "555-0177"})
    assert (
        patched.status_code == 200
        and patched.json()["stage"] == "new"
        and patched.json()["phone"] == "555-0177"
    )


def test_nurse_token_reads_but_cannot_write(clinic_a, inquiry_a):
    api = token_client(clinic_a, Role.NURSE)
    assert api.get(INQUIRIES).status_code == 200
    before = _rows(clinic_a)
    for response in (
        post(api, INQUIRIES, VALID),
        patch(api, f"{INQUIRIES}{inquiry_a.pk}/", {"phone": "555-0100"}),
        post(api, f"{INQUIRIES}{inquiry_a.pk}/advance/", {"to_stage": "pre_screened"}),
    ):
        assert response.status_code == 403 and response["Content-Type"] == PROBLEM
    assert _rows(clinic_a) == before


def test_auditor_token_cannot_read(clinic_a, inquiry_a):
    assert token_client(clinic_a, Role.AUDITOR).get(INQUIRIES).status_code == 403


def test_advance_through_the_pipeline(clinic_a, inquiry_a):
    api = token_client(clinic_a, Role.ADMISSIONS)
    advance = f"{INQUIRIES}{inquiry_a.pk}/advance/"
    options = api.get(advance).json()
    assert options["stage"] == "new"
    assert {o["to_stage"]: o["requires"] for o in options["allowed"]} == {
        "pre_screened": [],
        "referred_out": ["closed_reason"],
        "declined": ["closed_reason"],
    }
    assert (
        post(api, advance, {"to_stage": "pre_screened", "note": "screen done"}).json()["stage"]
        == "pre_screened"
    )
    assert post(api, advance, {"to_stage": "benefits_verified"}).status_code == 200
    when = (timezone.now() + datetime.timedelta(days=1)).isoformat()
    assert post(api, advance, {"to_stage": "intake_scheduled", "intake_at": when}).status_code == 200
    assert post(api, advance, {"to_stage": "assessed", "level_of_care": "php"}).status_code == 200
    refused = post(
        api,
        advance,
        {"to_stage": "admitted", "level_of_care": "php", "admitted_on": str(clinic_date())},
    )
    assert refused.status_code == 400 and "patient" in refused.json()["errors"]
    with tenant_context(clinic_a):
        patient = inquiry_convert_to_patient(actor=None, inquiry=inquiry_a)
    done = post(
        api,
        advance,
        {"to_stage": "admitted", "level_of_care": "php", "admitted_on": str(clinic_date())},
    )
    assert done.status_code == 200, done.json()
    assert done.json()["patient"] == str(patient.pk) and done.json()["admitted_on"] == str(clinic_date())
    with tenant_context(clinic_a):
        assert CareEpisode.objects.get(patient=patient).level == "php"


REFUSED = {
    "unknown-stage": ({"to_stage": "cured"}, "to_stage"),
    "skipping": ({"to_stage": "assessed", "level_of_care": "iop"}, "to_stage"),
    "close-without-reason": ({"to_stage": "declined"}, "closed_reason"),
    "bad-reason": ({"to_stage": "declined", "closed_reason": "bored"}, "closed_reason"),
    "oversized-note": ({"to_stage": "pre_screened", "note": "n" * 501}, "note"),
}


@pytest.mark.parametrize(("body", "field"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_advance_is_a_400_problem_and_changes_nothing(clinic_a, inquiry_a, body, field):
    api = token_client(clinic_a, Role.ADMISSIONS)
    before = _rows(clinic_a)
    response = post(api, f"{INQUIRIES}{inquiry_a.pk}/advance/", body)
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert field in response.json()["errors"], response.json()
    assert _rows(clinic_a) == before


def test_closed_inquiry_cannot_be_patched(clinic_a, inquiry_a):
    api = token_client(clinic_a, Role.ADMISSIONS)
    post(api, f"{INQUIRIES}{inquiry_a.pk}/advance/", {"to_stage": "declined", "closed_reason": "cost"})
    response = patch(api, f"{INQUIRIES}{inquiry_a.pk}/", {"phone": "555-0100"})
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM


def test_filters_stage_and_updated_since(clinic_a):
    old = make_inquiry(clinic_a, last_name="Older")
    moved = walk_to(clinic_a, make_inquiry(clinic_a, last_name="Moved"), "pre_screened")
    with tenant_context(clinic_a):
        Inquiry.objects.filter(pk=old.pk).update(updated_at=timezone.now() - datetime.timedelta(days=3))
    api = token_client(clinic_a, Role.CLINIC_ADMIN)
    by_stage = api.get(INQUIRIES, {"stage": "pre_screened"}).json()["results"]
    assert [row["id"] for row in by_stage] == [str(moved.pk)]
    since = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    recent = api.get(INQUIRIES, {"updated_since": since}).json()["results"]
    assert {row["id"] for row in recent} == {str(moved.pk)}
    assert api.get(INQUIRIES, {"stage": "teleported"}).status_code == 400


def test_assignee_must_be_pipeline_staff_of_this_clinic(clinic_a, staff_a, staff_b, inquiry_a):
    api = token_client(clinic_a, Role.ADMISSIONS)
    url = f"{INQUIRIES}{inquiry_a.pk}/"
    for outsider in (staff_a[Role.NURSE], staff_b[Role.ADMISSIONS]):
        response = patch(api, url, {"assigned_to": outsider.pk})
        assert response.status_code == 400 and "assigned_to" in response.json()["errors"]
    assert (
        patch(api, url, {"assigned_to": staff_a[Role.ADMISSIONS].pk}).json()["assigned_to"]
        == staff_a[Role.ADMISSIONS].pk
    )
