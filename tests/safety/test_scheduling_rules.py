"""The attendance rules through the alert pipeline: `sched_missed_sessions` (N booked sessions missed in a
row, N a clinic setting) and `sched_below_minimum_hours` (a completed week below the program's minimum).
Each fires on its evidence, not one session or one minute short of it, and is raised once per patient,
rule and week however often it is evaluated."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from clinic.tenancy.context import tenant_context
from safety import rules_catalogue
from safety import scheduling as rules
from safety.models import Alert, SafetySettings
from safety.selectors import safety_settings
from tests.scheduling.compliance_factories import enrol, monday_weeks_ago

pytestmark = pytest.mark.django_db


def _alerts(clinic, rule_id: str) -> list[Alert]:
    with tenant_context(clinic):
        return list(Alert.objects.filter(rule_id=rule_id).order_by("raised_at"))


def _evaluate(clinic, patient) -> list:
    return rules.evaluate_attendance(clinic=clinic, patient_ids=[patient.pk])


def _set_run(clinic, n: int) -> None:
    with tenant_context(clinic):
        SafetySettings.objects.filter(pk=safety_settings().pk).update(missed_sessions_in_a_row=n)


@pytest.fixture
def enrolled(clinic_a, clinician, patient_a):
    return enrol(clinic_a, clinician, patient_a, weeks_back=3)


def _week(enrolled, weeks_ago: int) -> list:
    return enrolled.occurrences(monday_weeks_ago(enrolled.clinic, weeks_ago))


# --- missed sessions ------------------------------------------------------------------------------------
def test_two_missed_in_a_row_raise_one_alert_with_evidence_and_source(clinic_a, patient_a, enrolled):
    mon, wed, fri = _week(enrolled, 1)
    enrolled.record(mon, "present")
    enrolled.record(wed, "absent")
    enrolled.record(fri, "absent")
    (alert,) = _evaluate(clinic_a, patient_a)
    assert (alert.rule_id, alert.patient_id, alert.severity) == (
        "sched_missed_sessions",
        patient_a.pk,
        "moderate",
    )
    assert alert.evidence["in_a_row"] == 2 and alert.evidence["threshold"] == 2
    assert [s["local_date"] for s in alert.evidence["sessions"]] == [
        fri.local_date.isoformat(),
        wed.local_date.isoformat(),
    ]
    assert alert.evidence["week_start"] == monday_weeks_ago(clinic_a, 1).isoformat()
    assert "next-capabilities.md §4" in alert.source and "clinical.md §7a levels of care" in alert.source
    assert alert.occurred_at == fri.starts_at


def test_one_miss_is_below_the_default_run_and_an_attended_session_breaks_the_run(
    clinic_a, patient_a, enrolled
):
    mon, wed, fri = _week(enrolled, 1)
    enrolled.record(mon, "absent")
    enrolled.record(wed, "present")
    enrolled.record(fri, "absent")
    assert _evaluate(clinic_a, patient_a) == []
    assert _alerts(clinic_a, "sched_missed_sessions") == []


def test_excused_and_clinic_cancelled_neither_count_nor_break_the_run(clinic_a, patient_a, enrolled):
    mon, wed, fri = _week(enrolled, 1)
    enrolled.record(mon, "absent")
    enrolled.record(wed, "excused")
    assert _evaluate(clinic_a, patient_a) == []  # one unexcused absence only
    enrolled.record(fri, "absent")
    (alert,) = _evaluate(clinic_a, patient_a)
    assert alert.evidence["in_a_row"] == 2


def test_the_run_length_is_the_clinics_setting(clinic_a, patient_a, enrolled):
    _set_run(clinic_a, 3)
    week2, week1 = _week(enrolled, 2), _week(enrolled, 1)
    enrolled.record(week2[2], "absent")
    enrolled.record(week1[0], "absent")
    assert _evaluate(clinic_a, patient_a) == []  # two in a row: one short of 3
    enrolled.record(week1[1], "absent")
    (alert,) = _evaluate(clinic_a, patient_a)
    assert alert.evidence["in_a_row"] == 3 and alert.evidence["threshold"] == 3


def test_the_setting_defaults_to_the_catalogue_and_is_saved_through_the_settings_service(
    clinic_a, clinic_admin
):
    from safety.services import safety_settings_update

    with tenant_context(clinic_a):
        assert rules.missed_run_length() == rules_catalogue.defaults().missed_sessions == 2
        current = safety_settings()
        safety_settings_update(
            actor=clinic_admin,
            escalate_after_minutes=current.escalate_after_minutes,
            checkin_cutoff=current.checkin_cutoff,
            on_call_user_ids=[],
            on_call_emails=[],
            missed_sessions_in_a_row=4,
        )
        assert rules.missed_run_length() == 4
        from django.core.exceptions import ValidationError

        with pytest.raises(ValidationError):
            safety_settings_update(
                actor=clinic_admin,
                escalate_after_minutes=current.escalate_after_minutes,
                checkin_cutoff=current.checkin_cutoff,
                on_call_user_ids=[],
                on_call_emails=[],
                missed_sessions_in_a_row=0,
            )


def test_missed_sessions_are_one_alert_per_patient_and_week(clinic_a, patient_a, enrolled):
    week1 = _week(enrolled, 1)
    enrolled.record(week1[0], "absent")
    enrolled.record(week1[1], "absent")
    assert len(_evaluate(clinic_a, patient_a)) == 1
    enrolled.record(week1[2], "absent")  # a third miss the same week: the same alert
    assert _evaluate(clinic_a, patient_a) == []
    rules.sweep_clinic(clinic=clinic_a, now=timezone.now())  # the sweep finds the same run: no second alert
    assert len(_alerts(clinic_a, "sched_missed_sessions")) == 1


def test_the_sweep_finds_missed_sessions_the_on_save_job_did_not_run_for(clinic_a, patient_a, enrolled):
    week1 = _week(enrolled, 1)
    enrolled.record(week1[1], "absent")
    enrolled.record(week1[2], "absent")
    result = rules.sweep_clinic(clinic=clinic_a)
    assert [a.patient_id for a in _alerts(clinic_a, "sched_missed_sessions")] == [patient_a.pk]
    assert result.raised >= 1


# --- weekly hours below the minimum ---------------------------------------------------------------------
def _judging_last_week(clinic) -> dt.datetime:
    """A `now` on which the judged week is last week (the Wednesday after it, noon clinic time)."""
    from zoneinfo import ZoneInfo

    wednesday = monday_weeks_ago(clinic, 0) + dt.timedelta(days=2)
    return dt.datetime.combine(wednesday, dt.time(12), tzinfo=ZoneInfo(clinic.timezone))


def test_a_week_below_the_minimum_raises_once_with_its_hours(clinic_a, patient_a, enrolled):
    last_week = monday_weeks_ago(clinic_a, 1)
    mon, wed, fri = _week(enrolled, 1)
    enrolled.record(mon, "present")
    enrolled.record(wed, "present")
    enrolled.record(fri, "late", 179)  # 539 minutes: one minute short of 9 hours
    now = _judging_last_week(clinic_a)
    assert rules.judged_week(now.date()) == last_week
    result = rules.sweep_clinic(clinic=clinic_a, now=now)
    (alert,) = _alerts(clinic_a, "sched_below_minimum_hours")
    assert result.week_start == last_week and alert.patient_id == patient_a.pk and alert.severity == "low"
    assert alert.evidence["minutes"] == 539 and alert.evidence["hours"] == "9.0"  # shows 9.0, still below
    assert alert.evidence["min_hours"] == "9" and alert.evidence["program"] == "IOP days"
    assert "clinical.md §7a levels of care" in alert.source and "next-capabilities.md §4" in alert.source
    assert rules.sweep_clinic(clinic=clinic_a, now=now).raised == 0  # dedup: one per patient and week
    assert rules.sweep_clinic(clinic=clinic_a, now=now + dt.timedelta(days=1)).raised == 0
    assert len(_alerts(clinic_a, "sched_below_minimum_hours")) == 1


def test_a_week_at_the_minimum_does_not_raise(clinic_a, patient_a, enrolled):
    for occurrence in _week(enrolled, 1):
        enrolled.record(occurrence, "present")  # 540 minutes: exactly 9 hours
    rules.sweep_clinic(clinic=clinic_a, now=_judging_last_week(clinic_a))
    assert _alerts(clinic_a, "sched_below_minimum_hours") == []


def test_a_week_is_not_judged_before_its_grace_days(clinic_a, patient_a, enrolled):
    from zoneinfo import ZoneInfo

    # Monday noon: last week is still open to late attendance, so the week before it is judged.
    monday = monday_weeks_ago(clinic_a, 0)
    now = dt.datetime.combine(monday, dt.time(12), tzinfo=ZoneInfo(clinic_a.timezone))
    assert rules.judged_week(monday) == monday_weeks_ago(clinic_a, 2)
    for occurrence in _week(enrolled, 2):
        enrolled.record(occurrence, "present")
    rules.sweep_clinic(clinic=clinic_a, now=now)
    assert _alerts(clinic_a, "sched_below_minimum_hours") == []  # week 2 was full; week 1 not judged yet


def test_the_rules_are_in_the_catalogue_with_their_sources():
    for rule_id in ("sched_missed_sessions", "sched_below_minimum_hours"):
        rule = rules_catalogue.rule(rule_id)
        assert rule.category == "attendance"
        assert (
            "next-capabilities.md §4" in rule.citation and "clinical.md §7a levels of care" in rule.citation
        )


def test_the_alert_settings_page_sets_the_run_length(clinic_a, clinic_admin):
    from clinic.tenancy.urls_helpers import clinic_reverse
    from tests.conftest import client_for

    with tenant_context(clinic_a):
        url = clinic_reverse("safety:settings")
    admin = client_for(clinic_admin)
    page = admin.get(url)
    assert page.status_code == 200 and 'name="missed_sessions_in_a_row"' in page.content.decode()
    base = {"escalate_after_minutes": "30", "checkin_cutoff": "20:00"}
    assert admin.post(url, {**base, "missed_sessions_in_a_row": "3"}).status_code == 302
    with tenant_context(clinic_a):
        assert rules.missed_run_length() == 3
    refused = admin.post(url, {**base, "missed_sessions_in_a_row": "7"})  # above the catalogue's max (6)
    assert refused.status_code == 400 and "missed_sessions_in_a_row" in refused.context["form"].errors
    assert admin.post(url, base).status_code == 302  # left blank: kept as it was
    with tenant_context(clinic_a):
        assert rules.missed_run_length() == 3
