"""Signed checkpoints of an audit chain's head: the line format, its HMAC, reading a log. Pure: no Django.

A checkpoint says "at time T, chain C had N events and its last one was #I with hash H". Each is one JSON
line in that chain's log, signed with HMAC-SHA256 under a key the database never holds, and chained to
the line before it (`prev` is the previous line's `mac`), so a line cannot be edited, forged, reordered
or removed from the middle without the signature check failing. Once written, a checkpoint pins every
event up to #I: the database owner can switch the append-only trigger off and re-hash the chain, but
cannot make the event at #I hash to H again, nor bring back the count.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields

VERSION = 1
FIRST_PREV = "0" * 64  # `prev` of a log's first line


@dataclass(frozen=True)
class Checkpoint:
    chain: str  # "clinic:<id>" or "platform"
    clinic_id: int | None
    last_event_id: int | None  # None: the chain had no event yet
    last_hash: str
    count: int  # events in the chain up to and including last_event_id
    at: str  # when it was taken, ISO 8601 UTC
    seq: int  # 1, 2, … within its log
    prev: str  # the previous line's mac (FIRST_PREV for the first line)
    mac: str = ""
    v: int = VERSION

    def body(self) -> bytes:
        """What the HMAC covers: every field but the mac, in one canonical spelling."""
        payload = {name: value for name, value in asdict(self).items() if name != "mac"}
        return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()

    def line(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")) + "\n"


_FIELDS = {field.name for field in fields(Checkpoint)}


def sign(key: bytes, checkpoint: Checkpoint) -> Checkpoint:
    mac = hmac.new(key, checkpoint.body(), hashlib.sha256).hexdigest()
    return Checkpoint(**{**asdict(checkpoint), "mac": mac})


def signed_next(
    key: bytes,
    previous: Checkpoint | None,
    *,
    chain: str,
    clinic_id: int | None,
    last_event_id: int | None,
    last_hash: str,
    count: int,
    at: str,
) -> Checkpoint:
    """The checkpoint that follows `previous` (None: the log's first line), signed."""
    return sign(
        key,
        Checkpoint(
            chain=chain,
            clinic_id=clinic_id,
            last_event_id=last_event_id,
            last_hash=last_hash,
            count=count,
            at=at,
            seq=previous.seq + 1 if previous else 1,
            prev=previous.mac if previous else FIRST_PREV,
        ),
    )


def parse_line(text: str) -> Checkpoint:
    """One line as written by `Checkpoint.line`; ValueError if it is not one."""
    data = json.loads(text)
    if not isinstance(data, dict) or set(data) != _FIELDS:
        raise ValueError("not a checkpoint line")
    return Checkpoint(**data)


@dataclass
class CheckpointLog:
    checkpoints: list[Checkpoint]  # the lines that verified, in order (all of them when problem is None)
    problem: str | None = None  # the first line that did not verify, in plain words


def read_log(lines: Iterable[str], key: bytes, chain: str) -> CheckpointLog:
    """Verify a chain's log line by line; stop at the first line that fails (nothing after it is trusted)."""
    log = CheckpointLog(checkpoints=[])
    previous: Checkpoint | None = None
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            checkpoint = parse_line(text)
        except (ValueError, TypeError):
            log.problem = f"line {number} is not a checkpoint (the log was edited or damaged)"
            return log
        expected = hmac.new(key, checkpoint.body(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, str(checkpoint.mac)):
            log.problem = f"line {number} has a bad signature: it was forged or edited (or the key changed)"
            return log
        if checkpoint.chain != chain:
            log.problem = f"line {number} is a checkpoint of {checkpoint.chain}, not of {chain}"
            return log
        if checkpoint.prev != (previous.mac if previous else FIRST_PREV) or checkpoint.seq != (
            previous.seq + 1 if previous else 1
        ):
            log.problem = (
                f"line {number} does not follow the line before it: checkpoints were removed or reordered"
            )
            return log
        log.checkpoints.append(checkpoint)
        previous = checkpoint
    return log
