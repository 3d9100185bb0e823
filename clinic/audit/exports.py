"""CSV export of audit events, written completely while the request's clinic context is open."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from typing import IO
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from clinic.audit.models import AuditEvent
from clinic.audit.selectors import patient_mrns

EXPORT_ROW_LIMIT = 50_000
COLUMNS = (
    "event_id",
    "time",
    "who",
    "actor_user_id",
    "action",
    "object_type",
    "object_id",
    "patient_mrn",
    "patient_id",
    "ip_address",
    "request_id",
    "detail",
    "hash",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """Text a spreadsheet will not run: a leading formula character is neutralised."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(
    events: QuerySet[AuditEvent], *, timezone_name: str, batch_size: int = 2000
) -> tuple[IO[bytes], int]:
    """Write every event of `events` (newest first) to a temporary file; return it rewound, and the row count.

    The rows are read through a server-side cursor in batches and the file spills to disk past a few
    megabytes, so a full export does not sit in memory. MRNs come from one query for the whole set.
    """
    tz = ZoneInfo(timezone_name)
    mrns = patient_mrns(events.exclude(patient_id=None).values("patient_id"))
    spool = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115 - returned to the caller
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    rows = 0
    for event in events.order_by("-occurred_at", "-id").iterator(chunk_size=batch_size):
        writer.writerow(
            _cell(value)
            for value in (
                event.pk,
                event.occurred_at.astimezone(tz).isoformat(timespec="seconds"),
                event.actor_label,
                event.actor_id,
                event.action,
                event.object_type,
                event.object_id,
                mrns.get(event.patient_id, ""),
                event.patient_id,
                event.ip_address,
                event.request_id,
                json.dumps(event.detail, sort_keys=True, ensure_ascii=False) if event.detail else "",
                event.hash,
            )
        )
        rows += 1
    text.flush()
    text.detach()
    spool.seek(0)
    return spool, rows
