"""Jobs of the scheduling area. Thin: each runs one service inside one clinic (clinic_step).

- extend_horizon / extend_all_horizons: nightly, every running series is materialised to the horizon
  (scheduling.services.materialise_horizon), clinic by clinic.
- send_reminders / send_all_reminders: hourly, only when a reminder transport is configured; from
  STEPDOWN_REMINDER_HOUR in each clinic's own day, tomorrow's booked patients are messaged once.

The attendance rules' jobs (evaluate_attendance after attendance is recorded, the nightly weekly-hours
sweep) are safety's (safety/tasks.py): scheduling sits below safety and never imports it; it sends
scheduling.signals.attendance_recorded and safety connects to that signal.
"""

from __future__ import annotations

from celery import shared_task

from clinic.jobs.base import StepdownTask, clinic_step, fan_out_to_clinics


@shared_task(base=StepdownTask, name="scheduling.tasks.extend_horizon")
def extend_horizon(clinic_id: int) -> int:
    """Materialise one clinic's running series to the horizon. Re-runnable: an occurrence is unique per
    series and slot, so a second run adds nothing. Returns how many occurrences were made."""
    from scheduling.services import materialise_horizon

    with clinic_step(clinic_id):
        return materialise_horizon()


@shared_task(base=StepdownTask, name="scheduling.tasks.extend_all_horizons")
def extend_all_horizons() -> int:
    """Beat entry point (nightly): one horizon task per active clinic."""
    return fan_out_to_clinics(extend_horizon)


@shared_task(base=StepdownTask, name="scheduling.tasks.send_reminders")
def send_reminders(clinic_id: int) -> int:
    """Message the patients booked into tomorrow's sessions, once it is evening where the clinic is.
    Re-runnable: a reminded booking is stamped and skipped. Returns how many were sent."""
    from scheduling.reminders import reminders_due_day, reminders_send

    with clinic_step(clinic_id):
        day = reminders_due_day()
        return 0 if day is None else reminders_send(day=day)


@shared_task(base=StepdownTask, name="scheduling.tasks.send_all_reminders")
def send_all_reminders() -> int:
    """Beat entry point (hourly): nothing to fan out while no transport is configured."""
    from scheduling.reminders import transport

    return fan_out_to_clinics(send_reminders) if transport() is not None else 0
