"""The progress page: chart (planned step line, taken points, holds, step markers), the equivalence table
named under it, the per-step table and recent doses; roles; audit; flat query count."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from taper import services
from taper.charts import taper_chart_svg
from taper.models import TaperPlan
from tests.conftest import client_for
from tests.taper.plans.progress_support import D, active_plan, record_doses, today_in, url

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"


def _svg(body: str) -> ET.Element:
    start = body.index("<svg")
    end = body.index("</svg>", start) + len("</svg>")
    return ET.fromstring(body[start:end])


def test_progress_page_shows_chart_tables_and_table_used(clinic_a, patient_a, psychiatrist, nurse):
    plan = active_plan(clinic_a, patient_a, psychiatrist)
    record_doses(clinic_a, plan, nurse, [3, 2])
    record_doses(clinic_a, plan, nurse, [1], mg="15")
    page = client_for(nurse).get(url(clinic_a, "progress", plan))
    assert page.status_code == 200
    body = page.content.decode()
    root = _svg(body)
    assert root.get("role") == "img"
    series = {g.get("data-series"): g for g in root.iter(f"{SVG}g") if g.get("data-series")}
    assert set(series) == {"Planned (version 1)", "Taken (recorded)"}
    assert series["Planned (version 1)"].find(f"{SVG}polyline") is not None
    assert (
        len(list(series["Taken (recorded)"].iter(f"{SVG}circle")))
        + len(list(series["Taken (recorded)"].iter(f"{SVG}rect")))
        == 3
    )
    assert "Ashton" in root.find(f"{SVG}desc").text
    # The table used is named under the chart, with the drugs' equivalents.
    assert 'id="chart-table"' in body and "Ashton" in body and "diazepam 10 mg" in body
    # Per-step table and recent doses.
    assert 'id="step-progress"' in body
    assert "3 of 7" in body  # step 2 began 6 days ago (plan started 20 days ago, 14-day steps): 3 recorded
    assert body.count('id="dose-') >= 3
    assert "As planned" in body and "(−" in body  # 15 mg vs a higher planned dose
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(
            object_id=str(plan.pk), action="view", detail__view="taper progress"
        ).exists()


def test_progress_page_marks_a_hold(clinic_a, patient_a, psychiatrist):
    plan = active_plan(clinic_a, patient_a, psychiatrist, days_ago=30)
    with tenant_context(clinic_a):
        services.plan_hold(
            actor=psychiatrist,
            plan=plan,
            from_date=today_in(clinic_a) - D(days=5),
            days=None,
            reason="Poor sleep",
            today=today_in(clinic_a) - D(days=5),  # recorded as it happened, five days ago
        )
    body = client_for(psychiatrist).get(url(clinic_a, "progress", plan)).content.decode()
    root = _svg(body)
    desc = root.find(f"{SVG}desc").text
    assert "Hold: from" in desc and "ongoing" in desc
    bands = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "sd-chart-bands")
    assert len(list(bands.iter(f"{SVG}rect"))) == 1
    assert "Held since" in body


def test_chart_helper_is_the_same_for_pdfs(clinic_a, patient_a, psychiatrist):
    plan = active_plan(clinic_a, patient_a, psychiatrist)
    with tenant_context(clinic_a):
        svg = taper_chart_svg(TaperPlan.objects.get(pk=plan.pk))
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == "Daily dose: planned and taken"
    assert "<style" not in svg and "href" not in svg


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.NURSE, 200),
        (Role.CLINICIAN, 200),
        (Role.PSYCHIATRIST, 200),
        (Role.ADMISSIONS, 403),
        (Role.CLINIC_ADMIN, 403),
        (Role.AUDITOR, 403),
    ],
)
def test_progress_roles(clinic_a, staff_a, patient_a, role, status):
    plan = active_plan(clinic_a, patient_a, staff_a[Role.PSYCHIATRIST])
    assert client_for(staff_a[role]).get(url(clinic_a, "progress", plan)).status_code == status


def test_only_dose_recorders_see_the_dose_form(clinic_a, patient_a, psychiatrist, nurse):
    plan = active_plan(clinic_a, patient_a, psychiatrist)
    assert 'id="dose-as-planned"' in client_for(nurse).get(url(clinic_a, "progress", plan)).content.decode()
    with tenant_context(clinic_a):
        services.plan_close(actor=psychiatrist, plan=plan, outcome="stopped", reason="Moved away")
    body = client_for(nurse).get(url(clinic_a, "progress", plan)).content.decode()
    assert 'id="dose-as-planned"' not in body and "<svg" in body


def test_other_clinic_plan_is_404(clinic_a, clinic_b, patient_a, psychiatrist):
    from tests.conftest import make_member

    plan = active_plan(clinic_a, patient_a, psychiatrist)
    nurse_b = make_member(clinic_b, Role.NURSE)
    response = client_for(nurse_b).get(f"/c/{clinic_b.slug}/taper/plans/{plan.pk}/progress/")
    assert response.status_code == 404


def test_unknown_plan_is_404(clinic_a, nurse):
    response = client_for(nurse).get(
        f"/c/{clinic_a.slug}/taper/plans/00000000-0000-0000-0000-000000000000/progress/"
    )
    assert response.status_code == 404


def test_progress_page_query_count_is_flat(
    clinic_a, patient_a, psychiatrist, nurse, django_assert_max_num_queries
):
    plan = active_plan(clinic_a, patient_a, psychiatrist, days_ago=60)
    record_doses(clinic_a, plan, nurse, [59])
    client = client_for(nurse)
    client.get(url(clinic_a, "progress", plan))
    with django_assert_max_num_queries(80) as one:
        client.get(url(clinic_a, "progress", plan))
    record_doses(clinic_a, plan, nurse, list(range(1, 50)))
    record_doses(clinic_a, plan, nurse, [50, 51, 52], mg="12")
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(url(clinic_a, "progress", plan)).status_code == 200
