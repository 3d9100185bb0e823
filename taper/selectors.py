"""Taper reads: the plan in force, the step on a day, planned-vs-actual series, and the review queue."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest, TruncDate

from clinic.tenancy.context import clinic_today, require_clinic
from patients.models import Patient
from taper import dates
from taper.engine import Phase
from taper.models import DoseRecord, TaperPlan, TaperPlanVersion, TaperStep
from taper.signals import review_concern_sources


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


# The queue's sections, most urgent first; each is its own query and is paginated on its own.
REVIEW_SECTIONS = ("awaiting_approval", "held", "withdrawal_rising", "step_due")
REVIEWABLE = (TaperPlan.Status.PROPOSED, TaperPlan.Status.ACTIVE, TaperPlan.Status.DRAFT)
# What a row shows: the patient's name and MRN, never a version's JSON (the queue once loaded ~2,400).
_ROW_FIELDS = (
    "id",
    "status",
    "patient_id",
    "held_since",
    "updated_at",
    "current_version_id",
    "patient__id",
    "patient__first_name",
    "patient__preferred_name",
    "patient__last_name",
    "patient__mrn",
)


def _concerns_newest(sources: list[QuerySet]) -> tuple[Any, Any] | None:
    """(raised_at, title) of a patient's newest concern, as subqueries over every receiver's queryset."""
    if not sources:
        return None
    raised = [
        Subquery(q.filter(patient_id=OuterRef("patient_id")).order_by("-raised_at").values("raised_at")[:1])
        for q in sources
    ]
    titles = [
        Subquery(q.filter(patient_id=OuterRef("patient_id")).order_by("-raised_at").values("title")[:1])
        for q in sources
    ]
    if len(sources) == 1:
        return raised[0], titles[0]
    # Several receivers: the newest date (Postgres' GREATEST skips NULLs); the first receiver's title.
    return Greatest(*raised), Coalesce(*titles)


def _steps_due(today: datetime.date, horizon: datetime.date) -> QuerySet[TaperStep]:
    """The first step after today of each active, not held plan's current version, when it starts by
    `horizon`: one join over the plans' steps (no per-plan subquery), a step not preceded by another."""
    upcoming = Q(start__gt=today) & ~Q(phase=Phase.HOLD.value)
    earlier = TaperStep.objects.filter(
        upcoming, version_id=OuterRef("version_id"), start__lt=OuterRef("start")
    )
    return (
        TaperStep.objects.filter(
            upcoming,
            start__lte=horizon,
            version_id=F("plan__current_version_id"),
            plan__status=TaperPlan.Status.ACTIVE,
            plan__held_since__isnull=True,
        )
        .filter(~Exists(earlier))
        .select_related("plan__patient")
        .only("index", "start", "daily_de_mg", "plan_id", *(f"plan__{f}" for f in _ROW_FIELDS))
        .annotate(review_due=F("start"))
        .order_by("start", "plan__patient__last_name", "plan_id")
    )


def review_section(
    reason: str, *, today: datetime.date, days_ahead: int = 7
) -> QuerySet[TaperPlan] | QuerySet[TaperStep]:
    """One section of the review queue as a lazy queryset annotated with `review_due` (and what the row's
    detail needs), ordered for stable pages: due date, patient's last name, plan id. Plans, except
    `step_due`: the steps themselves (with their plan and patient).

    "What needs review" is decided in SQL (`Exists` / subqueries), so a page costs the same whatever the
    number of open plans. `withdrawal_rising` asks `taper.signals` for other apps' querysets of concerns
    (safety's open "withdrawal scores rising" alerts; the alert suggests a hold, nothing is applied)."""
    plans = TaperPlan.objects.select_related("patient").only(*_ROW_FIELDS)
    order = ("review_due", "patient__last_name", "id")
    if reason == "awaiting_approval":
        plans = plans.filter(status=TaperPlan.Status.PROPOSED)
        return plans.annotate(review_due=TruncDate("updated_at", tzinfo=datetime.UTC)).order_by(*order)
    if reason == "held":
        plans = plans.filter(status=TaperPlan.Status.ACTIVE, held_since__isnull=False)
        return plans.annotate(review_due=F("held_since")).order_by(*order)
    if reason == "step_due":
        return _steps_due(today, today + datetime.timedelta(days=days_ahead))
    if reason == "withdrawal_rising":
        newest = _concerns_newest(review_concern_sources(sender=TaperPlan))
        if newest is None:
            return plans.none()
        zone = zoneinfo.ZoneInfo(require_clinic().timezone)
        plans = plans.filter(status__in=REVIEWABLE).annotate(
            concern_raised=newest[0], concern_title=newest[1]
        )
        plans = plans.filter(concern_raised__isnull=False)
        return plans.annotate(review_due=TruncDate("concern_raised", tzinfo=zone)).order_by(*order)
    raise ValueError(f"unknown review section {reason!r}")


def review_item(reason: str, row: TaperPlan | TaperStep) -> ReviewItem:
    """A row of a section (from what `review_section` loaded and annotated: no query)."""
    due = row.review_due
    if isinstance(row, TaperStep):
        detail = (
            f"Step {row.index} on {dates.long_date(due)}: "
            f"{row.daily_de_mg.normalize():f} mg diazepam-equivalent"
        )
        return ReviewItem(row.plan, reason, due, detail)
    plan = row
    if reason == "awaiting_approval":
        return ReviewItem(plan, reason, due, "Awaiting your approval")
    if reason == "held":
        return ReviewItem(plan, reason, due, f"Held since {dates.short_date(due)}")
    title = plan.concern_title or "Withdrawal scores rising"
    return ReviewItem(plan, reason, due, f"{title}: consider holding the next step")


def review_queue(*, today: datetime.date | None = None, days_ahead: int = 7) -> list[ReviewItem]:
    """Every row of every section, most urgent first (unpaginated: for tests and small clinics; the page
    paginates `review_section` instead). One query per section."""
    today = today or clinic_today()
    return [
        review_item(reason, row)
        for reason in REVIEW_SECTIONS
        for row in review_section(reason, today=today, days_ahead=days_ahead)
    ]
