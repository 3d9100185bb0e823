"""Signals other apps listen to. Vitals never imports its listeners (safety connects to these)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by vitals and checkins services right after a fact is saved, inside the writing transaction, with
# kwargs clinic_id: int, patient_id: UUID, kind: "vital" | "instrument" | "checkin", object_id: UUID.
# Receivers that act (e.g. evaluate safety rules) defer their work with transaction.on_commit, so a
# rolled-back write raises nothing.
clinical_fact_recorded = Signal()

FACT_VITAL = "vital"
FACT_INSTRUMENT = "instrument"
FACT_CHECKIN = "checkin"
