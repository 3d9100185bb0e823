"""Taper reads: the plan in force, the step on a day, planned-vs-actual series, and the review queue."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, Q
from django.utils import timezone

from clinic.tenancy.context import clinic_today, require_clinic
from patients.models import Patient
from taper import dates
from taper.engine import Phase
from taper.models import DoseRecord, TaperPlan, TaperPlanVersion, TaperStep
from taper.signals import review_concerns


def open_plan_for(patient: Patient) -> TaperPlan | None:
    return (
        TaperPlan.objects.filter(patient=patient, status__in=TaperPlan.OPEN_STATUSES)
        .select_related("current_version")
        .first()
    )


def active_plan_for(patient: Patient) -> TaperPlan | None:
    return (
        TaperPlan.objects.filter(patient=patient, status=TaperPlan.Status.ACTIVE)
        .select_related("current_version")
        .first()
    )


def step_in(version: TaperPlanVersion, day: datetime.date) -> TaperStep | None:
    return (
        TaperStep.objects.filter(version=version, start__lte=day)
        .filter(Q(end__isnull=True) | Q(end__gte=day))
        .order_by("index")
        .first()
    )


def step_on(*, patient: Patient, day: datetime.date) -> TaperStep | None:
    """The step in effect on `day` in the patient's active plan (None with no active plan or before it)."""
    return (
        TaperStep.objects.filter(
            version_id=TaperPlan.objects.filter(patient=patient, status=TaperPlan.Status.ACTIVE).values(
                "current_version_id"
            )[:1],
            start__lte=day,
        )
        .filter(Q(end__isnull=True) | Q(end__gte=day))
        .select_related("plan", "version")
        .order_by("index")
        .first()
    )


def step_dates(*, patient: Patient) -> list[datetime.date]:
    """Start dates of the reduction steps in the patient's active (or latest) plan, for chart markers."""
    plan = _display_plan(patient)
    if plan is None:
        return []
    return list(
        TaperStep.objects.filter(version_id=plan.current_version_id, phase=Phase.REDUCTION.value)
        .order_by("start")
        .values_list("start", flat=True)
    )


def planned_dose_series(
    *, patient: Patient, start: datetime.date, end: datetime.date
) -> tuple[list[tuple[datetime.date, Decimal]], list[datetime.date]]:
    """The active plan's planned daily diazepam-equivalent dose in [start, end] as (day it starts, mg) points
    (the first at `start` when a step is running then), and the reduction-step dates in the range.
    Two queries whatever the number of steps."""
    plan = active_plan_for(patient)
    if plan is None:
        return [], []
    steps = (
        TaperStep.objects.filter(version_id=plan.current_version_id, start__lte=end)
        .filter(Q(end__isnull=True) | Q(end__gte=start))
        .order_by("index")
        .only("start", "end", "phase", "daily_de_mg")
    )
    points: list[tuple[datetime.date, Decimal]] = []
    dates: list[datetime.date] = []
    for step in steps:
        points.append((max(step.start, start), step.daily_de_mg))
        if step.phase == Phase.REDUCTION.value and step.start >= start:
            dates.append(step.start)
    return points, dates


def _display_plan(patient: Patient) -> TaperPlan | None:
    plan = open_plan_for(patient)
    if plan is None:
        plan = TaperPlan.objects.filter(patient=patient).exclude(current_version=None).first()
    return plan


def plan_for_page(plan_id) -> TaperPlan:
    """A plan with everything its page shows, in a fixed number of queries."""
    return (
        TaperPlan.objects.select_related("patient", "current_version", "created_by", "approved_by")
        .prefetch_related(
            Prefetch(
                "versions",
                queryset=TaperPlanVersion.objects.select_related("created_by", "approved_by").order_by(
                    "-number"
                ),
            )
        )
        .get(pk=plan_id)
    )


def change_defaults(plan: TaperPlan, today: datetime.date) -> dict[str, datetime.date]:
    """The dates a hold, pace change or resume form starts with: dates the services accept (a change starts
    today or later, not before the plan's first step; a resume after the day the hold began)."""
    version = plan.current_version
    first = version.steps.order_by("index").values_list("start", flat=True).first() if version else None
    earliest = max(today, first) if first else today
    resume = max(today, plan.held_since + datetime.timedelta(days=1)) if plan.held_since else earliest
    return {"hold": earliest, "pace": earliest, "resume": resume}


def steps_of(version: TaperPlanVersion) -> list[TaperStep]:
    return list(TaperStep.objects.filter(version=version).order_by("index"))


def dose_records(plan: TaperPlan) -> list[DoseRecord]:
    return list(DoseRecord.objects.filter(plan=plan).select_related("recorded_by").order_by("day"))


@dataclass(frozen=True)
class StepProgress:
    step: TaperStep
    days_recorded: int
    mean_actual_de_mg: Decimal | None
    days_off_plan: int


def step_progress(
    steps: list[TaperStep], records: list[DoseRecord], today: datetime.date
) -> list[StepProgress]:
    """Planned vs actual per step, from rows already loaded (no queries)."""
    out = []
    for step in steps:
        inside = [r for r in records if step.covers(r.day)]
        mean = None
        if inside:
            mean = (sum((r.de_mg for r in inside), Decimal(0)) / len(inside)).quantize(Decimal("0.001"))
        off = sum(1 for r in inside if r.de_mg != step.daily_de_mg)
        out.append(StepProgress(step, len(inside), mean, off))
    return out


@dataclass(frozen=True)
class ReviewItem:
    plan: TaperPlan
    reason: str  # awaiting_approval | step_due | held | withdrawal_rising
    due: datetime.date | None
    detail: str


def review_queue(*, today: datetime.date | None = None, days_ahead: int = 7) -> list[ReviewItem]:
    """What a psychiatrist should look at: plans awaiting approval, steps due soon, held plans, and open
    plans of patients another app is concerned about (`taper.signals`: safety's open "withdrawal scores
    rising" alerts; the alert suggests a hold, the software never applies one).

    Three queries whatever the number of plans (plans, their upcoming steps, the concerns)."""
    today = today or clinic_today()
    horizon = today + datetime.timedelta(days=days_ahead)
    plans = list(
        TaperPlan.objects.filter(
            status__in=[TaperPlan.Status.PROPOSED, TaperPlan.Status.ACTIVE, TaperPlan.Status.DRAFT]
        ).select_related("patient", "current_version", "created_by")
    )
    active_versions = [p.current_version_id for p in plans if p.status == TaperPlan.Status.ACTIVE]
    next_steps: dict = {}
    for step in (
        TaperStep.objects.filter(version_id__in=active_versions, start__gt=today, start__lte=horizon)
        .exclude(phase=Phase.HOLD.value)
        .order_by("version_id", "start")
    ):
        next_steps.setdefault(step.version_id, step)
    items: list[ReviewItem] = []
    for plan in plans:
        if plan.status == TaperPlan.Status.PROPOSED:
            items.append(
                ReviewItem(plan, "awaiting_approval", plan.updated_at.date(), "Awaiting your approval")
            )
        elif plan.status == TaperPlan.Status.ACTIVE and plan.held_since:
            items.append(
                ReviewItem(plan, "held", plan.held_since, f"Held since {dates.short_date(plan.held_since)}")
            )
        elif plan.status == TaperPlan.Status.ACTIVE and plan.current_version_id in next_steps:
            step = next_steps[plan.current_version_id]
            items.append(
                ReviewItem(
                    plan,
                    "step_due",
                    step.start,
                    f"Step {step.index} on {dates.long_date(step.start)}: "
                    f"{step.daily_de_mg.normalize():f} mg diazepam-equivalent",
                )
            )
    by_patient = {p.patient_id: p for p in plans}
    zone = zoneinfo.ZoneInfo(require_clinic().timezone)
    for concern in review_concerns(sender=TaperPlan):
        plan = by_patient.pop(concern.patient_id, None)  # one row per patient (the newest concern)
        if plan is not None:
            items.append(
                ReviewItem(
                    plan,
                    "withdrawal_rising",
                    timezone.localtime(concern.raised_at, zone).date(),
                    f"{concern.title or 'Withdrawal scores rising'}: consider holding the next step",
                )
            )
    order = {"awaiting_approval": 0, "held": 1, "withdrawal_rising": 1, "step_due": 2}
    items.sort(key=lambda i: (order[i.reason], i.due or today, i.plan.patient.last_name))
    return items
