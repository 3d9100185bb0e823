"""Taper plans over REST: create, actions with their roles, versions, steps, doses, bad input, schema."""

from __future__ import annotations

import datetime
import json

import pytest
from django.test import Client

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from taper.models import DoseRecord, TaperPlan, TaperPlanVersion, TaperStep
from tests.conftest import token_client
from tests.dates import clinic_date

pytestmark = pytest.mark.django_db
PLANS = "/api/v1/taper-plans/"
# A plan may not start in the past: the first step is today, in the test clinic's time zone (the default).
START = clinic_date()


def _api(clinic, *roles) -> Client:
    return token_client(clinic, *roles, name=f"EHR {'+'.join(roles)}")


def _post(client, url, body):
    return client.post(url, data=json.dumps(body, default=str), content_type="application/json")


def _body(patient, **changes):
    body = {
        "patient": str(patient.pk),
        "regimen": [
            {"drug": "diazepam", "dose_mg": "10", "time_of_day": "08:00"},
            {"drug": "diazepam", "dose_mg": "10", "time_of_day": "21:00"},
        ],
        "start_date": START,
        "rate_percent": "10",
        "interval_days": 14,
        "table": "ashton",
        "high_dose_confirmation": "20",  # 20 mg diazepam-equivalent a day: the guideline's high band
    }
    body.update(changes)
    return body


def _counts(clinic):
    with tenant_context(clinic):
        return TaperPlan.objects.count(), TaperPlanVersion.objects.count(), TaperStep.objects.count()


@pytest.fixture
def psychiatrist_api(clinic_a):
    return _api(clinic_a, Role.PSYCHIATRIST)


@pytest.fixture
def nurse_api(clinic_a):
    return _api(clinic_a, Role.NURSE)


def _act(client, plan_id, action, **fields):
    return _post(client, f"{PLANS}{plan_id}/transition/", {"action": action, **fields})


def _active_plan(psychiatrist_api, nurse_api, patient) -> str:
    created = _post(nurse_api, PLANS, _body(patient))
    assert created.status_code == 201, created.json()
    plan_id = created.json()["id"]
    assert _act(nurse_api, plan_id, "propose").status_code == 200
    assert _approve(psychiatrist_api, plan_id, note="Agreed").status_code == 200
    assert _act(nurse_api, plan_id, "activate").json()["status"] == "active"
    return plan_id


def _approve(psychiatrist_api, plan_id, **fields):
    """Approve with the digest of the warnings the current version carries (what a client shows first)."""
    digest = psychiatrist_api.get(f"{PLANS}{plan_id}/").json()["current_version"]["warnings_digest"]
    return _act(psychiatrist_api, plan_id, "approve", warnings_seen=digest, **fields)


# --- plans and their actions --------------------------------------------------------------------------------
def test_create_read_and_filter_plans(clinic_a, patient_a, nurse_api):
    response = _post(nurse_api, PLANS, _body(patient_a, reason="Starting the taper"))
    assert response.status_code == 201, response.json()
    plan = response.json()
    assert plan["status"] == "draft" and plan["patient"] == str(patient_a.pk)
    version = plan["current_version"]
    assert version["number"] == 1 and version["table_label"] == "Ashton (2002, rev. 2007)"
    assert version["reason"] == "Starting the taper" and version["baseline_de_mg"] == "20.000"
    assert "25%" in version["cap_wording"] and version["cap_source"].startswith("http")

    detail = nurse_api.get(f"{PLANS}{plan['id']}/")
    assert detail.status_code == 200 and detail.json()["id"] == plan["id"]
    assert [r["id"] for r in nurse_api.get(PLANS, {"patient": patient_a.pk}).json()["results"]] == [
        plan["id"]
    ]
    assert nurse_api.get(PLANS, {"status": "active"}).json()["results"] == []
    later = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).isoformat()
    assert nurse_api.get(PLANS, {"updated_since": later}).json()["results"] == []
    assert len(nurse_api.get(PLANS, {"updated_since": "2020-01-01T00:00:00Z"}).json()["results"]) == 1
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(action=AuditEvent.Action.VIEW, object_id=plan["id"]).exists()


def test_actions_follow_the_roles_and_the_lifecycle(clinic_a, patient_a, psychiatrist_api, nurse_api):
    plan_id = _post(nurse_api, PLANS, _body(patient_a)).json()["id"]
    options = nurse_api.get(f"{PLANS}{plan_id}/transition/").json()
    assert options["status"] == "draft"
    allowed = {a["action"]: a["allowed_for_you"] for a in options["actions"]}
    assert allowed == {"propose": True, "approve": False, "close": False}

    assert _act(nurse_api, plan_id, "propose").json()["status"] == "proposed"
    refused = _act(nurse_api, plan_id, "approve")
    assert refused.status_code == 403 and refused["Content-Type"] == "application/problem+json"
    assert "taper.approve" in refused.json()["detail"]
    assert nurse_api.get(f"{PLANS}{plan_id}/").json()["status"] == "proposed"

    unseen = _act(psychiatrist_api, plan_id, "approve", note="Reviewed")
    assert unseen.status_code == 400 and "warnings_seen" in unseen.json()["errors"]
    approved = _approve(psychiatrist_api, plan_id, note="Reviewed")
    assert approved.json()["status"] == "approved"
    assert approved.json()["current_version"]["approved_by"] is None  # an API client, not a person
    too_early = _act(nurse_api, plan_id, "hold", reason="x")
    assert too_early.status_code == 403  # holding is the psychiatrist's
    assert _act(psychiatrist_api, plan_id, "hold", reason="x").status_code == 400  # not active yet

    active = _act(nurse_api, plan_id, "activate")
    assert active.status_code == 200 and active.json()["status"] == "active"
    again = _act(nurse_api, plan_id, "activate")
    assert again.status_code == 200 and again.json()["updated_at"] == active.json()["updated_at"]

    hold_from = START + datetime.timedelta(days=20)
    held = _act(psychiatrist_api, plan_id, "hold", from_date=hold_from, reason="Withdrawal symptoms")
    assert held.status_code == 200 and held.json()["held_since"] == hold_from.isoformat()
    assert held.json()["current_version"]["change"] == "held"
    resumed = _act(
        psychiatrist_api, plan_id, "resume", from_date=hold_from + datetime.timedelta(days=7), reason="Better"
    )
    assert resumed.status_code == 200 and resumed.json()["held_since"] is None

    no_pace = _act(
        psychiatrist_api, plan_id, "slow", reason="Slower", from_date=hold_from + datetime.timedelta(days=14)
    )
    assert no_pace.status_code == 400 and set(no_pace.json()["errors"]) == {"rate_percent", "interval_days"}
    slowed = _act(
        psychiatrist_api,
        plan_id,
        "slow",
        reason="Slower",
        from_date=hold_from + datetime.timedelta(days=14),
        rate_percent="5",
        interval_days=21,
    )
    assert slowed.status_code == 200 and slowed.json()["current_version"]["number"] == 4

    no_reason = _act(psychiatrist_api, plan_id, "close", outcome="stopped")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]
    closed = _act(psychiatrist_api, plan_id, "close", outcome="stopped", reason="Patient moved away")
    assert closed.json()["status"] == "stopped"
    assert nurse_api.get(f"{PLANS}{plan_id}/transition/").json()["actions"] == []


def test_versions_and_steps_are_readable_and_past_versions_stay(
    clinic_a, patient_a, psychiatrist_api, nurse_api
):
    plan_id = _active_plan(psychiatrist_api, nurse_api, patient_a)
    hold_from = START + datetime.timedelta(days=20)
    _act(psychiatrist_api, plan_id, "hold", from_date=hold_from, days=10, reason="Symptoms")

    versions = nurse_api.get("/api/v1/taper-versions/", {"plan": plan_id}).json()["results"]
    assert [v["number"] for v in versions] == [2, 1]
    first = nurse_api.get(f"/api/v1/taper-versions/{versions[1]['id']}/").json()
    assert first["regimen"][0] == {
        "drug": "diazepam",
        "dose_mg": "10.000",
        "time_of_day": "08:00",
        "form": None,
    }
    assert "JGIM 2025" in first["equivalence_source"] and first["plan"] == plan_id

    current = nurse_api.get("/api/v1/taper-steps/", {"plan": plan_id, "page_size": 200}).json()["results"]
    assert {s["version"] for s in current} == {versions[0]["id"]}
    assert [s["index"] for s in current] == list(range(1, len(current) + 1))
    assert any(s["phase"] == "hold" for s in current)
    step = current[0]
    assert step["doses"][0]["drug"] == "diazepam" and step["daily_mg_by_drug"]["diazepam"]
    old = nurse_api.get("/api/v1/taper-steps/", {"version": versions[1]["id"], "page_size": 200}).json()[
        "results"
    ]
    assert old and not any(s["phase"] == "hold" for s in old)  # version 1 is kept as it was


def test_dose_records(clinic_a, patient_a, psychiatrist_api, nurse_api):
    plan_id = _active_plan(psychiatrist_api, nurse_api, patient_a)
    url = "/api/v1/dose-records/"
    made = _post(nurse_api, url, {"plan": plan_id, "day": START, "as_planned": True})
    assert made.status_code == 201, made.json()
    assert made.json()["source"] == "api" and made.json()["de_mg"] == made.json()["planned_de_mg"]
    replaced = _post(nurse_api, url, {"plan": plan_id, "day": START, "mg_by_drug": {"diazepam": "25"}})
    assert replaced.status_code == 200 and replaced.json()["as_planned"] is None
    assert replaced.json()["mg_by_drug"] == {"diazepam": "25"}
    listed = nurse_api.get(url, {"plan": plan_id}).json()["results"]
    assert [r["id"] for r in listed] == [made.json()["id"]]

    for bad, field in [
        ({"mg_by_drug": {"diazepam": "-1"}}, "mg_by_drug"),
        ({"mg_by_drug": {"unobtainium": "1"}}, "mg_by_drug"),
        ({"day": clinic_date() + datetime.timedelta(days=3), "as_planned": True}, "day"),
        ({}, "mg_by_drug"),
    ]:
        body = {"plan": plan_id, "day": START, **bad}
        response = _post(nurse_api, url, body)
        assert response.status_code == 400 and field in response.json()["errors"], (bad, response.json())
        assert response["Content-Type"] == "application/problem+json"
    with tenant_context(clinic_a):
        assert DoseRecord.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"regimen": [{"drug": "diazepam", "dose_mg": "0", "time_of_day": "08:00"}]}, "regimen"),
        ({"regimen": [{"drug": "diazepam", "dose_mg": "-5", "time_of_day": "08:00"}]}, "regimen"),
        ({"rate_percent": "150"}, "rate_percent"),
        ({"regimen": [{"drug": "unobtainium", "dose_mg": "5", "time_of_day": "08:00"}]}, "regimen"),
        ({"regimen": [{"drug": "diazepam", "dose_mg": "5", "time_of_day": "8 in the morning"}]}, "regimen"),
        ({"table": "nonsense"}, "table"),
        ({"interval_days": 0}, "interval_days"),
        ({"regimen": []}, "regimen"),
        ({"rate_percent": "40"}, "rate_percent"),  # over the guideline cap without an override
        ({"interval_days": 10000}, "interval_days"),
        ({"regimen": [{"drug": "alprazolam", "dose_mg": "900", "time_of_day": "21:00"}]}, "regimen"),
        ({"start_date": START - datetime.timedelta(days=1)}, "start_date"),
        ({"start_date": datetime.date(2999, 1, 1)}, "start_date"),
        ({"high_dose_confirmation": ""}, "high_dose_confirmation"),
        ({"holds": [{"days": 10000, "on_date": START}]}, "holds"),
    ],
)
def test_bad_plan_input_is_a_400_problem_and_saves_nothing(clinic_a, patient_a, nurse_api, change, field):
    response = _post(nurse_api, PLANS, _body(patient_a, **change))
    assert response.status_code == 400, response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"], response.json()
    assert _counts(clinic_a) == (0, 0, 0)


def test_unstocked_formulation_is_refused(clinic_a, patient_a, nurse_api):
    from taper.formulary import formulary_set_stocked

    with tenant_context(clinic_a):
        for fid in ("alprazolam:tablet:0.25mg", "alprazolam:tablet:0.5mg", "alprazolam:tablet:1mg"):
            formulary_set_stocked(actor=None, formulation_id=fid, stocked=False)
        formulary_set_stocked(actor=None, formulation_id="alprazolam:tablet:2mg", stocked=False)
        formulary_set_stocked(actor=None, formulation_id="alprazolam:liquid:1mg_per_ml", stocked=False)
    body = _body(patient_a, regimen=[{"drug": "alprazolam", "dose_mg": "0.5", "time_of_day": "08:00"}])
    response = _post(nurse_api, PLANS, body)
    assert response.status_code == 400 and "regimen" in response.json()["errors"], response.json()
    assert _counts(clinic_a) == (0, 0, 0)


def test_cap_override_only_by_a_psychiatrist(clinic_a, patient_a, psychiatrist_api, nurse_api):
    body = _body(patient_a, rate_percent="40", override_reason="Patient's informed choice")
    refused = _post(nurse_api, PLANS, body)
    assert refused.status_code == 400 and "override_reason" in refused.json()["errors"]
    assert _counts(clinic_a) == (0, 0, 0)
    unnamed = _post(
        psychiatrist_api, PLANS, body
    )  # a reason alone accepts no step: the problem says which and why
    problem = unnamed.json()
    assert unnamed.status_code == 400 and "rate_percent" in problem["errors"]
    steps = [v["step"] for v in problem["violations"]]
    assert steps and all(float(v["percent"]) > 25 for v in problem["violations"])
    assert problem["alternatives"][-1] == {
        "code": "override",
        "label": problem["alternatives"][-1]["label"],
        "outcome": "a psychiatrist's decision, kept with the plan",
        "changes": {"override_steps": ",".join(map(str, steps))},
        "fixes": True,
        "psychiatrist_only": True,
    }
    assert any(a["code"] == "slower_rate" and a["fixes"] for a in problem["alternatives"])
    assert _counts(clinic_a) == (0, 0, 0)
    allowed = _post(psychiatrist_api, PLANS, {**body, "override_steps": steps})
    assert allowed.status_code == 201, allowed.json()
    version = allowed.json()["current_version"]
    assert version["violations"] and version["override_steps"] == steps
    assert {w["code"] for w in version["warnings"]} >= {"cap_override", "high_dose"}


def test_approval_records_the_warnings_it_was_given(clinic_a, patient_a, psychiatrist_api, nurse_api):
    plan_id = _post(nurse_api, PLANS, _body(patient_a)).json()["id"]
    stale = _act(psychiatrist_api, plan_id, "approve", warnings_seen="0" * 32)
    assert stale.status_code == 400 and "warnings_seen" in stale.json()["errors"]
    assert _approve(psychiatrist_api, plan_id).json()["status"] == "approved"
    version_id = psychiatrist_api.get(f"{PLANS}{plan_id}/").json()["current_version"]["id"]
    version = psychiatrist_api.get(f"/api/v1/taper-versions/{version_id}/").json()
    assert version["approval_warnings"] == version["warnings"] and version["warnings"]
    assert all(w["rule"] and w["title"] for w in version["warnings"])


def test_roles_outside_the_care_team_are_refused(clinic_a, patient_a, nurse_api):
    plan_id = _post(nurse_api, PLANS, _body(patient_a)).json()["id"]
    admissions = _api(clinic_a, Role.ADMISSIONS)
    for url in (PLANS, f"{PLANS}{plan_id}/", "/api/v1/taper-steps/", "/api/v1/dose-records/"):
        assert admissions.get(url).status_code == 403, url
    assert _post(admissions, PLANS, _body(patient_a)).status_code == 403
    assert _act(admissions, plan_id, "propose").status_code == 403
    auditor = _api(clinic_a, Role.AUDITOR)
    assert _post(auditor, "/api/v1/dose-records/", {"plan": plan_id, "day": START}).status_code == 403


def test_another_clinics_plan_is_not_found(clinic_a, clinic_b, patient_a, nurse_api):
    plan_id = _post(nurse_api, PLANS, _body(patient_a)).json()["id"]
    other = _api(clinic_b, Role.PSYCHIATRIST, Role.NURSE)
    assert other.get(f"{PLANS}{plan_id}/").status_code == 404
    assert _act(other, plan_id, "approve").status_code == 404
    assert other.get(PLANS).json()["results"] == []
    made = _post(other, "/api/v1/dose-records/", {"plan": plan_id, "day": START, "as_planned": True})
    assert made.status_code == 400 and "plan" in made.json()["errors"]
    with_patient = _post(other, PLANS, _body(patient_a))
    assert with_patient.status_code == 400 and "patient" in with_patient.json()["errors"]


def test_schema_describes_the_taper_endpoints():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    for path in (
        "/api/v1/taper-plans/",
        "/api/v1/taper-plans/{id}/",
        "/api/v1/taper-plans/{id}/transition/",
        "/api/v1/taper-versions/",
        "/api/v1/taper-steps/{id}/",
        "/api/v1/dose-records/",
    ):
        assert path in paths, path
    create = paths["/api/v1/taper-plans/"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "TaperPlanCreateRequest"
    )
    transition = paths["/api/v1/taper-plans/{id}/transition/"]["post"]
    assert "psychiatrist" in transition["description"] or "taper.approve" in transition["description"]
    components = schema["components"]["schemas"]
    assert components["TaperPlanStatusEnum"]["enum"] == [s.value for s in TaperPlan.Status]


def test_list_reads_do_not_grow_with_rows(clinic_a, psychiatrist_api, nurse_api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.conftest import make_patient

    def counts() -> list[int]:
        found = []
        for url in (PLANS, "/api/v1/taper-versions/", "/api/v1/taper-steps/", "/api/v1/dose-records/"):
            with CaptureQueriesContext(connection) as queries:
                assert nurse_api.get(url).status_code == 200
            found.append(len(queries))
        return found

    first = make_patient(clinic_a, first_name="Uno", last_name="First")
    _active_plan(psychiatrist_api, nurse_api, first)
    small = counts()
    for n in range(3):
        patient = make_patient(clinic_a, first_name=f"More{n}", last_name="Patients")
        plan_id = _active_plan(psychiatrist_api, nurse_api, patient)
        _post(nurse_api, "/api/v1/dose-records/", {"plan": plan_id, "day": START, "as_planned": True})
    assert counts() == small
