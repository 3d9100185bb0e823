"""Re-computing a chain and naming its first broken link. Pure: rows in, a report out.

Rows are dicts with `id`, `prev_hash`, `hash` and the chained fields, in id order (the order the
chain was written in: ids are taken while the chain head is locked).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clinic.audit.chain import GENESIS, link_hash

EDITED = "its content no longer matches its hash: the event was edited after it was written"


@dataclass(frozen=True)
class BrokenLink:
    kind: str  # "prev_hash" (a row removed or reordered), "hash" (a row edited) or "head" (tail removed)
    event_id: int | None
    occurred_at: datetime | None
    expected: str
    stored: str
    explanation: str


@dataclass
class ChainReport:
    label: str
    checked: int = 0
    broken: BrokenLink | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


@dataclass(frozen=True)
class Head:
    last_hash: str
    last_event_id: int | None


def verify_chain(label: str, rows: Iterable[dict[str, Any]], head: Head | None) -> ChainReport:
    """Walk the rows once (they may be a server-side cursor) and stop at the first broken link."""
    report = ChainReport(label=label)
    expected_prev, previous = GENESIS, None
    for row in rows:
        report.checked += 1
        if row["prev_hash"] != expected_prev:
            report.broken = BrokenLink(
                kind="prev_hash",
                event_id=row["id"],
                occurred_at=row["occurred_at"],
                expected=expected_prev,
                stored=row["prev_hash"],
                explanation=(
                    f"its prev_hash is not the hash of the event before it (#{previous['id']}): an event "
                    "between them was deleted, events were reordered, or that event was rewritten "
                    "with a new hash"
                    if previous
                    else "the first event does not start at the genesis hash: earlier events were deleted"
                ),
            )
            return report
        computed = link_hash(row["prev_hash"], row)
        if computed != row["hash"]:
            report.broken = BrokenLink(
                kind="hash",
                event_id=row["id"],
                occurred_at=row["occurred_at"],
                expected=computed,
                stored=row["hash"],
                explanation=EDITED,
            )
            return report
        expected_prev, previous = row["hash"], row
    report.broken = _check_head(previous, head)
    return report


def _check_head(last: dict[str, Any] | None, head: Head | None) -> BrokenLink | None:
    """The head row records the chain's last event; a mismatch means events were cut off the end."""
    if last is None and (head is None or head.last_event_id is None):
        return None
    if head is None:
        return BrokenLink(
            kind="head",
            event_id=last["id"],
            occurred_at=last["occurred_at"],
            expected=last["hash"],
            stored="(no chain head row)",
            explanation="the chain head row is missing, so a truncated tail cannot be ruled out",
        )
    if last is not None and head.last_event_id == last["id"] and head.last_hash == last["hash"]:
        return None
    last_text = f"#{last['id']}" if last else "no event at all"
    return BrokenLink(
        kind="head",
        event_id=head.last_event_id,
        occurred_at=None,
        expected=head.last_hash,
        stored=last["hash"] if last else "(none)",
        explanation=(
            f"the chain head says the last event is #{head.last_event_id}, "
            f"but the chain ends at {last_text}: events at the end were deleted (a truncated tail) "
            "or appended outside the chain"
        ),
    )
