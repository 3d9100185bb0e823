"""The hash chain: canonical form of an event and the link hash. Pure Python, no Django.

The hash is computed when an event is written and again, from the row read back, by
`manage.py verify_audit_chain`. The canonical form therefore has to be independent of how Postgres
re-formats a value on the way back: an `inet` comes back in Postgres' own IPv6 spelling, a `uuid`
as a `UUID`, a `timestamptz` in the connection's time zone. Those fields are normalised here.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
CHAINED_FIELDS = (
    "clinic_id",
    "occurred_at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "ip_address",
    "request_id",
    "detail",
)


def chain_key(clinic_id: int | None) -> str:
    return f"clinic:{clinic_id}" if clinic_id is not None else "platform"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.isoformat(timespec="microseconds")
    if value is None or isinstance(value, (str, int, float, bool, dict, list)):
        return value
    return str(value)


def _ip(value: Any) -> Any:
    # Python writes "::1.2.3.4" as "::102:304", Postgres as "::1.2.3.4": the exploded form has one spelling.
    # IPv4 explodes to itself, so IPv4 hashes are unchanged by this normalisation.
    if value in (None, ""):
        return None
    return ipaddress.ip_address(str(value)).exploded


def _uuid(value: Any) -> Any:
    return None if value in (None, "") else str(uuid.UUID(str(value)))


_NORMALISE: dict[str, Callable[[Any], Any]] = {"ip_address": _ip, "patient_id": _uuid}


def canonical(fields: dict[str, Any]) -> bytes:
    payload = {}
    for name in CHAINED_FIELDS:
        value = fields.get(name)
        payload[name] = _plain(_NORMALISE[name](value) if name in _NORMALISE else value)
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(fields)).hexdigest()
