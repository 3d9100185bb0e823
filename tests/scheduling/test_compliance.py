"""Hours compliance through the database: the weekly hours selector, the patient-hours page and its chart,
and accepting a step-down (happy path, refused by role, stale page, wrong target, past start)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.tenancy.context import tenant_context
from clinic.tenancy.urls_helpers import clinic_reverse
from scheduling import compliance, hours, stepdown_services
from scheduling.hours_chart import Bar, render_hours_chart
from scheduling.models import Booking, Enrolment, SessionType
from scheduling.services import booking_add, enrolment_create
from tests.conftest import client_for, make_patient
from tests.scheduling.compliance_factories import enrol, monday_weeks_ago, today_in
from tests.scheduling.factories import make_program, make_series, session_type

pytestmark = pytest.mark.django_db


def _url(clinic, name: str, patient) -> str:
    with tenant_context(clinic):
        return clinic_reverse(f"scheduling:{name}", patient_id=patient.pk)


def _week_row(clinic, patient, monday: dt.date) -> compliance.WeekRow:
    with tenant_context(clinic):
        data = compliance.patient_hours(patient)
    return next(row for row in data.rows if row.week.week_start == monday)


# --- the selector -----------------------------------------------------------------------------------------
def test_attended_minutes_count_late_and_left_early_minutes_and_only_sessions_that_count(
    clinic_a, clinician, patient_a
):
    """Mon present (180), Wed late (100 of 180), Fri left early (50): 330 minutes = 5.5 hours, below 9.
    An excused absence and a session of a type that does not count toward hours add nothing."""
    enrolled = enrol(clinic_a, clinician, patient_a)
    last_week = monday_weeks_ago(clinic_a, 1)
    mon, wed, fri = enrolled.occurrences(last_week)
    enrolled.record(mon, "present")
    enrolled.record(wed, "late", 100)
    enrolled.record(fri, "left_early", 50)
    # A second series of a type that does not count (same week, another time), attended in full.
    kind = session_type(clinic_a, "art_therapy")
    with tenant_context(clinic_a):
        SessionType.objects.filter(pk=kind.pk).update(counts_toward_hours=False)
    other = make_series(
        clinic_a,
        clinician,
        program=enrolled.program,
        session_type=kind,
        title="Art",
        start_time=dt.time(15, 0),
        minutes=60,
        weekdays=[1],
        starts_on=last_week,
    )
    with tenant_context(clinic_a):
        art = other.occurrences.get(local_date=last_week + dt.timedelta(days=1))
        booking_add(actor=None, occurrence=art, patient=patient_a)
    enrolled.record(art, "present")

    row = _week_row(clinic_a, patient_a, last_week)
    assert (row.week.minutes, row.week.hours, row.week.sessions) == (330, Decimal("5.5"), 3)
    assert row.status == hours.BELOW and not row.in_progress
    assert row.text == "5.5 of at least 9 hours"
    with tenant_context(clinic_a):
        rows = compliance.attended_rows(patient_a, last_week, last_week + dt.timedelta(days=6))
    assert sorted(m for _, m in rows) == [50, 100, 180]


def test_a_full_week_is_within_and_an_absence_counts_nothing(clinic_a, clinician, patient_a):
    enrolled = enrol(clinic_a, clinician, patient_a)
    two_weeks = monday_weeks_ago(clinic_a, 2)
    mon, wed, fri = enrolled.occurrences(two_weeks)
    for occurrence in (mon, wed, fri):
        enrolled.record(occurrence, "present")
    row = _week_row(clinic_a, patient_a, two_weeks)
    assert (row.week.minutes, row.status) == (540, hours.WITHIN)  # exactly 9 hours: at least 9
    enrolled.record(fri, "absent")
    row = _week_row(clinic_a, patient_a, two_weeks)
    assert (row.week.minutes, row.week.sessions, row.status) == (360, 2, hours.BELOW)


def test_this_week_is_in_progress_and_worded_for_this_week(clinic_a, clinician, patient_a):
    enrol(clinic_a, clinician, patient_a)
    with tenant_context(clinic_a):
        data = compliance.patient_hours(patient_a)
    assert data.this_week.in_progress and data.this_week.week.week_start == hours.week_start(
        today_in(clinic_a)
    )
    assert data.this_week.text.endswith("of at least 9 hours this week")
    assert data.requirement == hours.Requirement("iop", Decimal("9.0"), Decimal("20.0"))


def test_the_table_starts_with_the_enrolment_and_a_part_week_is_not_judged(clinic_a, clinician, patient_a):
    program = make_program(clinic_a)
    make_series(clinic_a, clinician, program=program, starts_on=monday_weeks_ago(clinic_a, 3))
    joined = monday_weeks_ago(clinic_a, 2) + dt.timedelta(days=2)  # a Wednesday
    with tenant_context(clinic_a):
        enrolment_create(actor=None, patient=patient_a, program=program, starts_on=joined)
        data = compliance.patient_hours(patient_a)
    assert [row.week.week_start for row in data.rows][-1] == monday_weeks_ago(clinic_a, 2)
    first = data.rows[-1]
    assert first.status is None and "enrolled from Wed" in first.text
    assert data.rows[-2].status == hours.BELOW  # last week, whole and empty
    assert data.below_run == 1  # the part week neither counts nor is counted


def test_weeks_below_minimum_judges_only_whole_weeks_of_enrolment(clinic_a, clinician, patient_a):
    enrolled = enrol(clinic_a, clinician, patient_a, weeks_back=2)
    two_weeks, last_week = monday_weeks_ago(clinic_a, 2), monday_weeks_ago(clinic_a, 1)
    for occurrence in enrolled.occurrences(two_weeks):
        enrolled.record(occurrence, "present")  # 9 hours: not below
    enrolled.record(enrolled.occurrences(last_week)[0], "present")  # 3 hours: below
    late_joiner = make_patient(clinic_a, first_name="Late", last_name="Joiner")
    with tenant_context(clinic_a):
        enrolment_create(
            actor=None,
            patient=late_joiner,
            program=enrolled.program,
            starts_on=last_week + dt.timedelta(days=2),
        )
        assert compliance.weeks_below_minimum(two_weeks) == []
        (found,) = compliance.weeks_below_minimum(last_week)  # the late joiner's partial week is not judged
    assert (found.patient_id, found.minutes, found.hours, found.min_hours) == (
        patient_a.pk,
        180,
        Decimal("3.0"),
        Decimal("9.0"),
    )


def test_the_selector_reads_in_a_flat_number_of_queries(clinic_a, clinician, patient_a):
    enrolled = enrol(clinic_a, clinician, patient_a, weeks_back=3)

    def count() -> int:
        with tenant_context(clinic_a), CaptureQueriesContext(connection) as captured:
            compliance.patient_hours(patient_a)
        return len(captured)

    before = count()
    for weeks in (3, 2, 1):
        for occurrence in enrolled.occurrences(monday_weeks_ago(clinic_a, weeks)):
            enrolled.record(occurrence, "present")
    assert count() == before <= 3


# --- the chart (pure) and the page ------------------------------------------------------------------------
def test_the_chart_draws_both_lines_with_a_requirement_and_none_without():
    bars = [
        Bar(dt.date(2026, 3, 2), Decimal("5.5"), below=True),
        Bar(dt.date(2026, 3, 9), Decimal("1"), False),
    ]
    svg = render_hours_chart(bars, min_hours=Decimal(9), below_hours=Decimal(20), subject="A <b>")
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert "at least 9 h" in svg and "fewer than 20 h" in svg and svg.count('class="hours-line"') == 2
    assert "A &lt;b&gt;" in svg and "<b>" not in svg
    assert "Week of Mar 2: 5.5 hours, below the minimum." in svg
    assert "so far (week in progress)" in svg
    bare = render_hours_chart(bars, min_hours=None, below_hours=None, subject="A")
    assert 'class="hours-line"' not in bare and "No weekly hours requirement" in bare


def test_the_page_shows_the_week_table_chart_and_status(clinic_a, clinician, patient_a):
    enrolled = enrol(clinic_a, clinician, patient_a)
    last_week = monday_weeks_ago(clinic_a, 1)
    enrolled.record(enrolled.occurrences(last_week)[0], "present")
    response = client_for(clinician).get(_url(clinic_a, "patient-hours", patient_a))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html and "at least 9 h" in html and "fewer than 20 h" in html
    assert 'id="weeks-table"' in html and "3.0" in html
    assert "IOP days: at least 9 and fewer than 20 hours a week." in html
    assert "of at least 9 hours this week" in html
    assert 'id="stepdown-why"' in html and "stepdown.json" in html  # the recommendation's why / source


def test_the_page_is_audited_and_its_query_count_is_flat_in_the_weeks_attended(
    clinic_a, clinician, patient_a
):
    from clinic.audit.models import AuditEvent

    enrolled = enrol(clinic_a, clinician, patient_a)
    client = client_for(clinician)
    url = _url(clinic_a, "patient-hours", patient_a)

    def count() -> int:
        """The page's own reads (the session and idle-timeout bookkeeping varies between requests)."""
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        tables = ("scheduling_", "vitals_", "patients_", "audit_")
        return sum(1 for q in captured.captured_queries if any(t in q["sql"] for t in tables))

    before = count()
    for weeks in (3, 2, 1):
        for occurrence in enrolled.occurrences(monday_weeks_ago(clinic_a, weeks)):
            enrolled.record(occurrence, "present")
    assert count() == before
    with tenant_context(clinic_a):
        seen = AuditEvent.objects.filter(
            action="view", patient_id=patient_a.pk, detail__view="scheduling:patient-hours"
        )
        assert seen.count() == 2


def test_the_page_without_a_program_has_no_requirement_and_no_lines(clinic_a, clinician, patient_a):
    response = client_for(clinician).get(_url(clinic_a, "patient-hours", patient_a))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="no-requirement"' in html and "Not enrolled in a program" in html
    assert 'class="hours-line"' not in html and 'id="stepdown"' not in html
    assert "0.0 hours attended this week" in html


def test_another_clinics_patient_is_not_found(clinic_a, clinician, patient_b):
    response = client_for(clinician).get(_url(clinic_a, "patient-hours", patient_b))
    assert response.status_code == 404


# --- accepting a step-down --------------------------------------------------------------------------------
@pytest.fixture
def stepping(clinic_a, clinician, patient_a):
    enrolled = enrol(clinic_a, clinician, patient_a)
    outpatient = make_program(clinic_a, name="Outpatient", level="op", hours_min=None, hours_below=9)
    return enrolled, outpatient


def _post(clinic, user, patient, **data):
    return client_for(user).post(_url(clinic, "stepdown-accept", patient), data=data)


def _open_enrolment(clinic, patient) -> Enrolment:
    with tenant_context(clinic):
        return Enrolment.objects.select_related("program").get(patient=patient, ended_on__isnull=True)


def test_a_clinician_accepts_a_step_down_in_one_go(clinic_a, clinician, patient_a, stepping):
    enrolled, outpatient = stepping
    today = today_in(clinic_a)
    start = today + dt.timedelta(days=1)
    response = _post(
        clinic_a,
        clinician,
        patient_a,
        from_program=enrolled.program.pk,
        program=outpatient.pk,
        starts_on=start.isoformat(),
        reason="Three weeks of full attendance",
    )
    assert response.status_code == 302
    assert response["Location"].endswith(_url(clinic_a, "patient-hours", patient_a))
    new = _open_enrolment(clinic_a, patient_a)
    assert (new.program, new.starts_on) == (outpatient, start)
    with tenant_context(clinic_a):
        old = Enrolment.objects.get(pk=enrolled.enrolment.pk)
        later = Booking.objects.filter(enrolment=old, occurrence__local_date__gte=start)
        assert old.ended_on == today and old.end_reason == "Three weeks of full attendance"
        assert later.exists() and not later.exclude(status=Booking.Status.CANCELLED).exists()
        assert new.episode.level == "op"


def test_a_role_without_schedule_manage_cannot_accept(clinic_a, admissions, patient_a, stepping):
    enrolled, outpatient = stepping
    response = _post(
        clinic_a,
        admissions,
        patient_a,
        from_program=enrolled.program.pk,
        program=outpatient.pk,
        starts_on=today_in(clinic_a).isoformat(),
    )
    assert response.status_code == 403
    assert _open_enrolment(clinic_a, patient_a).program == enrolled.program


def test_the_service_refuses_an_actor_without_the_permission(clinic_a, admissions, patient_a, stepping):
    from django.core.exceptions import ValidationError

    enrolled, outpatient = stepping
    with tenant_context(clinic_a), pytest.raises(ValidationError, match="manages the schedule"):
        stepdown_services.stepdown_accept(
            actor=admissions,
            patient=patient_a,
            from_program_id=enrolled.program.pk,
            target_program=outpatient,
            starts_on=today_in(clinic_a),
        )


def test_a_stale_page_is_refused_and_nothing_changes(clinic_a, clinician, patient_a, stepping):
    enrolled, outpatient = stepping
    other = make_program(clinic_a, name="IOP evenings")
    response = _post(
        clinic_a,
        clinician,
        patient_a,
        from_program=other.pk,  # the page was opened when the patient was in another program
        program=outpatient.pk,
        starts_on=today_in(clinic_a).isoformat(),
    )
    assert response.status_code == 400
    assert "enrolment changed since this page was opened" in response.content.decode()
    assert _open_enrolment(clinic_a, patient_a).program == enrolled.program


@pytest.mark.parametrize("target", ["same_level", "inactive", "unknown"])
def test_an_invalid_target_program_is_a_form_error(clinic_a, clinician, patient_a, stepping, target):
    import uuid

    enrolled, outpatient = stepping
    if target == "same_level":
        program_id = make_program(clinic_a, name="IOP evenings").pk
    elif target == "inactive":
        with tenant_context(clinic_a):
            type(outpatient).objects.filter(pk=outpatient.pk).update(is_active=False)
        program_id = outpatient.pk
    else:
        program_id = uuid.uuid4()
    response = _post(
        clinic_a,
        clinician,
        patient_a,
        from_program=enrolled.program.pk,
        program=program_id,
        starts_on=today_in(clinic_a).isoformat(),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "error-summary" in html
    assert _open_enrolment(clinic_a, patient_a).program == enrolled.program


def test_the_service_refuses_a_target_of_the_wrong_level_and_a_past_start(
    clinic_a, clinician, patient_a, stepping
):
    from django.core.exceptions import ValidationError

    enrolled, outpatient = stepping
    iop = make_program(clinic_a, name="IOP evenings")
    with tenant_context(clinic_a):
        with pytest.raises(ValidationError, match="Outpatient program"):
            stepdown_services.stepdown_accept(
                actor=clinician,
                patient=patient_a,
                from_program_id=enrolled.program.pk,
                target_program=iop,
                starts_on=today_in(clinic_a),
            )
        with pytest.raises(ValidationError, match="today or later"):
            stepdown_services.stepdown_accept(
                actor=clinician,
                patient=patient_a,
                from_program_id=enrolled.program.pk,
                target_program=outpatient,
                starts_on=today_in(clinic_a) - dt.timedelta(days=1),
            )
    assert _open_enrolment(clinic_a, patient_a).program == enrolled.program


def test_the_recommendation_explains_itself(clinic_a, clinician, patient_a, stepping):
    enrolled, outpatient = stepping
    for weeks in (3, 2, 1):
        for occurrence in enrolled.occurrences(monday_weeks_ago(clinic_a, weeks)):
            enrolled.record(occurrence, "present")
    with tenant_context(clinic_a):
        recommendation = stepdown_services.stepdown_recommendation(_open_enrolment(clinic_a, patient_a))
    assert recommendation.suggestion.to_level == "op" and recommendation.targets == [outpatient]
    assert "3 weeks of full attendance" in recommendation.suggestion.reasons
    # No CIWA-B scores: not eligible yet, and the page says why.
    assert not recommendation.suggestion.eligible
    assert any("CIWA-B" in text for text in recommendation.suggestion.blocking)
    html = client_for(clinician).get(_url(clinic_a, "patient-hours", patient_a)).content.decode()
    assert "Not yet ready to step down to Outpatient" in html and 'id="accept-stepdown"' in html
