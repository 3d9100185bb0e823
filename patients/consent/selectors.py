"""Reads of consents, recipients and disclosures: flat query counts (prefetch, no per-row queries)."""

from __future__ import annotations

import datetime

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from patients.consent.models import Consent, ConsentRecipient, Disclosure, Recipient

# The §2.25 look-back: an accounting covers the 3 years before the request unless a shorter period is asked.
ACCOUNTING_YEARS = 3


def _with_recipients(query: QuerySet[Consent]) -> QuerySet[Consent]:
    return query.select_related("recorded_by", "revoked_by").prefetch_related(
        Prefetch("recipient_links", queryset=ConsentRecipient.objects.select_related("recipient"))
    )


def consents_for_patient(*, patient_id) -> QuerySet[Consent]:
    return _with_recipients(Consent.objects.filter(patient_id=patient_id)).order_by(
        "-signed_on", "-created_at", "id"
    )


def consent_get(*, consent_id) -> Consent:
    return get_object_or_404(_with_recipients(Consent.objects.select_related("patient")), pk=consent_id)


def recipient_list(*, active_only: bool = False) -> QuerySet[Recipient]:
    query = Recipient.objects.all()
    if active_only:
        query = query.filter(is_active=True)
    return query.order_by("name", "id")


def default_accounting_period(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    try:
        start = today.replace(year=today.year - ACCOUNTING_YEARS)
    except ValueError:  # 29 February
        start = today.replace(year=today.year - ACCOUNTING_YEARS, day=28)
    return start, today


def disclosures_for_patient(
    *, patient_id, start: datetime.date, end: datetime.date, tz
) -> QuerySet[Disclosure]:
    """Disclosures of one patient whose clinic-local day falls within [start, end]."""
    since = datetime.datetime.combine(start, datetime.time.min, tzinfo=tz)
    until = datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
    return (
        Disclosure.objects.filter(patient_id=patient_id, disclosed_at__gte=since, disclosed_at__lt=until)
        .select_related("recipient", "consent")
        .order_by("-disclosed_at", "id")
    )
