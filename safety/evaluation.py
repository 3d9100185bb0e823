"""Evaluate one patient's rules when a vital reading, instrument result or check-in is saved.

Called after the writing transaction commits (vitals.signals.clinical_fact_recorded → a task safety
wires with delay_on_commit). It loads the patient's recent facts (the row just saved, plus anything
written in the sweep's look-back window) in a fixed handful of queries, runs the pure rules, and raises
through `safety.services.alerts_raise`. Dedup keys make it safe to run twice and to overlap the sweep.
Missed check-ins are about an absence, so only the sweep finds them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from django.utils import timezone

from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic
from safety.corx import evaluate_patients
from safety.fact_queries import crossing_readings, flagged_scores, guidance_checkins
from safety.rules import fact_findings
from safety.rules.policy import policy
from safety.sweeps import trend_findings

KINDS = ("vital", "instrument", "checkin")  # vitals.signals FACT_VITAL / FACT_INSTRUMENT / FACT_CHECKIN


def evaluate_patient(
    *,
    clinic: Clinic,
    patient_id: uuid.UUID | str,
    kind: str,
    object_id: uuid.UUID | str | None,
    now: dt.datetime | None = None,
) -> list:
    """Raise the alerts this patient's recent facts call for; returns the new alerts only."""
    from safety.services import alerts_raise
    from vitals.selectors import clinic_thresholds

    if kind not in KINDS:
        raise ValueError(f"unknown fact kind {kind!r}; expected one of {KINDS}")
    patient_id = uuid.UUID(str(patient_id))
    object_id = uuid.UUID(str(object_id)) if object_id is not None else None
    now = now or timezone.now()
    since = now - dt.timedelta(hours=policy().recent_lookback_hours)

    def saved(this_kind: str) -> uuid.UUID | None:
        return object_id if kind == this_kind else None

    with tenant_context(clinic):
        scope = {"clinic_id": clinic.pk, "since": since, "until": now, "patient_id": patient_id}
        thresholds = clinic_thresholds()
        findings = fact_findings(
            readings=crossing_readings(thresholds=thresholds, object_id=saved("vital"), **scope),
            scores=flagged_scores(object_id=saved("instrument"), **scope),
            checkins=guidance_checkins(object_id=saved("checkin"), **scope),
            thresholds=thresholds,
        )
        if kind in ("instrument", "checkin"):
            today = now.astimezone(ZoneInfo(clinic.timezone)).date()
            findings += trend_findings(clinic=clinic, today=today, patient_id=patient_id)
        raised = alerts_raise(clinic=clinic, findings=findings)
    if kind == "checkin":
        # A check-in can report alcohol: with a benzodiazepine active that is a co-prescription finding.
        raised += evaluate_patients(clinic=clinic, patient_ids=[patient_id], now=now)
    return raised
