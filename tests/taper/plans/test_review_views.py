"""The psychiatrist's review queue: awaiting approval, held, steps due soon (adjustable window), rising
withdrawal scores from the safety app; links to the plan page; roles; navigation; flat query count."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from taper import selectors, services
from tests.conftest import client_for, make_patient
from tests.taper.plans.conftest import plan_input
from tests.taper.plans.progress_support import D, active_plan, today_in, url

pytestmark = pytest.mark.django_db


def _proposed(clinic, patient, clinician):
    with tenant_context(clinic):
        plan = services.plan_create(
            actor=clinician, patient=patient, data=plan_input(start_date=selectors.clinic_today() + D(days=3))
        )
        return services.plan_propose(actor=clinician, plan=plan)


def _raise_rising_alert(clinic, patient):
    from safety.findings import Finding
    from safety.services import alerts_raise

    finding = Finding(
        rule_id="withdrawal_trend_rising",
        patient_id=patient.pk,
        dedup_key=f"withdrawal_trend_rising:{patient.pk}:test",
        evidence={"instrument": "ciwa_b", "before": 10, "after": 18},
        occurred_at=timezone.now(),
    )
    with tenant_context(clinic):
        return alerts_raise(clinic=clinic, findings=[finding])


def test_queue_lists_each_reason_with_a_link_to_the_plan(clinic_a, psychiatrist, clinician):
    waiting = make_patient(clinic_a, first_name="Wanda", last_name="Waiting")
    held = make_patient(clinic_a, first_name="Hal", last_name="Held")
    due = make_patient(clinic_a, first_name="Dee", last_name="Due")
    later = make_patient(clinic_a, first_name="Lee", last_name="Later")
    rising = make_patient(clinic_a, first_name="Rhea", last_name="Rising")
    proposed = _proposed(clinic_a, waiting, clinician)
    held_plan = active_plan(clinic_a, held, psychiatrist, days_ago=20)
    with tenant_context(clinic_a):
        services.plan_hold(
            actor=psychiatrist,
            plan=held_plan,
            from_date=today_in(clinic_a) - D(days=2),
            days=None,
            reason="Unwell",
            today=today_in(clinic_a) - D(days=2),  # recorded as it happened, two days ago
        )
    due_plan = active_plan(clinic_a, due, psychiatrist, days_ago=10)  # next step in 4 days
    later_plan = active_plan(clinic_a, later, psychiatrist, days_ago=4)  # next step in 10 days
    rising_plan = active_plan(clinic_a, rising, psychiatrist, days_ago=1)  # next step in 13 days
    _raise_rising_alert(clinic_a, rising)

    client = client_for(psychiatrist)
    body = client.get(url(clinic_a, "review")).content.decode()
    for plan in (proposed, held_plan, due_plan, rising_plan):
        assert f"/taper/plans/{plan.pk}/" in body
    assert f"/taper/plans/{later_plan.pk}/" not in body
    assert "Awaiting approval" in body and "Review and approve" in body
    assert "Held since" in body and "Withdrawal scores rising" in body and "consider holding" in body
    assert "Next step due" in body and "in 4 days" in body
    # Most urgent first: approval, then held / rising, then steps due.
    assert body.index("Wanda") < body.index("Hal") < body.index("Dee")
    assert body.index("Rhea") < body.index("Dee")

    wider = client.get(url(clinic_a, "review") + "?days=14").content.decode()
    assert f"/taper/plans/{later_plan.pk}/" in wider and "in 10 days" in wider
    fragment = client.get(url(clinic_a, "review") + "?days=14", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and f"/taper/plans/{later_plan.pk}/" in fragment


def test_bad_window_falls_back_to_seven_days(clinic_a, psychiatrist):
    response = client_for(psychiatrist).get(url(clinic_a, "review") + "?days=banana")
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_empty_queue_says_so(clinic_a, psychiatrist):
    body = client_for(psychiatrist).get(url(clinic_a, "review")).content.decode()
    assert 'id="review-empty"' in body


def test_selector_skips_alerts_without_an_open_plan(clinic_a, patient_a):
    _raise_rising_alert(clinic_a, patient_a)
    with tenant_context(clinic_a):
        assert selectors.review_queue() == []


@pytest.mark.parametrize(
    ("role", "status", "nav"),
    [
        (Role.PSYCHIATRIST, 200, True),
        (Role.NURSE, 200, True),
        (Role.CLINICIAN, 200, True),
        (Role.ADMISSIONS, 403, False),
        (Role.CLINIC_ADMIN, 403, False),
        (Role.AUDITOR, 403, False),
    ],
)
def test_review_roles_and_nav_link(clinic_a, staff_a, role, status, nav):
    client = client_for(staff_a[role])
    assert client.get(url(clinic_a, "review")).status_code == status
    home = client.get(f"/c/{clinic_a.slug}/").content.decode()
    assert ('id="nav-taper-review"' in home) is nav


def test_review_queue_query_count_is_flat(clinic_a, psychiatrist, clinician, django_assert_max_num_queries):
    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            patient = make_patient(clinic_a, first_name=f"P{i}", last_name=f"Queue{i}")
            if i % 3 == 0:
                _proposed(clinic_a, patient, clinician)
            else:
                active_plan(clinic_a, patient, psychiatrist, days_ago=10)
            if i % 4 == 0:
                _raise_rising_alert(clinic_a, patient)

    add(3, 0)
    client = client_for(psychiatrist)
    client.get(url(clinic_a, "review"))
    with django_assert_max_num_queries(60) as one:
        client.get(url(clinic_a, "review"))
    count = len(one.captured_queries)  # now: the query log is a bounded deque that the fill below rolls over
    add(6, 3)
    client.get(url(clinic_a, "review"))  # warm the caches the new alerts dropped (the nav badge count)
    with django_assert_max_num_queries(count):
        body = client.get(url(clinic_a, "review")).content.decode()
    assert body.count("Queue") >= 9


def test_due_date_uses_the_clinic_calendar(clinic_a, psychiatrist):
    patient = make_patient(clinic_a)
    active_plan(clinic_a, patient, psychiatrist, days_ago=13)  # next step tomorrow
    with tenant_context(clinic_a):
        [item] = selectors.review_queue()
    assert item.reason == "step_due" and item.due == today_in(clinic_a) + datetime.timedelta(days=1)


def _fill_queue(clinic, psychiatrist, clinician, start: int, n: int) -> None:
    """Plans in every section: proposed, held, a step due in 4 days, and rising withdrawal scores."""
    for i in range(start, start + n):
        patient = make_patient(clinic, first_name=f"P{i}", last_name=f"Queue{i:03d}")
        if i % 4 == 0:
            _proposed(clinic, patient, clinician)
            continue
        plan = active_plan(clinic, patient, psychiatrist, days_ago=10)  # next step in 4 days
        if i % 4 == 1:
            with tenant_context(clinic):
                services.plan_hold(
                    actor=psychiatrist,
                    plan=plan,
                    from_date=today_in(clinic),
                    days=None,
                    reason="Unwell",
                    today=today_in(clinic),
                )
        elif i % 4 == 2:
            _raise_rising_alert(clinic, patient)


def test_query_count_is_the_same_for_3_and_30_open_plans_and_no_version_is_loaded(
    clinic_a, psychiatrist, clinician, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _fill_queue(clinic_a, psychiatrist, clinician, 0, 4)
    client = client_for(psychiatrist)
    client.get(url(clinic_a, "review"))
    with CaptureQueriesContext(connection) as small:
        small_body = client.get(url(clinic_a, "review")).content.decode()
    assert small_body.count("Queue0") == 5  # Queue002: rising scores and a step due
    count = len(small.captured_queries)  # now: the bounded query log rolls over during the fill
    _fill_queue(clinic_a, psychiatrist, clinician, 4, 28)
    client.get(url(clinic_a, "review"))  # warm the caches the new alerts dropped (the nav badge count)
    with django_assert_num_queries(count) as large:
        body = client.get(url(clinic_a, "review")).content.decode()
    assert body.count("/progress/") >= 24 and "Queue031" in body
    # What needs review is decided in SQL: no query reads a version (its regimen / schedule JSON).
    assert not [q["sql"] for q in large.captured_queries if "taperplanversion" in q["sql"]]


def test_each_section_pages_on_its_own_and_a_bad_page_is_not_an_error(
    clinic_a, psychiatrist, clinician, monkeypatch
):
    from taper import views_progress

    monkeypatch.setattr(views_progress, "REVIEW_PAGE_SIZE", 3)
    _fill_queue(clinic_a, psychiatrist, clinician, 0, 28)  # 7 rows in each of the four sections
    client = client_for(psychiatrist)
    base = url(clinic_a, "review")
    first = client.get(base).content.decode()
    # Held plans ordered by the hold date, then last name: Queue001, 005, 009 | 013, 017, 021 | 025.
    assert "Queue001" in first and "Queue009" in first and "Queue013" not in first
    assert "Held: <strong>7</strong>" in first
    assert 'href="?held_page=2#review-held"' in first and 'rel="next"' in first
    second = client.get(base + "?held_page=2").content.decode()
    assert "Queue013" in second and "Queue021" in second and "Queue001" not in second
    # The other sections stay on their first page, and the window travels with the page number.
    awaiting = second.split('id="review-awaiting_approval"')[1].split("</section>")[0]
    assert "Queue000" in awaiting and "Queue012" not in awaiting
    # Steps due: the 14 active plans not held (7 also have rising scores), by last name; page 5 is the last.
    windowed = client.get(base + "?days=14&step_due_page=5").content.decode()
    assert "Queue027" in windowed and "Queue003" not in windowed.split('id="review-step_due"')[1]
    assert 'href="?days=14&amp;step_due_page=4#review-step_due"' in windowed
    for bad in ("banana", "0", "-1", "99999", "1e9", "2" * 40):
        response = client.get(base + f"?held_page={bad}&awaiting_approval_page={bad}")
        assert response.status_code == 200, bad
        assert "Queue0" in response.content.decode()
    last = client.get(base + "?held_page=99999").content.decode()
    assert "Queue025" in last and "Queue001" not in last.split('id="review-held"')[1].split("</section>")[0]
