"""Issuing and revoking API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from api.models import ApiClient
from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import require_clinic
from clinic.tenancy.roles import Role

TOKEN_PREFIX = "sdk_"  # noqa: S105 - a public prefix that marks Stepdown tokens, not a secret


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def api_client_create(*, actor: ActorLike, name: str, roles: Sequence[str]) -> tuple[ApiClient, str]:
    """Create a client in the current clinic. Returns it and the token: shown once, never stored."""
    clinic = require_clinic()
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the system that will use this token."})
    unknown = set(roles) - set(Role)
    if not roles or unknown:
        raise ValidationError({"roles": "Choose at least one valid role."})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient.objects.create(
        clinic=clinic,
        name=name[:100],
        roles=sorted(set(roles)),
        token_prefix=token[: len(TOKEN_PREFIX) + 6],
        token_hash=hash_token(token),
        created_by=as_actor(actor).user,
    )
    audit(actor=actor, action=AuditEvent.Action.ADMIN, obj=client, detail={"event": "api_client_created"})
    return client, token


@transaction.atomic
def api_client_revoke(*, actor: ActorLike, client: ApiClient) -> ApiClient:
    if client.clinic_id != require_clinic().pk:
        raise PermissionError("Not this clinic's client")
    if client.revoked_at is None:
        client.revoked_at = timezone.now()
        client.save(update_fields=["revoked_at"])
        audit(actor=actor, action=AuditEvent.Action.ADMIN, obj=client, detail={"event": "api_client_revoked"})
    return client
