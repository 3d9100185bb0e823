"""Writing audit events. Called in the same transaction as the change (or read) it records."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit.chain import GENESIS, chain_key, link_hash
from clinic.audit.models import AuditChainHead, AuditEvent
from clinic.middleware import client_ip, current_request_meta
from clinic.tenancy.context import current_clinic, require_clinic

Action = AuditEvent.Action


def _actor_fields(actor: Any) -> tuple[int | None, str]:
    """A staff user, an API client (has `audit_label`), or nobody (a job, a failed login)."""
    if actor is None:
        return None, ""
    if hasattr(actor, "audit_label"):
        return getattr(actor, "audit_user_id", None), actor.audit_label
    if getattr(actor, "is_authenticated", False):
        return actor.pk, actor.email
    return None, ""


@transaction.atomic
def _append(*, clinic_id: int | None, fields: dict[str, Any]) -> AuditEvent:
    key = chain_key(clinic_id)
    AuditChainHead.objects.get_or_create(chain=key, defaults={"last_hash": GENESIS})
    # The row lock orders this chain's appends; it is held until the surrounding transaction ends.
    head = AuditChainHead.objects.select_for_update().get(chain=key)
    fields = {**fields, "clinic_id": clinic_id, "occurred_at": timezone.now()}
    digest = link_hash(head.last_hash, fields)
    event = AuditEvent(prev_hash=head.last_hash, hash=digest, **fields)
    event.save(force_insert=True)
    head.last_hash = digest
    head.last_event_id = event.pk
    head.save(update_fields=["last_hash", "last_event_id"])
    return event


def _request_fields(request: HttpRequest | None) -> dict[str, Any]:
    meta = current_request_meta()
    ip = client_ip(request) if request is not None else (meta.ip_address if meta else None)
    request_id = getattr(request, "request_id", None) or (meta.request_id if meta else "")
    return {"ip_address": ip, "request_id": request_id}


def audit(
    *,
    actor: Any,
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
    actor_id, actor_label = _actor_fields(actor)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    patient_id = getattr(patient, "pk", patient)
    return _append(
        clinic_id=clinic.pk,
        fields={
            "actor_id": actor_id,
            "actor_label": actor_label,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "patient_id": str(patient_id) if patient_id else None,
            "detail": detail or {},
            **_request_fields(request),
        },
    )


def audit_platform_event(
    *, action: str, actor: Any, request: HttpRequest | None = None, detail: dict[str, Any] | None = None
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
