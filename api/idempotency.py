"""`Idempotency-Key` on POST: a retried request gets the first answer instead of a second record.

The key is claimed with INSERT … ON CONFLICT DO NOTHING inside the request's transaction. A concurrent
request with the same key waits on the unique index until the first commits, then finds its stored
answer and replays it. The same key with a different body is refused (422): it is a client bug.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http.request import RawPostDataException
from django.utils import timezone
from rest_framework import exceptions, status

from api.models import IdempotencyKey
from clinic.tenancy.context import require_clinic

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEEP_FOR = timedelta(hours=24)
_VALID_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class IdempotentReplay(exceptions.APIException):
    """Raised to short-circuit the handler; the exception handler turns it into the stored response."""

    def __init__(self, record: IdempotencyKey) -> None:
        super().__init__()
        self.record = record


class KeyReusedWithOtherBody(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = f"This {HEADER} was already used for a different request; send a new key."
    default_code = "idempotency_key_reused"


class KeyStillOpen(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = f"The first request with this {HEADER} did not complete; send a new key."
    default_code = "idempotency_key_open"


@dataclass
class Claim:
    record: IdempotencyKey


def _principal(user: Any) -> str:
    client = getattr(user, "client", None)
    return f"client:{client.pk}" if client is not None else f"user:{user.pk}"


def _fingerprint(request) -> str:
    try:
        body = request._request.body  # the raw bytes, before DRF parses them
    except RawPostDataException:  # already streamed: fall back to the parsed data, canonically ordered
        body = json.dumps(request.data, sort_keys=True, default=str).encode()
    return hashlib.sha256(b"\n".join([request.method.encode(), request.path.encode(), body])).hexdigest()


def idempotency_begin(request) -> Claim | None:
    """Claim the request's key, or raise to replay/refuse. None when the request carries no key."""
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None:
        return None
    if not _VALID_KEY.match(key):
        raise exceptions.ValidationError(
            {HEADER: "Use 1–100 letters, digits, dots, colons, dashes or underscores."}
        )
    principal, fingerprint = _principal(request.user), _fingerprint(request)
    # bulk_create skips TenantModel.save, so the clinic is named here (RLS would refuse a row without it).
    mine = IdempotencyKey(clinic=require_clinic(), key=key, principal=principal, fingerprint=fingerprint)
    IdempotencyKey.objects.bulk_create([mine], ignore_conflicts=True)
    stored = IdempotencyKey.objects.get(principal=principal, key=key)
    if stored.pk == mine.pk:
        return Claim(record=stored)
    if stored.fingerprint != fingerprint:
        raise KeyReusedWithOtherBody()
    if stored.status_code is None:
        raise KeyStillOpen()
    raise IdempotentReplay(stored)


def idempotency_finish(claim: Claim | None, response) -> None:
    """Store the answer with the claim (same transaction: a rolled-back request leaves no claim)."""
    if claim is None or response.status_code >= 500 or transaction.get_rollback():
        return  # a failed request rolls its claim back with everything else: the key may be retried
    body = json.loads(json.dumps(getattr(response, "data", None), default=str))
    IdempotencyKey.objects.filter(pk=claim.record.pk).update(
        status_code=response.status_code, response_body=body
    )


def idempotency_purge() -> int:
    """Forget keys older than KEEP_FOR in the current clinic (one set-based DELETE)."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - KEEP_FOR).delete()
    return deleted
