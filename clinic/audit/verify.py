"""Re-computing a chain and naming its first broken link. Pure: rows in, a report out.

Rows are dicts with `id`, `prev_hash`, `hash` and the chained fields, in id order (the order the
chain was written in: ids are taken while the chain head is locked).

The chain alone proves nothing against whoever can rewrite the whole table (the database owner can
switch the append-only trigger off, edit an event, re-hash everything after it and move the head). The
signed checkpoints (`clinic.audit.signing`, kept outside the database) pin the chain: the event each one
names must still be there with the signed hash and at the signed position (count).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clinic.audit.chain import GENESIS, link_hash
from clinic.audit.signing import Checkpoint

EDITED = "its content no longer matches its hash: the event was edited after it was written"


@dataclass(frozen=True)
class BrokenLink:
    # "prev_hash" (a row removed or reordered), "hash" (a row edited), "head" (tail removed) or
    # "checkpoint" (the chain no longer agrees with a signed checkpoint: rewritten, re-hashed or cut short)
    kind: str
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
    checkpoint_problem: str | None = None  # the signed log itself does not verify
    last_checkpoint: Checkpoint | None = None  # the newest signed checkpoint compared
    after_checkpoint: int = 0  # events after it, protected by the hash chain alone so far

    @property
    def ok(self) -> bool:
        return self.broken is None and self.checkpoint_problem is None


@dataclass(frozen=True)
class Head:
    last_hash: str
    last_event_id: int | None


def verify_chain(
    label: str,
    rows: Iterable[dict[str, Any]],
    head: Head | None,
    checkpoints: Sequence[Checkpoint] = (),
    *,
    checkpoint_problem: str | None = None,
) -> ChainReport:
    """Walk the rows once (they may be a server-side cursor) and stop at the first broken link.

    `checkpoints` are the chain's verified signed checkpoints, oldest first; `checkpoint_problem` what was
    wrong with its log, if anything (reported beside the chain's own result)."""
    report = ChainReport(label=label, checkpoint_problem=checkpoint_problem)
    pins = [checkpoint for checkpoint in checkpoints if checkpoint.last_event_id is not None]
    pins.sort(key=lambda checkpoint: checkpoint.last_event_id)
    report.last_checkpoint = pins[-1] if pins else None
    pending = 0  # the next checkpoint to meet
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
        while pending < len(pins) and pins[pending].last_event_id <= row["id"]:
            report.broken = _check_pin(pins[pending], row, report.checked)
            if report.broken:
                return report
            pending += 1
        if pending == len(pins) and pins and row["id"] > pins[-1].last_event_id:
            report.after_checkpoint += 1
        expected_prev, previous = row["hash"], row
    report.broken = _check_head(previous, head)
    if report.broken is None and pending < len(pins):
        report.broken = _cut_short(pins[-1], previous, report.checked)
    return report


def _signed(pin: Checkpoint) -> str:
    return f"the signed checkpoint of {pin.at} recorded event #{pin.last_event_id} as event {pin.count}"


def _check_pin(pin: Checkpoint, row: dict[str, Any], position: int) -> BrokenLink | None:
    """`row` is the first event at or after the one `pin` names; `position` its place in the chain."""
    if row["id"] != pin.last_event_id:
        return BrokenLink(
            kind="checkpoint",
            event_id=pin.last_event_id,
            occurred_at=None,
            expected=pin.last_hash,
            stored="(no such event)",
            explanation=f"{_signed(pin)} of the chain, but there is no event #{pin.last_event_id}: it was "
            "deleted and the chain after it rewritten",
        )
    if row["hash"] != pin.last_hash or position != pin.count:
        return BrokenLink(
            kind="checkpoint",
            event_id=row["id"],
            occurred_at=row["occurred_at"],
            expected=pin.last_hash,
            stored=row["hash"],
            explanation=f"{_signed(pin)} with the hash expected below; now it is event {position} with "
            "another hash: the chain up to it was rewritten and re-hashed (e.g. by the database owner "
            "with the append-only trigger switched off)",
        )
    return None


def _cut_short(pin: Checkpoint, last: dict[str, Any] | None, checked: int) -> BrokenLink:
    ends = f"#{last['id']} after {checked} event{'s' if checked != 1 else ''}" if last else "no event at all"
    return BrokenLink(
        kind="checkpoint",
        event_id=pin.last_event_id,
        occurred_at=None,
        expected=pin.last_hash,
        stored=last["hash"] if last else "(none)",
        explanation=f"{_signed(pin)} of the chain, but the chain now ends at {ends}: events at the end "
        "were deleted and the chain head moved back",
    )


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
