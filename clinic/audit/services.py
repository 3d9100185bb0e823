"""Writing audit events. Called in the same transaction as the change (or read) it records."""

from __future__ import annotations

import ipaddress
import json
import uuid
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.actors import ActorLike, as_actor
from clinic.audit.chain import chain_key, link_hash
from clinic.audit.models import AuditEvent
from clinic.middleware import client_ip, current_request_meta
from clinic.tenancy.context import current_clinic, require_clinic

Action = AuditEvent.Action


def _actor_fields(actor: ActorLike) -> tuple[int | None, str]:
    """A staff user, an API client, a check-in link, or nobody (a job, a failed login)."""
    who = as_actor(actor)
    return who.user_id, who.label


def _lock_head(key: str) -> str:
    """Lock the chain's head row and return its last hash; the lock orders this chain's appends until the
    transaction ends. The app role cannot write the head: a database function creates and locks it, and
    a trigger on the events moves it (migration audit.0005)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT stepdown_audit_lock_head(%s)", [key])
        return cursor.fetchone()[0]


def _json_safe(value: Any) -> Any:
    """What jsonb will give back: no NUL characters (Postgres refuses them), no float that jsonb
    would return as an integer (the hash must survive the round trip)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1e16:
        return int(value)
    if isinstance(value, dict):
        return {_json_safe(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def _normalised_detail(detail: dict[str, Any] | None) -> dict[str, Any]:
    # Dates, UUIDs and decimals become strings here, exactly as they will be stored.
    return _json_safe(json.loads(json.dumps(detail or {}, cls=DjangoJSONEncoder)))


@transaction.atomic
def _append(*, clinic_id: int | None, fields: dict[str, Any]) -> AuditEvent:
    last_hash = _lock_head(chain_key(clinic_id))
    fields = {
        **fields,
        "detail": _normalised_detail(fields.get("detail")),
        "clinic_id": clinic_id,
        "occurred_at": timezone.now(),
    }
    digest = link_hash(last_hash, fields)
    event = AuditEvent(prev_hash=last_hash, hash=digest, **fields)
    if clinic_id is None:
        # INSERT … RETURNING must also pass the SELECT policy, which hides platform rows from the app
        # role; so take the id from the sequence first and insert without RETURNING.
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [AuditEvent._meta.db_table])
            event.pk = cursor.fetchone()[0]
        AuditEvent._base_manager._insert(
            [event], fields=AuditEvent._meta.concrete_fields, returning_fields=None
        )
    else:
        event.save(force_insert=True)
    return event


def _valid_ip(value: str | None) -> str | None:
    # A malformed REMOTE_ADDR must not make the audit insert (and with it the request) fail. An IPv6
    # zone ("%eth0") names an interface of the proxy's host; Postgres' inet has no place for it.
    try:
        return str(ipaddress.ip_address(value.split("%", 1)[0])) if value else None
    except ValueError:
        return None


def _request_fields(request: HttpRequest | None) -> dict[str, Any]:
    meta = current_request_meta()
    ip = client_ip(request) if request is not None else (meta.ip_address if meta else None)
    request_id = getattr(request, "request_id", None) or (meta.request_id if meta else "")
    return {"ip_address": _valid_ip(ip), "request_id": request_id}


@transaction.atomic
def _append_many(*, clinic_id: int, rows: list[dict[str, Any]]) -> list[AuditEvent]:
    """Chain several events with one head lock and one INSERT (a sweep raising thousands of alerts)."""
    last = _lock_head(chain_key(clinic_id))
    now = timezone.now()
    events = []
    for row in rows:
        fields = {
            **row,
            "detail": _normalised_detail(row.get("detail")),
            "clinic_id": clinic_id,
            "occurred_at": now,
        }
        digest = link_hash(last, fields)
        events.append(AuditEvent(prev_hash=last, hash=digest, **fields))
        last = digest
    AuditEvent.objects.bulk_create(events)  # one INSERT: the trigger moves the head once
    return events


def _event_fields(
    *, actor: ActorLike, action: str, obj, patient, object_type: str, object_id: str, detail, request
) -> dict[str, Any]:
    actor_id, actor_label = _actor_fields(actor)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    patient_id = getattr(patient, "pk", patient)
    return {
        "actor_id": actor_id,
        "actor_label": actor_label,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "patient_id": str(uuid.UUID(str(patient_id))) if patient_id else None,
        "detail": detail or {},
        **_request_fields(request),
    }


def audit_many(*, actor: ActorLike, action: str, items: list[dict[str, Any]]) -> list[AuditEvent]:
    """`audit` for many objects at once: each item has `obj` or object_type/object_id, `patient`, `detail`.
    Same chain, same fields, one head lock and one INSERT."""
    if not items:
        return []
    clinic = require_clinic()
    rows = [
        _event_fields(
            actor=actor,
            action=action,
            obj=item.get("obj"),
            patient=item.get("patient"),
            object_type=item.get("object_type", ""),
            object_id=item.get("object_id", ""),
            detail=item.get("detail"),
            request=None,
        )
        for item in items
    ]
    return _append_many(clinic_id=clinic.pk, rows=rows)


def audit(
    *,
    actor: ActorLike,
    action: str,
    obj: models.Model | None = None,
    patient: Any = None,
    object_type: str = "",
    object_id: str = "",
    detail: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Record that `actor` did `action` to `obj` (about `patient`) in the current clinic."""
    clinic = require_clinic()
    fields = _event_fields(
        actor=actor,
        action=action,
        obj=obj,
        patient=patient,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
        request=request,
    )
    return _append(clinic_id=clinic.pk, fields=fields)


def audit_platform_event(
    *, action: str, actor: ActorLike, request: HttpRequest | None = None, detail: dict[str, Any] | None = None
) -> AuditEvent:
    """Sign-ins and other events outside any clinic; inside a clinic they join that clinic's chain."""
    clinic = current_clinic()
    actor_id, actor_label = _actor_fields(actor)
    if not actor_label and detail and detail.get("email"):
        actor_label = detail["email"]
    return _append(
        clinic_id=clinic.pk if clinic else None,
        fields={
            "actor_id": actor_id,
            "actor_label": actor_label,
            "action": action,
            "object_type": "",
            "object_id": "",
            "patient_id": None,
            "detail": detail or {},
            **_request_fields(request),
        },
    )
