"""The checkpoint logs: one append-only JSONL file per audit chain in `AUDIT_CHECKPOINT_DIR`.

Written by the beat job `clinic.audit.tasks.write_checkpoints` (every 10 minutes, app role: it reads only
the chain heads, which have no row-level security), read by `manage.py verify_audit_chain`. The files live
with the application, not the database: the database owner can rewrite tables but not these files, and
has not the key that signs them (`AUDIT_HMAC_KEY`). In production put the directory on storage that
refuses rewrites (`chattr +a`, a WORM/object-lock bucket synced from it) and back it up apart from the
database.
"""

from __future__ import annotations

import fcntl
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from clinic.audit.models import AuditChainHead
from clinic.audit.signing import Checkpoint, CheckpointLog, parse_line, read_log, signed_next

log = logging.getLogger(__name__)
_TAIL_BYTES = 16 * 1024  # a line is ~400 bytes; the last one is always within this


def checkpoint_dir() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_DIR)


def _key() -> bytes:
    return settings.AUDIT_HMAC_KEY.encode()


def log_path(chain: str) -> Path:
    return checkpoint_dir() / f"{chain.replace(':', '-')}.jsonl"


def chains_with_logs() -> set[str]:
    """Every chain that has a log, whether or not the database still knows it."""
    folder = checkpoint_dir()
    if not folder.is_dir():
        return set()
    return {path.stem.replace("-", ":", 1) for path in folder.glob("*.jsonl")}


def read_checkpoints(chain: str) -> CheckpointLog:
    path = log_path(chain)
    if not path.exists():
        return CheckpointLog(checkpoints=[])
    with path.open(encoding="utf-8") as lines:
        return read_log(lines, _key(), chain)


def _last_line(fd: int) -> Checkpoint | None:
    size = os.fstat(fd).st_size
    if size == 0:
        return None
    tail = os.pread(fd, min(size, _TAIL_BYTES), max(0, size - _TAIL_BYTES)).decode("utf-8", "replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    return parse_line(lines[-1]) if lines else None


@dataclass(frozen=True)
class HeadState:
    chain: str
    last_event_id: int | None
    last_hash: str
    count: int

    @property
    def clinic_id(self) -> int | None:
        return int(self.chain.split(":", 1)[1]) if self.chain.startswith("clinic:") else None


def _append(head: HeadState, at: str) -> bool:
    """Append `head` to its chain's log unless it is unchanged; True when a line was written."""
    folder = checkpoint_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = log_path(head.chain)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # two jobs at once write one line each, in order
        try:
            previous = _last_line(fd)
        except (ValueError, TypeError):
            log.error("audit checkpoint log %s ends in a damaged line; not appending to it", path)
            return False
        if previous and (previous.last_event_id, previous.last_hash) == (head.last_event_id, head.last_hash):
            return False
        if previous and (
            (previous.last_event_id or 0) > (head.last_event_id or 0) or previous.count > head.count
        ):
            # The database's head went back: events were removed. The signed lines already written are the
            # evidence (verify_audit_chain reports them); do not record the shortened chain over them.
            log.error(
                "audit chain %s went back from #%s (%s events) to #%s (%s events): not checkpointed",
                head.chain,
                previous.last_event_id,
                previous.count,
                head.last_event_id,
                head.count,
            )
            return False
        checkpoint = signed_next(
            _key(),
            previous,
            chain=head.chain,
            clinic_id=head.clinic_id,
            last_event_id=head.last_event_id,
            last_hash=head.last_hash,
            count=head.count,
            at=at,
        )
        os.write(fd, checkpoint.line().encode("utf-8"))
        os.fsync(fd)
        return True
    finally:
        os.close(fd)


def checkpoints_write(*, now: datetime | None = None) -> int:
    """Checkpoint every chain whose head moved since its last checkpoint; return how many lines were written.

    One query over the head table (each head row is moved in the same transaction as its events, so a
    committed head always names committed events)."""
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    heads = [
        HeadState(chain, last_event_id, last_hash, count)
        for chain, last_event_id, last_hash, count in AuditChainHead.objects.order_by("chain").values_list(
            "chain", "last_event_id", "last_hash", "event_count"
        )
    ]
    return sum(_append(head, at) for head in heads)
