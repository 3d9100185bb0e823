"""How 270s leave and 271s arrive. No clearinghouse is reachable, so the transport is pluggable.

:class:`EligibilityTransport` is the interface; :class:`FileDropTransport` drops ``<trace>.270`` files into an
outbox (written to a temporary file in the same folder, flushed and renamed, so a reader never sees half a
file)
and picks up ``<trace>.271`` from an inbox, claiming it by moving it into ``inbox/processed/`` before
reading it
(a rename is atomic, so two pollers never both take the same response).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable

_TRACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$")


class TransportError(RuntimeError):
    """The transport could not send or receive."""


@runtime_checkable
class EligibilityTransport(Protocol):
    def send(self, inquiry_x12: str, *, trace: str) -> None: ...

    def poll(self, trace: str) -> str | None: ...


def _check_trace(trace: str) -> str:
    if not isinstance(trace, str) or not _TRACE.match(trace):
        raise TransportError(f"trace {trace!r} must be 1-50 letters, digits, '-' or '_' (it names a file)")
    return trace


class FileDropTransport:
    def __init__(self, outbox: Path, inbox: Path):
        self.outbox = Path(outbox)
        self.inbox = Path(inbox)
        self.processed = self.inbox / "processed"

    def send(self, inquiry_x12: str, *, trace: str) -> None:
        name = f"{_check_trace(trace)}.270"
        self.outbox.mkdir(parents=True, exist_ok=True)
        target = self.outbox / name
        if target.exists():
            raise TransportError(f"{target} already exists: an inquiry with trace {trace!r} was already sent")
        fd, tmp = tempfile.mkstemp(dir=self.outbox, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="ascii", newline="") as fh:
                fh.write(inquiry_x12)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def poll(self, trace: str) -> str | None:
        name = f"{_check_trace(trace)}.271"
        source = self.inbox / name
        if not source.exists():
            return None
        self.processed.mkdir(parents=True, exist_ok=True)
        claimed = self.processed / name
        try:
            os.replace(source, claimed)
        except FileNotFoundError:  # another poller claimed it first
            return None
        return claimed.read_text(encoding="utf-8")
