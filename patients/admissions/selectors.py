"""Reads for the admissions pipeline. The board is a fixed handful of queries however many inquiries
there are: one for every open inquiry (with its assignee), one for the closed list."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field

from django.db.models import Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from clinic.accounts.models import User
from clinic.tenancy.context import require_clinic
from clinic.tenancy.roles import PERMISSIONS, Perm
from patients.admissions import stages
from patients.admissions.models import Inquiry, InquiryStageChange, ReportedBenzodiazepine

try:  # built by the insurance sub-app; the board shows no "Reviews due" section until it exists
    from patients.insurance.selectors import authorizations_review_due
except ImportError:  # pragma: no cover - depends on which sub-apps are installed
    authorizations_review_due = None

CLOSED_LIST_LIMIT = 50
REVIEWS_LIMIT = 50


def clinic_tz() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(require_clinic().timezone)


def days_in_stage(entered_at: datetime.datetime, *, tz: datetime.tzinfo, today: datetime.date) -> int:
    """Whole calendar days since the inquiry entered its stage, counted in the clinic's time zone
    (an inquiry that arrived at 11 pm is one day old the next morning)."""
    return max(0, (today - entered_at.astimezone(tz).date()).days)


def assignable_staff() -> QuerySet[User]:
    """Active members of the current clinic whose roles may work the pipeline."""
    roles = [role.value for role in PERMISSIONS[Perm.INQUIRY_MANAGE]]
    return (
        User.objects.filter(
            memberships__clinic=require_clinic(),
            memberships__is_active=True,
            memberships__roles__overlap=roles,
        )
        .distinct()
        .order_by("full_name", "email")
    )


@dataclass(frozen=True)
class BoardCard:
    inquiry: Inquiry
    days: int
    stale: bool


@dataclass
class BoardColumn:
    stage: stages.Stage
    stale_after_days: int
    cards: list[BoardCard] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.stage.label

    @property
    def count(self) -> int:
        return len(self.cards)

    @property
    def stale_count(self) -> int:
        return sum(card.stale for card in self.cards)


def inquiry_board() -> list[BoardColumn]:
    """One column per open stage, oldest in the stage first, each card with its age in days."""
    tz = clinic_tz()
    today = timezone.now().astimezone(tz).date()
    columns = {
        stage: BoardColumn(stage=stage, stale_after_days=stages.STALE_AFTER_DAYS[stage])
        for stage in stages.OPEN_STAGES
    }
    open_inquiries = (
        Inquiry.objects.filter(stage__in=[stage.value for stage in stages.OPEN_STAGES])
        .select_related("assigned_to")
        .order_by("stage_entered_at", "created_at")
    )
    for inquiry in open_inquiries:
        column = columns[stages.Stage(inquiry.stage)]
        days = days_in_stage(inquiry.stage_entered_at, tz=tz, today=today)
        column.cards.append(BoardCard(inquiry=inquiry, days=days, stale=days > column.stale_after_days))
    return list(columns.values())


def closed_inquiries(*, stage: str = "", search: str = "") -> list[Inquiry]:
    closed = [stage.value for stage in stages.CLOSED_STAGES]
    inquiries = Inquiry.objects.filter(stage__in=[stage] if stage in closed else closed)
    for term in search.split()[:5]:
        inquiries = inquiries.filter(Q(last_name__icontains=term) | Q(first_name__icontains=term))
    return list(
        inquiries.select_related("patient").order_by("-stage_entered_at", "-created_at")[:CLOSED_LIST_LIMIT]
    )


def inquiry_get(*, inquiry_id) -> Inquiry:
    queryset = Inquiry.objects.select_related("patient", "assigned_to").prefetch_related(
        Prefetch("benzodiazepines", queryset=ReportedBenzodiazepine.objects.order_by("created_at", "drug")),
        Prefetch(
            "stage_changes",
            queryset=InquiryStageChange.objects.select_related("changed_by").order_by(
                "changed_at", "created_at"
            ),
        ),
    )
    return get_object_or_404(queryset, pk=inquiry_id)


def reviews_due(*, within_days: int) -> list:
    """Authorizations whose next utilization review falls within the window, if insurance provides them."""
    if authorizations_review_due is None:
        return []
    return list(authorizations_review_due(within_days=within_days)[:REVIEWS_LIMIT])
