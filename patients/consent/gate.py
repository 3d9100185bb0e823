"""THE disclosure gate (42 CFR Part 2).

`may_disclose` (and its batch form `may_disclose_many`, same code path) is the only place that answers
"may this information go to this recipient for this purpose now?"; `disclose` / `disclose_many` are the
only writers of the accounting of disclosures, and they ask the gate first, inside the same transaction,
with the patient's consents locked so a revocation cannot slip in between the answer and the record.
The decision itself is the pure `patients.consent.rules.decide`.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit_many
from clinic.tenancy.context import clinic_today, require_clinic
from patients.consent import rules
from patients.consent.models import Consent, ConsentRecipient, Disclosure, Recipient
from patients.models import Patient


class DisclosureRefused(Exception):
    """The gate said no. `reasons` are plain-language sentences fit to show staff."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("; ".join(self.reasons) or "Disclosure refused")


def _as_day(at: datetime.date | datetime.datetime | None) -> datetime.date:
    if at is None:
        return clinic_today()
    if isinstance(at, datetime.datetime):
        return timezone.localtime(at, zoneinfo.ZoneInfo(require_clinic().timezone)).date()
    return at


def _consents_by_patient(patient_ids: Iterable, *, lock: bool = False) -> dict[Any, list[rules.ConsentFacts]]:
    """Every consent of these patients as decision facts: two queries whatever the number of patients."""
    query = Consent.objects.filter(patient_id__in=list(patient_ids))
    if lock:
        query = query.select_for_update(of=("self",))
    query = query.prefetch_related(
        Prefetch("recipient_links", queryset=ConsentRecipient.objects.only("consent_id", "recipient_id"))
    )
    found: dict[Any, list[rules.ConsentFacts]] = {}
    for consent in query:
        found.setdefault(consent.patient_id, []).append(consent.facts())
    return found


def may_disclose_many(
    *,
    patient_ids: Iterable,
    recipient: Recipient,
    purpose: str,
    information: Iterable[str],
    at: datetime.date | datetime.datetime | None = None,
    _lock: bool = False,
) -> dict[Any, rules.Decision]:
    """The gate for several patients at once (API list reads): one decision per patient id."""
    day = _as_day(at)
    patient_ids = list(dict.fromkeys(patient_ids))
    categories = frozenset(information)
    consents = _consents_by_patient(patient_ids, lock=_lock)
    if not recipient.is_active:
        refused = rules.Decision(False, None, [f"{recipient.name} is no longer an active recipient"])
        return {pid: refused for pid in patient_ids}
    return {
        pid: rules.decide(
            consents.get(pid, []),
            recipient_id=recipient.pk,
            recipient_type=recipient.kind,
            purpose=purpose,
            information_categories=categories,
            at=day,
        )
        for pid in patient_ids
    }


def may_disclose(
    *,
    patient: Patient,
    recipient: Recipient,
    purpose: str,
    information: Iterable[str],
    at: datetime.date | datetime.datetime | None = None,
) -> rules.Decision:
    """May this information go to this recipient for this purpose now (or on `at`)? THE ONLY GATE."""
    return may_disclose_many(
        patient_ids=[patient.pk], recipient=recipient, purpose=purpose, information=information, at=at
    )[patient.pk]


@transaction.atomic
def disclose_many(
    *,
    actor: ActorLike,
    patient_ids: Sequence,
    recipient: Recipient,
    purpose: str,
    information: Iterable[str],
    channel: str,
    description: str,
    document_sha256: str = "",
) -> list[Disclosure]:
    """Record one disclosure per patient, all or nothing: refused if the gate refuses any of them."""
    if channel not in Disclosure.Channel.values:
        raise ValidationError({"channel": [f"Unknown channel {channel!r}."]})
    description = (description or "").strip()
    if not description:
        raise ValidationError({"description": ["Describe what was disclosed."]})
    if len(description) > 500:
        raise ValidationError({"description": ["Keep the description under 500 characters."]})
    categories = sorted(set(information))
    decisions = may_disclose_many(
        patient_ids=patient_ids, recipient=recipient, purpose=purpose, information=categories, _lock=True
    )
    refused = [reason for d in decisions.values() if not d.allowed for reason in d.reasons]
    if refused:
        raise DisclosureRefused(refused)
    now, who = timezone.now(), as_actor(actor)
    rows = Disclosure.objects.bulk_create(
        [
            Disclosure(
                clinic=require_clinic(),
                patient_id=pid,
                recipient=recipient,
                consent_id=decision.consent_id,
                purpose=purpose,
                information_categories=categories,
                channel=channel,
                disclosed_at=now,
                disclosed_by=who.user,
                disclosed_by_label=who.label[:254],
                description=description,
                document_sha256=document_sha256,
            )
            for pid, decision in decisions.items()
        ]
    )
    # One chain append for the batch (an API page of N patients is one INSERT, not N).
    audit_many(
        actor=actor,
        action=AuditEvent.Action.DISCLOSE,
        items=[
            {
                "obj": row,
                "patient": row.patient_id,
                "detail": {
                    "recipient": str(recipient.pk),
                    "purpose": purpose,
                    "channel": channel,
                    "categories": categories,
                    "consent": str(row.consent_id),
                },
            }
            for row in rows
        ],
    )
    return rows


def disclose(
    *,
    actor: ActorLike,
    patient: Patient,
    recipient: Recipient,
    purpose: str,
    information: Iterable[str],
    channel: str,
    description: str,
    document: bytes | None = None,
) -> Disclosure:
    """Ask the gate, then record exactly one accounting row and a DISCLOSE audit event (atomically).

    Raises DisclosureRefused (with the reasons) and writes nothing when the gate says no. Callers send the
    document only after this returns."""
    import hashlib

    digest = hashlib.sha256(document).hexdigest() if document is not None else ""
    return disclose_many(
        actor=actor,
        patient_ids=[patient.pk],
        recipient=recipient,
        purpose=purpose,
        information=information,
        channel=channel,
        description=description,
        document_sha256=digest,
    )[0]


__all__ = ["DisclosureRefused", "disclose", "disclose_many", "may_disclose", "may_disclose_many"]
