"""Jobs of the safety area. Thin: each runs one service inside one clinic (clinic_step).

- evaluate_patient: the on-save hook's job (a vital, score or check-in was recorded; see safety.apps).
- notify_alert: the email to on-call staff about one alert (claimed before sending: never twice).
- escalate_alerts / escalate_all_clinics: the beat job that escalates unacknowledged high/critical alerts.
"""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from clinic.jobs.base import StepdownTask, clinic_step, fan_out_to_clinics


@shared_task(base=StepdownTask, name="safety.tasks.evaluate_patient")
def evaluate_patient(clinic_id: int, patient_id: str, kind: str, object_id: str) -> int:
    """Run the patient's rules for the fact just recorded; safety.evaluation raises what they find through
    alerts_raise. Re-runnable: the dedup key makes a second run add nothing. Returns how many are new."""
    from safety.evaluation import evaluate_patient as evaluate

    with clinic_step(clinic_id) as clinic:
        return len(evaluate(clinic=clinic, patient_id=patient_id, kind=kind, object_id=object_id))


@shared_task(
    base=StepdownTask,
    name="safety.tasks.notify_alert",
    # A mail server that is down is retried like a database that is down; the claim rolls back with it.
    autoretry_for=(OperationalError, InterfaceError, RedisConnectionError, smtplib.SMTPException, OSError),
)
def notify_alert(clinic_id: int, alert_id: str, kind: str = "new") -> bool:
    from safety.notifications import alert_notify

    with clinic_step(clinic_id):
        return alert_notify(alert_id=alert_id, kind=kind)


@shared_task(base=StepdownTask, name="safety.tasks.escalate_alerts")
def escalate_alerts(clinic_id: int) -> dict[str, int]:
    from safety.notifications import alerts_escalate_due, alerts_notify_pending

    with clinic_step(clinic_id) as clinic:
        escalated = alerts_escalate_due(clinic=clinic)
        resent = alerts_notify_pending(clinic=clinic)
    return {"escalated": len(escalated), "notifications_requeued": resent}


@shared_task(base=StepdownTask, name="safety.tasks.escalate_all_clinics")
def escalate_all_clinics() -> int:
    return fan_out_to_clinics(escalate_alerts)


# --- sweeps (the beat safety net; safety/sweeps.py) ------------------------------------------------------
@shared_task(base=StepdownTask, name="safety.tasks.sweep_clinic")
def sweep_clinic(clinic_id: int, now: str | None = None) -> dict:
    """One clinic's sweep as of `now` (ISO 8601 with offset; default: when it runs). Re-runnable: every
    finding has a dedup key, and the whole sweep is one transaction (a killed worker leaves nothing)."""
    from django.utils.dateparse import parse_datetime

    from safety.sweeps import sweep_clinic as sweep

    moment = parse_datetime(now) if now else None
    if now and (moment is None or moment.tzinfo is None):
        raise ValueError(f"now must be an ISO 8601 date-time with a UTC offset, got {now!r}")
    with clinic_step(clinic_id) as clinic:
        return sweep(clinic=clinic, now=moment).as_json()


@shared_task(base=StepdownTask, name="safety.tasks.sweep_all_clinics")
def sweep_all_clinics(now: str | None = None) -> int:
    """Beat entry point: one sweep task per active clinic (each in its own scope and transaction)."""
    if now is None:
        return fan_out_to_clinics(sweep_clinic)
    return fan_out_to_clinics(sweep_clinic, now=now)


# --- unsafe co-prescription (safety/corx.py) -------------------------------------------------------------
@shared_task(base=StepdownTask, name="safety.tasks.evaluate_medications")
def evaluate_medications(clinic_id: int, patient_ids: list[str]) -> int:
    """The on-save job after medications or PDMP fills of these patients changed. Re-runnable (dedup keys)."""
    from safety.corx import evaluate_patients

    with clinic_step(clinic_id) as clinic:
        return len(evaluate_patients(clinic=clinic, patient_ids=patient_ids))


@shared_task(base=StepdownTask, name="safety.tasks.sweep_coprescriptions")
def sweep_coprescriptions(clinic_id: int, now: str | None = None) -> dict:
    """One clinic's nightly co-prescription sweep as of `now` (ISO 8601 with offset; default: now)."""
    from django.utils.dateparse import parse_datetime

    from safety.corx import sweep_clinic as sweep

    moment = parse_datetime(now) if now else None
    if now and (moment is None or moment.tzinfo is None):
        raise ValueError(f"now must be an ISO 8601 date-time with a UTC offset, got {now!r}")
    with clinic_step(clinic_id) as clinic:
        return sweep(clinic=clinic, now=moment).as_json()


@shared_task(base=StepdownTask, name="safety.tasks.sweep_all_coprescriptions")
def sweep_all_coprescriptions(now: str | None = None) -> int:
    """Beat entry point (nightly): one co-prescription sweep per active clinic."""
    if now is None:
        return fan_out_to_clinics(sweep_coprescriptions)
    return fan_out_to_clinics(sweep_coprescriptions, now=now)


# --- attendance (safety/scheduling.py): missed sessions and weekly hours --------------------------------
# These live here, not in scheduling/tasks.py: scheduling sits below safety and may not import it; it sends
# scheduling.signals.attendance_recorded and safety connects to it (safety.apps).
@shared_task(base=StepdownTask, name="safety.tasks.evaluate_attendance")
def evaluate_attendance(clinic_id: int, occurrence_id: str, patient_ids: list[str]) -> int:
    """The on-save job after attendance of an occurrence was recorded: the missed-sessions rule for its
    patients. Re-runnable (dedup keys). Returns how many alerts are new."""
    from safety.scheduling import evaluate_attendance as evaluate

    with clinic_step(clinic_id) as clinic:
        return len(evaluate(clinic=clinic, patient_ids=patient_ids))


@shared_task(base=StepdownTask, name="safety.tasks.sweep_attendance")
def sweep_attendance(clinic_id: int, now: str | None = None) -> dict:
    """One clinic's nightly attendance sweep as of `now` (ISO 8601 with offset; default: when it runs)."""
    from django.utils.dateparse import parse_datetime

    from safety.scheduling import sweep_clinic as sweep

    moment = parse_datetime(now) if now else None
    if now and (moment is None or moment.tzinfo is None):
        raise ValueError(f"now must be an ISO 8601 date-time with a UTC offset, got {now!r}")
    with clinic_step(clinic_id) as clinic:
        return sweep(clinic=clinic, now=moment).as_json()


@shared_task(base=StepdownTask, name="safety.tasks.sweep_all_attendance")
def sweep_all_attendance(now: str | None = None) -> int:
    """Beat entry point (nightly): one attendance sweep per active clinic."""
    if now is None:
        return fan_out_to_clinics(sweep_attendance)
    return fan_out_to_clinics(sweep_attendance, now=now)
