"""Reading the audit trail for the report page and the CSV export. Runs inside the current clinic."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from clinic.audit.models import AuditEvent
from clinic.audit.subjects import patient_directory


@dataclass(frozen=True)
class AuditFilters:
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    actor: str = ""
    action: str = ""
    patient_id: uuid.UUID | None = None
    object_type: str = ""
    request_id: str = ""


def day_bounds(
    first: date | None, last: date | None, tz_name: str
) -> tuple[datetime | None, datetime | None]:
    """Whole days in the clinic's time zone: from the start of `first` to the end of `last`."""
    tz = ZoneInfo(tz_name)
    start = datetime.combine(first, time.min, tzinfo=tz) if first else None
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz) if last else None
    return start, end


def patient_id_for(term: str) -> uuid.UUID | None:
    """A patient of this clinic by id or MRN (case-insensitive); None when there is none."""
    return patient_directory().find(term.strip())


def audit_events(filters: AuditFilters) -> QuerySet[AuditEvent]:
    """The current clinic's events matching `filters` (scoped manager + row-level security)."""
    events = AuditEvent.objects.select_related("actor")
    if filters.start:
        events = events.filter(occurred_at__gte=filters.start)
    if filters.end:
        events = events.filter(occurred_at__lt=filters.end)
    if filters.actor:
        events = events.filter(actor_label__icontains=filters.actor)
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.patient_id:
        events = events.filter(patient_id=filters.patient_id)
    if filters.object_type:
        events = events.filter(object_type=filters.object_type)
    if filters.request_id:
        events = events.filter(request_id=filters.request_id)
    return events


def patient_mrns(patient_ids) -> dict[uuid.UUID, str]:
    """MRNs for a set of patient ids, or for a subquery of them, in one query."""
    if isinstance(patient_ids, (set, list, tuple)) and not patient_ids:
        return {}
    return patient_directory().labels(patient_ids)


# --- Keyset pagination, newest first -------------------------------------------------------------------
# A count(*) over millions of events is slow; a position (time, id) is not. Links carry the position.


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Position:
    occurred_at: datetime
    id: int

    def token(self) -> str:
        micros = (self.occurred_at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}_{self.id}"

    @classmethod
    def parse(cls, token: str | None) -> Position | None:
        try:
            micros, event_id = (int(part) for part in (token or "").split("_"))
            return cls(_EPOCH + timedelta(microseconds=micros), event_id)
        except (ValueError, OverflowError):
            return None

    @classmethod
    def of(cls, event: AuditEvent) -> Position:
        return cls(event.occurred_at, event.pk)


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    newer: Position | None  # link to the page of newer events, if there are any
    older: Position | None  # link to the page of older events, if there are any


def _older_than(position: Position) -> Q:
    return Q(occurred_at__lt=position.occurred_at) | Q(occurred_at=position.occurred_at, id__lt=position.id)


def _newer_than(position: Position) -> Q:
    return Q(occurred_at__gt=position.occurred_at) | Q(occurred_at=position.occurred_at, id__gt=position.id)


def event_page(
    events: QuerySet[AuditEvent], *, before: Position | None, after: Position | None, size: int
) -> EventPage:
    """One page newest first: the events older than `before`, or the ones just newer than `after`."""
    if after is not None:
        rows = list(events.filter(_newer_than(after)).order_by("occurred_at", "id")[: size + 1])
        if not rows:
            return event_page(events, before=None, after=None, size=size)
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        return EventPage(
            rows,
            newer=Position.of(rows[0]) if more_newer else None,
            older=Position.of(rows[-1]),
        )
    if before is not None:
        events = events.filter(_older_than(before))
    rows = list(events.order_by("-occurred_at", "-id")[: size + 1])
    more_older = len(rows) > size
    rows = rows[:size]
    return EventPage(
        rows,
        newer=Position.of(rows[0]) if rows and before is not None else None,
        older=Position.of(rows[-1]) if rows and more_older else None,
    )
