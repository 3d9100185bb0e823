"""A clinic's "Today" page, open to every member; patient figures only for roles that may see them."""

from __future__ import annotations

import datetime

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit, audit_many
from clinic.tenancy.access import require_member
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm, role_labels
from patients.models import Patient
from patients.selectors import patient_census, patient_list
from patients.tasks import census_cache_key
from prescribers.selectors import open_tasks_due, open_tasks_due_count
from scheduling.reminders import day_before

RECENT_PATIENTS = 6
DUE_TASKS_SHOWN = 20
REMINDERS_SHOWN = 40


@require_member
def dashboard(request: HttpRequest) -> HttpResponse:
    context: dict = {"roles": role_labels(request.membership.roles)}
    if request.membership.allows(Perm.PATIENT_VIEW):
        census = cache.get(census_cache_key(request.clinic.pk)) or patient_census()
        labels = dict(Patient.Status.choices)
        context["census"] = [
            {"status": status, "label": labels.get(status, status), "count": count}
            for status, count in census.items()
        ]
        context["census_total"] = sum(census.values())
        recent = list(patient_list().order_by("-updated_at")[:RECENT_PATIENTS])
        audit(
            actor=request.user,
            action=AuditEvent.Action.LIST,
            object_type="patients.patient",
            detail={"view": "dashboard.recent", "shown": len(recent)},
        )
        context["recent_patients"] = recent
    if request.membership.allows(Perm.MEDICATION_VIEW):
        context.update(_coordination_due(request))
    if request.membership.allows(Perm.SCHEDULE_BOOK):
        context.update(_reminders(request))
    return render(request, "dashboard.html", context)


def _coordination_due(request: HttpRequest) -> dict:
    """Coordination tasks with prescribers due today or overdue: two queries and one audit insert, however
    many tasks (each shown task names a patient, so each patient shown is audited)."""
    today = clinic_today()
    tasks = list(open_tasks_due(until=today, limit=DUE_TASKS_SHOWN))
    audit_many(
        actor=request.user,
        action=AuditEvent.Action.LIST,
        items=[
            {
                "object_type": "prescribers.coordinationtask",
                "object_id": str(task.pk),
                "patient": task.patient_id,
                "detail": {"view": "dashboard.coordination_due"},
            }
            for task in tasks
        ],
    )
    count = len(tasks) if len(tasks) < DUE_TASKS_SHOWN else open_tasks_due_count(until=today)
    return {"due_tasks": tasks, "due_task_count": count, "today": today}


def _reminders(request: HttpRequest) -> dict:
    """Tomorrow's booked patients for the front desk to remind: two queries and one audit insert."""
    tomorrow = clinic_today() + datetime.timedelta(days=1)
    rows = list(day_before(tomorrow)[:REMINDERS_SHOWN])
    audit_many(
        actor=request.user,
        action=AuditEvent.Action.LIST,
        items=[
            {
                "object_type": "scheduling.booking",
                "object_id": str(b.pk),
                "patient": b.patient_id,
                "detail": {"view": "dashboard.reminders"},
            }
            for b in rows
        ],
    )
    count = len(rows) if len(rows) < REMINDERS_SHOWN else day_before(tomorrow).count()
    waiting = sum(1 for b in rows if b.reminded_at is None)
    return {"reminders": rows, "reminder_count": count, "reminders_waiting": waiting, "tomorrow": tomorrow}
