"""The plan page and its actions: what each role sees and may do, the lifecycle through the browser views,
bad input that changes nothing, old versions, the patient panel and plan history, and a flat query count."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from taper import services
from taper.models import TaperPlan, TaperPlanVersion
from tests.conftest import client_for, make_member, make_patient
from tests.taper.plans.views_support import count, make_plan, reload, today, url

pytestmark = pytest.mark.django_db
D = datetime.timedelta
PSYCHIATRIST_ONLY = ("approve", "hold", "resume", "pace", "close")


def plan_url(clinic, plan, tail: str = "") -> str:
    return url(clinic, f"plans/{plan.pk}/{tail}")


# --- the page per role --------------------------------------------------------------------------------------
def test_draft_page_offers_each_role_its_next_action(clinic_a, patient_a, psychiatrist, nurse, clinician):
    plan = make_plan(clinic_a, patient_a, psychiatrist)
    psych = client_for(psychiatrist).get(plan_url(clinic_a, plan)).content.decode()
    assert 'id="approve-button"' in psych and "Next: review the schedule and approve it." in psych
    assert 'id="propose-button"' not in psych and 'id="close-form"' in psych
    for user in (nurse, clinician):
        page = client_for(user).get(plan_url(clinic_a, plan)).content.decode()
        assert 'id="propose-button"' in page and "Next: send it for approval" in page
        assert 'id="approve-button"' not in page and 'id="approve-form"' not in page
        assert 'id="close-form"' not in page and 'id="override' not in page
        assert 'id="edit-plan"' in page


def test_page_shows_schedule_table_cap_and_unverified_facts(clinic_a, patient_a, psychiatrist, nurse):
    plan = make_plan(clinic_a, patient_a, psychiatrist, status="active", days_ago=20)
    page = client_for(nurse).get(plan_url(clinic_a, plan)).content.decode()
    assert "Ashton (2002, rev. 2007)" in page and "JGIM 2025" in page
    assert "Typically do not exceed 25% every 2 weeks" in page
    assert "Facts to check" in page
    assert page.count('aria-current="date"') == 1 and "is-past" in page  # today's step, past steps dimmed
    now = today(clinic_a)
    assert f"Today ({now:%a %b} {now.day}, {now.year})" in page
    for action in PSYCHIATRIST_ONLY:
        assert f'id="{action}-form"' not in page  # a nurse is not offered hold/resume/pace/close
    assert 'id="hold-button"' not in page
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(action="view", object_id=str(plan.pk)).exists()


def test_unknown_or_other_clinic_plan_is_404(clinic_a, clinic_b, patient_b, staff_b, nurse):
    other = make_plan(clinic_b, patient_b, staff_b[Role.PSYCHIATRIST])
    client = client_for(nurse)
    assert client.get(plan_url(clinic_a, other)).status_code == 404
    assert client.get(url(clinic_a, f"versions/{other.current_version_id}/")).status_code == 404
    assert client.post(plan_url(clinic_a, other, "propose/")).status_code == 404
    assert reload(clinic_b, other).status == "draft"


# --- the lifecycle through the views ------------------------------------------------------------------------
def test_propose_approve_activate(clinic_a, patient_a, psychiatrist, clinician):
    plan = make_plan(clinic_a, patient_a, clinician)
    response = client_for(clinician).post(plan_url(clinic_a, plan, "propose/"))
    assert response.status_code == 302 and reload(clinic_a, plan).status == "proposed"
    page = client_for(clinician).get(plan_url(clinic_a, plan)).content.decode()
    assert "Waiting for a psychiatrist to approve it." in page
    psych = client_for(psychiatrist)
    response = psych.post(plan_url(clinic_a, plan, "approve/"), {"note": "Reviewed with the patient"})
    assert (
        response.status_code == 400 and "warning(s) to review before approving" in response.content.decode()
    )
    assert reload(clinic_a, plan).status == "proposed"
    page = psych.get(plan_url(clinic_a, plan, "approve/")).content.decode()
    assert 'id="approve-warnings"' in page and "High dose" in page and "Facts to check" in page
    assert "taper.high_dose_band" not in page and "taper_rules" not in page  # rule ids stay in the data
    digest = page.split('name="warnings_seen" value="')[1].split('"')[0]
    body = {"note": "Reviewed with the patient", "warnings_seen": digest}
    response = psych.post(plan_url(clinic_a, plan, "approve/"), body)
    assert response.status_code == 302
    plan = reload(clinic_a, plan)
    assert plan.status == "approved" and plan.current_version.approved_by == psychiatrist
    assert [w["code"] for w in plan.current_version.approval_warnings] == [
        w["code"] for w in plan.current_version.warnings
    ]
    response = client_for(clinician).post(plan_url(clinic_a, plan, "activate/"))
    assert response.status_code == 302 and reload(clinic_a, plan).status == "active"


def test_hold_until_resumed_then_resume_with_a_new_rate(clinic_a, patient_a, psychiatrist):
    plan = make_plan(clinic_a, patient_a, psychiatrist, status="active", days_ago=20)
    client = client_for(psychiatrist)
    day = today(clinic_a)
    hold = {"from_date": day.isoformat(), "length": "open", "days": "", "reason": "Sleep got worse"}
    assert client.post(plan_url(clinic_a, plan, "hold/"), hold).status_code == 302
    plan = reload(clinic_a, plan)
    assert plan.held_since == day and plan.current_version.change == "held"
    page = client.get(plan_url(clinic_a, plan)).content.decode()
    assert "Held since" in page and 'id="resume-form"' in page and 'id="hold-button"' not in page
    resume = {
        "from_date": (day + D(days=3)).isoformat(),
        "rate_percent": "5",
        "interval_days": "",
        "reason": "Better",
    }
    assert client.post(plan_url(clinic_a, plan, "resume/"), resume).status_code == 302
    plan = reload(clinic_a, plan)
    assert plan.held_since is None and plan.current_version.change == "resumed"
    assert plan.current_version.rate_percent == 5 and plan.current_version.interval_days == 14
    assert count(clinic_a, TaperPlanVersion, plan=plan) == 3


def test_hold_for_days_and_change_pace_and_close(clinic_a, patient_a, psychiatrist):
    plan = make_plan(clinic_a, patient_a, psychiatrist, status="active", days_ago=20)
    end = plan.current_version.end_date
    client = client_for(psychiatrist)
    day = today(clinic_a)
    hold = {"from_date": day.isoformat(), "length": "days", "days": "7", "reason": "Family event"}
    assert client.post(plan_url(clinic_a, plan, "hold/"), hold).status_code == 302
    plan = reload(clinic_a, plan)
    assert plan.held_since is None and plan.current_version.change == "held"
    with tenant_context(clinic_a):
        later = plan.current_version.steps.filter(start__gt=day).order_by("start").first()
    assert later.start >= day + D(days=7) and plan.current_version.end_date >= end - D(days=14)
    pace = {
        "from_date": (day + D(days=10)).isoformat(),
        "rate_percent": "5",
        "interval_days": "21",
        "reason": "Go slower",
    }
    assert client.post(plan_url(clinic_a, plan, "pace/"), pace).status_code == 302
    plan = reload(clinic_a, plan)
    assert plan.current_version.change == "slowed" and plan.current_version.interval_days == 21
    close = {"outcome": "stopped", "reason": "Patient moved away"}
    assert client.post(plan_url(clinic_a, plan, "close/"), close).status_code == 302
    plan = reload(clinic_a, plan)
    assert plan.status == "stopped" and plan.closed_reason == "Patient moved away"
    page = client.get(plan_url(clinic_a, plan)).content.decode()
    assert "Patient moved away" in page and 'id="hold-button"' not in page and 'id="close-form"' not in page


@pytest.mark.parametrize(
    ("action", "body", "message"),
    [
        ("hold", {"length": "open", "reason": "x"}, "Give the date the hold starts."),
        ("hold", {"from_date": "{today}", "length": "open", "reason": ""}, "Say why"),
        (
            "hold",
            {"from_date": "{today}", "length": "days", "days": "", "reason": "x"},
            "Give the number of days",
        ),
        (
            "hold",
            {"from_date": "{today}", "length": "days", "days": "400", "reason": "x"},
            "Give at most 180 days.",
        ),
        ("resume", {"from_date": "{today}", "reason": "x"}, "The taper is not held."),
        (
            "pace",
            {"from_date": "{today}", "rate_percent": "150", "interval_days": "14", "reason": "x"},
            "at most 100%",
        ),
        (
            "pace",
            {"from_date": "2000-01-01", "rate_percent": "5", "interval_days": "14", "reason": "x"},
            "or a later date: past days stay as planned",
        ),
        (
            "pace",
            {"from_date": "{today}", "rate_percent": "60", "interval_days": "7", "reason": "x"},
            "faster than",
        ),
        ("close", {"outcome": "paused", "reason": "x"}, "Choose completed or stopped."),
        ("close", {"outcome": "stopped", "reason": ""}, "Say why"),
        ("approve", {}, "only a draft or proposed plan can be approved"),
        ("activate", {}, "a psychiatrist must approve it before it starts"),
        ("propose", {}, "Only a draft can be sent for approval."),
    ],
)
def test_bad_action_input_changes_nothing(clinic_a, patient_a, psychiatrist, action, body, message):
    plan = make_plan(clinic_a, patient_a, psychiatrist, status="active", days_ago=20)
    body = {k: v.replace("{today}", today(clinic_a).isoformat()) for k, v in body.items()}
    with tenant_context(clinic_a):
        before = (
            TaperPlanVersion.objects.count(),
            TaperPlan.objects.get().status,
            TaperPlan.objects.get().held_since,
        )
    response = client_for(psychiatrist).post(plan_url(clinic_a, plan, f"{action}/"), body)
    assert response.status_code == 400
    assert message in response.content.decode()
    with tenant_context(clinic_a):
        after = (
            TaperPlanVersion.objects.count(),
            TaperPlan.objects.get().status,
            TaperPlan.objects.get().held_since,
        )
    assert after == before


@pytest.mark.parametrize("role", [Role.NURSE, Role.CLINICIAN, Role.ADMISSIONS, Role.CLINIC_ADMIN])
@pytest.mark.parametrize("action", PSYCHIATRIST_ONLY)
def test_psychiatrist_only_actions_are_403_for_others(clinic_a, patient_a, psychiatrist, role, action):
    plan = make_plan(clinic_a, patient_a, psychiatrist, status="active", days_ago=20)
    user = make_member(clinic_a, role, email=f"{role}-{action}@example.org")
    client = client_for(user)
    day = today(clinic_a).isoformat()
    body = {"from_date": day, "length": "open", "reason": "x", "rate_percent": "5", "interval_days": "14",
            "outcome": "stopped", "note": ""}  # fmt: skip
    assert client.get(plan_url(clinic_a, plan, f"{action}/")).status_code == 403
    assert client.post(plan_url(clinic_a, plan, f"{action}/"), body).status_code == 403
    plan_after = reload(clinic_a, plan)
    assert plan_after.status == "active" and plan_after.held_since is None
    assert count(clinic_a, TaperPlanVersion) == 1


def test_action_page_explains_when_the_action_does_not_apply(clinic_a, patient_a, psychiatrist):
    plan = make_plan(clinic_a, patient_a, psychiatrist)  # a draft cannot be held
    page = client_for(psychiatrist).get(plan_url(clinic_a, plan, "hold/")).content.decode()
    assert "This is not the next step for this plan now (draft)" in page and 'id="hold-form"' not in page
    page = client_for(psychiatrist).get(plan_url(clinic_a, plan, "approve/")).content.decode()
    assert 'id="approve-form"' in page


# --- versions -----------------------------------------------------------------------------------------------
def test_old_versions_stay_readable(clinic_a, patient_a, psychiatrist, nurse):
    plan = make_plan(clinic_a, patient_a, psychiatrist, status="active", days_ago=20)
    first = plan.current_version
    with tenant_context(clinic_a):
        services.plan_slow(
            actor=psychiatrist,
            plan=plan,
            from_date=today(clinic_a),
            reason="Slower",
            rate_percent=5,
            interval_days=28,
        )
    client = client_for(nurse)
    page = client.get(plan_url(clinic_a, plan)).content.decode()
    assert "Version 2" in page and "Rate changed" in page and "Slower" in page
    assert f'href="/c/{clinic_a.slug}/taper/versions/{first.pk}/"' in page
    old = client.get(url(clinic_a, f"versions/{first.pk}/")).content.decode()
    assert "An earlier version" in old and "10% every 14 days" in old
    assert 'aria-current="date"' not in old  # an old version does not mark today
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(action="view", object_id=str(first.pk)).exists()


def test_plan_page_query_count_is_flat(clinic_a, psychiatrist, nurse):
    """A long plan with many versions costs the same number of queries as a short new one."""
    client = client_for(nurse)
    short = make_plan(clinic_a, make_patient(clinic_a, first_name="Short"), psychiatrist, status="active",
                      days_ago=60, rate_percent=25)  # fmt: skip
    long = make_plan(clinic_a, make_patient(clinic_a, first_name="Long"), psychiatrist, status="active",
                     days_ago=60, rate_percent=5)  # fmt: skip
    with tenant_context(clinic_a):
        for n in range(4):
            long = TaperPlan.objects.get(pk=long.pk)
            start = today(clinic_a) - D(days=40 - n * 10)
            services.plan_slow(actor=psychiatrist, plan=long, reason=f"Change {n}", rate_percent=5,
                               from_date=start, interval_days=7 + n, today=start)  # fmt: skip
        steps = (TaperPlanVersion.objects.get(pk=short.current_version_id).steps.count(),
                 TaperPlan.objects.get(pk=long.pk).current_version.steps.count())  # fmt: skip
    assert steps[1] > steps[0] * 2
    counts = []
    for plan in (short, long):
        client.get(plan_url(clinic_a, plan))  # warm the session alike
        with CaptureQueriesContext(connection) as queries:
            assert client.get(plan_url(clinic_a, plan)).status_code == 200
        # The session row and the idle-timeout setting are refreshed now and then whatever the page.
        middleware = ("django_session", "idle_timeout_minutes")
        counts.append(sum(1 for q in queries.captured_queries if not any(m in q["sql"] for m in middleware)))
    assert counts[0] == counts[1], counts


# --- the patient page panel and the plan history ------------------------------------------------------------
def test_panel_without_plan_offers_to_build_one(clinic_a, patient_a, staff_a):
    panel = url(clinic_a, f"patients/{patient_a.pk}/panel/")
    page = client_for(staff_a[Role.CLINICIAN]).get(panel, headers={"HX-Request": "true"}).content.decode()
    assert "No open taper plan." in page and 'id="taper-build"' in page and "<html" not in page
    assert client_for(staff_a[Role.ADMISSIONS]).get(panel).status_code == 403
    whole = client_for(staff_a[Role.NURSE]).get(panel).content.decode()
    assert "<html" in whole and "Build a taper plan" in whole


def test_panel_shows_the_open_plan_and_todays_dose(clinic_a, patient_a, psychiatrist, nurse):
    plan = make_plan(clinic_a, patient_a, psychiatrist, status="active", days_ago=20)
    page = client_for(nurse).get(url(clinic_a, f"patients/{patient_a.pk}/panel/")).content.decode()
    assert 'id="taper-today"' in page and "step 2" in page and "mg a day" in page
    assert plan.current_version.table_label in page
    detail = client_for(nurse).get(f"/c/{clinic_a.slug}/patients/{patient_a.pk}/").content.decode()
    assert f"/c/{clinic_a.slug}/taper/patients/{patient_a.pk}/panel/" in detail  # the lazy panel slot


def test_plan_history_lists_closed_plans(clinic_a, patient_a, psychiatrist, nurse):
    first = make_plan(clinic_a, patient_a, psychiatrist)
    with tenant_context(clinic_a):
        services.plan_close(
            actor=psychiatrist, plan=first, outcome="stopped", reason="Restarted at a lower dose"
        )
    second = make_plan(clinic_a, patient_a, psychiatrist)
    page = client_for(nurse).get(url(clinic_a, f"patients/{patient_a.pk}/plans/")).content.decode()
    assert "Restarted at a lower dose" in page and str(second.pk) in page and str(first.pk) in page
    assert "Open the current plan" in page
    panel = client_for(nurse).get(url(clinic_a, f"patients/{patient_a.pk}/panel/")).content.decode()
    assert "1 closed" in panel
