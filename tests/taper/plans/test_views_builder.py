"""The plan builder in the browser (no JS): save a draft, line edits, the live preview, and bad input that
comes back as plain-language field errors with nothing saved."""

from __future__ import annotations

import datetime

import pytest

from clinic.tenancy.context import tenant_context
from patients.services import medication_add
from taper.dates import long_date
from taper.formulary import formulary_set_stocked
from taper.models import TaperPlan, TaperPlanVersion
from tests.conftest import client_for
from tests.taper.plans.views_support import FIRST_STEP, builder_body, count, make_plan, url

HOLD_ON = (FIRST_STEP + datetime.timedelta(days=30)).isoformat()

pytestmark = pytest.mark.django_db


def new_url(clinic, patient) -> str:
    return url(clinic, f"patients/{patient.pk}/new/")


def preview_url(clinic, patient) -> str:
    return url(clinic, f"patients/{patient.pk}/preview/")


def only_plan(clinic) -> TaperPlan:
    with tenant_context(clinic):
        return TaperPlan.objects.select_related("current_version").get()


# --- saving ------------------------------------------------------------------------------------------------
def test_clinician_saves_a_draft(clinic_a, patient_a, clinician):
    client = client_for(clinician)
    page = client.get(new_url(clinic_a, patient_a))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="line-0-drug"' in html and "Build a taper plan" in html
    assert "override_reason" not in html  # psychiatrists only
    assert 'name="table"' in html and "disabled" in html.split('name="table"')[1].split(">")[0]
    response = client.post(new_url(clinic_a, patient_a), builder_body(save="1", reason="Start at intake"))
    plan = only_plan(clinic_a)
    assert response.status_code == 302 and response["Location"].endswith(f"/taper/plans/{plan.pk}/")
    version = plan.current_version
    assert (
        plan.status == TaperPlan.Status.DRAFT and version.number == 1 and version.reason == "Start at intake"
    )
    assert [r["dose_mg"] for r in version.regimen] == ["10", "10"]
    assert version.effective_from == FIRST_STEP
    assert version.high_dose_confirmation == "20"


def test_psychiatrist_chooses_table_and_overrides_the_cap(clinic_a, patient_a, psychiatrist):
    client = client_for(psychiatrist)
    body = builder_body(
        save="1", table="va_dod", rate_percent="50", override_reason="Patient's informed choice"
    )
    response = client.post(new_url(clinic_a, patient_a), body)
    assert response.status_code == 400, "a reason alone accepts no step"
    html = response.content.decode()
    assert "Accept steps" in html
    body["override_steps"] = html.split('name="apply" value="override_steps=')[1].split('"')[0]
    body["high_dose_confirmation"] = "10"
    response = client.post(new_url(clinic_a, patient_a), body)
    assert response.status_code == 400 and "Type 20 to confirm" in response.content.decode()
    body["high_dose_confirmation"] = "20"
    response = client.post(new_url(clinic_a, patient_a), body)
    assert response.status_code == 302
    version = only_plan(clinic_a).current_version
    assert version.table == "va_dod" and version.violations and version.override_reason
    with tenant_context(clinic_a):
        flagged = [st.index for st in version.steps.all() if "cap_override" in st.flags]
    assert version.override_steps and flagged == version.override_steps
    page = client.get(response["Location"]).content.decode()
    assert "Over the guideline cap" in page and "Patient&#x27;s informed choice" in page
    assert "VA/DoD SUD CPG 2021" in page


def test_non_psychiatrist_cannot_change_the_table_or_override(clinic_a, patient_a, nurse):
    client = client_for(nurse)
    response = client.post(new_url(clinic_a, patient_a), builder_body(save="1", table="va_dod"))
    assert response.status_code == 302
    assert only_plan(clinic_a).current_version.table == "ashton"  # the clinic default, not the request
    with tenant_context(clinic_a):
        TaperPlan.objects.all().update(status="stopped")
    body = builder_body(save="1", rate_percent="50", override_reason="I say so")
    response = client.post(new_url(clinic_a, patient_a), body)
    assert response.status_code == 400
    assert "faster than the guideline allows" in response.content.decode()
    assert count(clinic_a, TaperPlan, status="draft") == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lines": [("diazepam", "0", "08:00")]}, "The dose must be more than 0 mg."),
        ({"lines": [("diazepam", "-5", "08:00")]}, "The dose cannot be negative."),
        ({"lines": [("unobtainium", "5", "08:00")]}, "Choose a medication from the list."),
        ({"lines": [("diazepam", "abc", "08:00")]}, "Enter a number of mg"),
        ({"lines": [("diazepam", "5", "8 o'clock")]}, "Give the time like 08:00."),
        ({"lines": []}, "List at least one dose the patient takes now."),
        ({"rate_percent": "150"}, "at most 100%"),
        ({"rate_percent": "0"}, "The rate must be more than 0%."),
        ({"interval_days": "0"}, "Give at least 1 day."),
        ({"start_date": ""}, "Give the date of the first step."),
        ({"slow_rate_percent": "5"}, "Give both the slower rate and the dose below which it applies"),
        ({"holds": [(HOLD_ON, "")]}, "Give the number of days."),
        ({"rate_percent": "40"}, "faster than the guideline allows"),
        ({"interval_days": "10000"}, "Give at most 90 days."),
        ({"holds": [(HOLD_ON, "10000")]}, "Give at most 180 days."),
        ({"start_date": "2026-01-05"}, "Must not be in the past"),
        (
            {"start_date": (datetime.date.today() + datetime.timedelta(days=400)).isoformat()},
            "within 180 days",
        ),
        ({"start_date": "2999-01-01"}, "Enter a date between 2000-01-01 and"),  # clinic.date_bounds
        ({"lines": [("alprazolam", "900", "21:00")]}, "above the 200 mg this program accepts"),
        ({"lines": [("diazepam", "10000", "21:00")]}, "above the 200 mg this program accepts"),
        ({"high_dose_confirmation": ""}, "Type 20 to confirm"),
        ({"high_dose_confirmation": "200"}, "Type 20 to confirm"),
    ],
)
def test_bad_input_is_explained_and_nothing_is_saved(clinic_a, patient_a, clinician, changes, message):
    lines = changes.pop("lines", None)
    holds = changes.pop("holds", ())
    body = builder_body(save="1", lines=lines, holds=holds, **changes)
    response = client_for(clinician).post(new_url(clinic_a, patient_a), body)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and 'id="error-summary"' in html
    assert count(clinic_a, TaperPlan) == 0 and count(clinic_a, TaperPlanVersion) == 0


def test_a_formulation_the_clinic_does_not_stock_is_refused(clinic_a, patient_a, psychiatrist):
    with tenant_context(clinic_a):
        for fid in (
            "diazepam:tablet:2mg",
            "diazepam:tablet:5mg",
            "diazepam:tablet:10mg",
            "diazepam:liquid:1mg_per_ml",
        ):
            formulary_set_stocked(actor=psychiatrist, formulation_id=fid, stocked=False)
    response = client_for(psychiatrist).post(new_url(clinic_a, patient_a), builder_body(save="1"))
    assert response.status_code == 400
    assert "diazepam" in response.content.decode().lower()
    assert count(clinic_a, TaperPlan) == 0


def test_open_plan_sends_the_builder_to_it(clinic_a, patient_a, psychiatrist):
    plan = make_plan(clinic_a, patient_a, psychiatrist)
    response = client_for(psychiatrist).get(new_url(clinic_a, patient_a))
    assert response.status_code == 302 and response["Location"].endswith(f"/taper/plans/{plan.pk}/")


def test_prefilled_from_reported_benzodiazepines(clinic_a, patient_a, clinician):
    with tenant_context(clinic_a):
        medication_add(
            actor=None,
            patient=patient_a,
            fields={
                "name": "Klonopin",
                "strength": "1.5 mg total daily",
                "reported_on": datetime.date(2026, 1, 2),
            },
        )
        medication_add(
            actor=None, patient=patient_a, fields={"name": "Sertraline", "strength": "50 mg",
                                                   "reported_on": datetime.date(2026, 1, 2)}
        )  # fmt: skip
    html = client_for(clinician).get(new_url(clinic_a, patient_a)).content.decode()
    assert 'value="clonazepam" selected' in html and 'name="line-0-dose_mg" value="1.5"' in html
    assert "line-1-drug" not in html  # sertraline is not a benzodiazepine
    assert "Pre-filled from the patient" in html and "Klonopin 1.5 mg total daily" in html


# --- line edits (no JS: the page comes back with the line added/removed, nothing validated or saved) -------
def test_add_and_remove_lines_and_holds(clinic_a, patient_a, clinician):
    client = client_for(clinician)
    body = builder_body(add_line="1", rate_percent="not a number")
    page = client.post(new_url(clinic_a, patient_a), body)
    html = page.content.decode()
    assert page.status_code == 200 and page["HX-Trigger"] == "regimen-changed"
    assert 'name="line-2-drug"' in html and 'value="3"' in html.split('name="line-TOTAL_FORMS"')[1][:40]
    assert "error-summary" not in html  # nothing validated yet
    assert 'value="not a number"' in html  # what was typed is kept
    page = client.post(new_url(clinic_a, patient_a), builder_body(remove_line="0"))
    html = page.content.decode()
    assert 'name="line-1-drug"' not in html and 'name="line-0-drug"' in html
    page = client.post(new_url(clinic_a, patient_a), builder_body(add_hold="1"))
    assert 'name="hold-0-on_date"' in page.content.decode()
    page = client.post(new_url(clinic_a, patient_a), builder_body(holds=[(HOLD_ON, "7")], remove_hold="0"))
    assert 'name="hold-0-on_date"' not in page.content.decode()
    assert count(clinic_a, TaperPlan) == 0


def test_holds_lengthen_the_saved_schedule(clinic_a, patient_a, psychiatrist):
    client = client_for(psychiatrist)
    client.post(new_url(clinic_a, patient_a), builder_body(save="1"))
    plain = only_plan(clinic_a).current_version.end_date
    with tenant_context(clinic_a):
        TaperPlan.objects.all().update(status="stopped")
    client.post(new_url(clinic_a, patient_a), builder_body(save="1", holds=[(HOLD_ON, "7")]))
    with tenant_context(clinic_a):
        held = TaperPlan.objects.get(status="draft").current_version
    assert held.end_date == plain + datetime.timedelta(days=7)
    assert held.holds == [{"days": 7, "at_step": None, "on_date": HOLD_ON}]


# --- the live preview --------------------------------------------------------------------------------------
def test_preview_shows_the_dated_schedule_and_saves_nothing(clinic_a, patient_a, clinician):
    response = client_for(clinician).post(preview_url(clinic_a, patient_a), builder_body())
    html = response.content.decode()
    assert response.status_code == 200
    assert long_date(FIRST_STEP) in html and "preview-schedule" in html
    assert "20 mg DE/day" in html and "Ashton (2002, rev. 2007)" in html
    assert "Typically do not exceed 25% every 2 weeks" in html and "eguideline.guidelinecentral.com" in html
    assert "Facts to check" in html
    assert count(clinic_a, TaperPlan) == 0


def test_preview_button_without_js_renders_the_page_with_the_schedule(clinic_a, patient_a, clinician):
    response = client_for(clinician).post(new_url(clinic_a, patient_a), builder_body(preview="1"))
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert 'id="preview-schedule"' in html and 'name="line-1-dose_mg" value="10"' in html
    assert count(clinic_a, TaperPlan) == 0


def test_preview_cross_titration_and_errors(clinic_a, patient_a, psychiatrist):
    client = client_for(psychiatrist)
    body = builder_body(
        lines=[("alprazolam", "1", "08:00"), ("alprazolam", "1", "21:00")], strategy="cross_titrate"
    )
    html = client.post(preview_url(clinic_a, patient_a), body).content.decode()
    assert "Switch" in html and "40 mg DE/day" in html
    assert "on VA/DoD SUD CPG 2021" in html and "The equivalence tables disagree" in html
    html = client.post(preview_url(clinic_a, patient_a), builder_body(rate_percent="150")).content.decode()
    assert 'id="preview-errors"' in html and "at most 100%" in html and "preview-schedule" not in html
    html = client.post(preview_url(clinic_a, patient_a), builder_body(rate_percent="60")).content.decode()
    assert "faster than the guideline allows" in html


def test_preview_is_post_only_and_needs_draft_permission(clinic_a, patient_a, staff_a):
    from clinic.tenancy.roles import Role

    assert client_for(staff_a[Role.NURSE]).get(preview_url(clinic_a, patient_a)).status_code == 405
    response = client_for(staff_a[Role.ADMISSIONS]).post(preview_url(clinic_a, patient_a), builder_body())
    assert response.status_code == 403


# --- editing a plan that has not started -------------------------------------------------------------------
def test_edit_makes_a_new_version_and_approval_is_needed_again(clinic_a, patient_a, psychiatrist, nurse):
    plan = make_plan(clinic_a, patient_a, psychiatrist, status="approved")
    client = client_for(nurse)
    edit = url(clinic_a, f"plans/{plan.pk}/edit/")
    page = client.get(edit).content.decode()
    assert 'name="rate_percent" value="10"' in page  # prefilled from the current version
    assert "This plan is approved" in page and "needs approving again" in page
    response = client.post(edit, builder_body(save="1", rate_percent="5"))
    assert response.status_code == 400 and "Say why" in response.content.decode()
    response = client.post(edit, builder_body(save="1", rate_percent="5", reason="Slower start"))
    assert response.status_code == 302
    with tenant_context(clinic_a):
        plan.refresh_from_db()
        assert plan.status == "draft" and plan.current_version.number == 2
        assert plan.current_version.rate_percent == 5 and plan.current_version.reason == "Slower start"


def test_active_plan_is_not_edited_here(clinic_a, patient_a, psychiatrist):
    plan = make_plan(clinic_a, patient_a, psychiatrist, status="active")
    client = client_for(psychiatrist)
    response = client.get(url(clinic_a, f"plans/{plan.pk}/edit/"))
    assert response.status_code == 302 and response["Location"].endswith(f"/taper/plans/{plan.pk}/")
    client.post(url(clinic_a, f"plans/{plan.pk}/edit/"), builder_body(save="1", reason="x"))
    assert count(clinic_a, TaperPlanVersion) == 1


# --- issue 9: refusals with ways out, the pace, high doses --------------------------------------------------
def test_a_coarse_taper_is_refused_with_alternatives_that_apply_to_the_form(
    clinic_a, patient_a, psychiatrist
):
    """Clonazepam 2 mg at night, 10% weekly: the tablets cannot keep the cap near the end. The preview names
    the steps and offers what was tried; "Use this" on the switch to diazepam re-renders the builder."""
    client = client_for(psychiatrist)
    body = builder_body(lines=[("clonazepam", "2", "21:00")], interval_days="7", high_dose_confirmation="40")
    html = client.post(new_url(clinic_a, patient_a), {**body, "preview": "1"}).content.decode()
    assert 'id="preview-refused"' in html and "Not within the guideline" in html
    assert "Switch to diazepam first" in html and "keeps the guideline cap at every step" in html
    assert 'name="apply" value="strategy=cross_titrate"' in html
    assert 'name="apply" value="override_steps=' in html  # a psychiatrist may accept the steps
    assert "flag-row-over_cap" in html  # the refused steps are shown where they fall
    applied = client.post(new_url(clinic_a, patient_a), {**body, "apply": "strategy=cross_titrate"})
    html = applied.content.decode()
    assert applied.status_code == 200 and 'value="cross_titrate" required id="id_strategy_1" checked' in html
    assert 'id="preview-schedule"' in html and 'id="preview-refused"' not in html
    assert count(clinic_a, TaperPlan) == 0


def test_a_nurse_sees_the_override_but_cannot_take_it(clinic_a, patient_a, nurse):
    body = builder_body(lines=[("clonazepam", "2", "21:00")], interval_days="7", preview="1")
    html = client_for(nurse).post(new_url(clinic_a, patient_a), body).content.decode()
    assert "a psychiatrist decides" in html and 'value="override_steps=' not in html
    applied = client_for(nurse).post(new_url(clinic_a, patient_a), {**body, "apply": "override_steps=6,7"})
    assert 'name="override_steps"' not in applied.content.decode()


def test_the_preview_asks_for_the_high_dose_and_shows_the_pace(clinic_a, patient_a, clinician):
    client = client_for(clinician)
    html = client.post(
        preview_url(clinic_a, patient_a), builder_body(high_dose_confirmation="")
    ).content.decode()
    assert 'id="confirm-high-dose"' in html and "type <strong>20</strong>" in html
    html = client.post(preview_url(clinic_a, patient_a), builder_body()).content.decode()
    assert 'id="high-dose-confirmed"' in html
    html = client.post(
        preview_url(clinic_a, patient_a), builder_body(rate_percent="5", interval_days="28")
    ).content.decode()
    assert 'id="pace-options"' in html and "keeps the requested pace at every step" in html
    assert 'class="num over-rate"' in html and "(5%)" in html
