"""Scheduling's jobs and the attendance jobs safety runs for it: the nightly horizon, the on-save
missed-sessions job (scheduling.signals.attendance_recorded → after commit), the nightly attendance sweep,
their beat entries, and one run of each path on a real Celery worker."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.conf import settings
from django.db import transaction

from clinic.tenancy.context import tenant_context
from safety import tasks as safety_tasks
from safety.models import Alert
from scheduling import tasks
from scheduling.models import Occurrence
from tests.clinic.jobs.worker import celery_worker  # noqa: F401 - a fixture, used by name
from tests.scheduling.compliance_factories import enrol, monday_weeks_ago, today_in
from tests.scheduling.factories import make_series

RESULT_TIMEOUT = 60


def _trim_horizon(clinic, series, keep_days: int = 7) -> int:
    """Pretend the nightly job has not run for a while: drop the series' sessions after a week from now."""
    cut = today_in(clinic) + dt.timedelta(days=keep_days)
    with tenant_context(clinic):
        later = Occurrence.objects.filter(series=series, local_date__gt=cut)
        dropped = later.count()
        later.delete()
        type(series).objects.filter(pk=series.pk).update(materialised_through=cut)
    return dropped


# --- beat -----------------------------------------------------------------------------------------------
def test_the_beat_runs_the_horizon_and_the_attendance_sweep_nightly():
    beat = settings.CELERY_BEAT_SCHEDULE
    assert (
        beat["schedule-horizon"]["task"]
        == tasks.extend_all_horizons.name
        == "scheduling.tasks.extend_all_horizons"
    )
    assert beat["attendance-sweep"]["task"] == safety_tasks.sweep_all_attendance.name
    for key in ("schedule-horizon", "attendance-sweep"):
        schedule = beat[key]["schedule"]
        assert schedule.hour == {3} and len(schedule.minute) == 1  # once a night (crontab)


# --- horizon ----------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_extend_horizon_materialises_the_clinics_series_and_is_idempotent(clinic_a, clinician):
    series = make_series(clinic_a, clinician)
    dropped = _trim_horizon(clinic_a, series)
    assert dropped > 0
    assert tasks.extend_horizon.apply(args=[clinic_a.pk]).get() == dropped
    assert tasks.extend_horizon.apply(args=[clinic_a.pk]).get() == 0


@pytest.mark.django_db
def test_extend_all_horizons_fans_out_to_every_clinic(clinic_a, clinic_b, monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.extend_horizon, "delay", lambda clinic_id: sent.append(clinic_id))
    assert tasks.extend_all_horizons.run() == 2
    assert sorted(sent) == sorted([clinic_a.pk, clinic_b.pk])


# --- attendance: on save, after commit --------------------------------------------------------------------
@pytest.mark.django_db
def test_recorded_attendance_is_evaluated_after_commit(
    clinic_a, clinician, patient_a, monkeypatch, django_capture_on_commit_callbacks
):
    enrolled = enrol(clinic_a, clinician, patient_a)
    sent = []
    monkeypatch.setattr(safety_tasks.evaluate_attendance, "delay", lambda *args: sent.append(args))
    mon = enrolled.occurrences(monday_weeks_ago(clinic_a, 1))[0]
    with django_capture_on_commit_callbacks(execute=True):
        enrolled.record(mon, "absent")
        assert sent == []  # not before the commit
    assert sent == [(clinic_a.pk, str(mon.pk), [str(patient_a.pk)])]


@pytest.mark.django_db
def test_rolled_back_attendance_evaluates_nothing(
    clinic_a, clinician, patient_a, monkeypatch, django_capture_on_commit_callbacks
):
    enrolled = enrol(clinic_a, clinician, patient_a)
    sent = []
    monkeypatch.setattr(safety_tasks.evaluate_attendance, "delay", lambda *args: sent.append(args))
    mon = enrolled.occurrences(monday_weeks_ago(clinic_a, 1))[0]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                enrolled.record(mon, "absent")
                raise RuntimeError("the request failed after recording")
        except RuntimeError:
            pass
    assert callbacks == [] and sent == []


@pytest.mark.django_db
def test_evaluate_attendance_raises_the_missed_sessions_alert_once(clinic_a, clinician, patient_a):
    enrolled = enrol(clinic_a, clinician, patient_a)
    mon, wed, _ = enrolled.occurrences(monday_weeks_ago(clinic_a, 1))
    enrolled.record(mon, "absent")
    args = [clinic_a.pk, str(wed.pk), [str(patient_a.pk)]]
    assert safety_tasks.evaluate_attendance.apply(args=args).get() == 0  # one miss: below the run
    enrolled.record(wed, "absent")
    assert safety_tasks.evaluate_attendance.apply(args=args).get() == 1
    assert safety_tasks.evaluate_attendance.apply(args=args).get() == 0  # re-run: nothing new


@pytest.mark.django_db
def test_the_attendance_sweep_fans_out_and_checks_its_now(clinic_a, clinic_b, monkeypatch):
    sent = []
    monkeypatch.setattr(safety_tasks.sweep_attendance, "delay", lambda *a, **k: sent.append((a, k)))
    assert safety_tasks.sweep_all_attendance.run() == 2
    assert sorted(a[0] for a, _ in sent) == sorted([clinic_a.pk, clinic_b.pk])
    with pytest.raises(ValueError, match="UTC offset"):
        safety_tasks.sweep_attendance.run(clinic_a.pk, now="2026-03-09T12:00")


@pytest.mark.django_db
def test_the_attendance_sweep_task_raises_the_weekly_hours_alert(clinic_a, clinician, patient_a):
    enrolled = enrol(clinic_a, clinician, patient_a)
    enrolled.record(enrolled.occurrences(monday_weeks_ago(clinic_a, 1))[0], "present")  # 3 of at least 9
    wednesday = monday_weeks_ago(clinic_a, 0) + dt.timedelta(days=2)
    now = f"{wednesday.isoformat()}T12:00:00-05:00"
    result = safety_tasks.sweep_attendance.apply(args=[clinic_a.pk], kwargs={"now": now}).get()
    assert result["week_start"] == monday_weeks_ago(clinic_a, 1).isoformat() and result["raised"] == 1
    with tenant_context(clinic_a):
        assert list(Alert.objects.values_list("rule_id", flat=True)) == ["sched_below_minimum_hours"]


# --- a real worker ----------------------------------------------------------------------------------------
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_on_a_real_worker_the_horizon_runs_and_recorded_absences_raise_an_alert(
    celery_worker,  # noqa: F811 - the fixture imported above
    clinic_a,
    clinician,
    patient_a,
):
    series = make_series(clinic_a, clinician, start_time=dt.time(16, 0), minutes=60)
    dropped = _trim_horizon(clinic_a, series)
    assert tasks.extend_horizon.delay(clinic_a.pk).get(timeout=RESULT_TIMEOUT) == dropped

    enrolled = enrol(clinic_a, clinician, patient_a)
    mon, wed, _ = enrolled.occurrences(monday_weeks_ago(clinic_a, 1))
    enrolled.record(mon, "absent")  # each commits (transactional test): the hook enqueues after commit
    enrolled.record(wed, "absent")
    deadline = time.monotonic() + RESULT_TIMEOUT
    found: list = []
    while time.monotonic() < deadline and not found:
        with tenant_context(clinic_a):
            found = list(
                Alert.objects.filter(rule_id="sched_missed_sessions").values_list("patient_id", flat=True)
            )
        time.sleep(0.5)
    assert found == [patient_a.pk]
