"""Signals other apps listen to. prescribers never imports its listeners (safety connects to these)."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.dispatch import Signal

# Sent by prescribers.services inside the writing transaction after medications or PDMP fills of some
# patients were saved, imported or stopped, with kwargs clinic_id: int, patient_ids: list[UUID]. Receivers
# that act (evaluate the co-prescription rules) defer their work until the transaction commits.
medications_changed = Signal()

# Sent while a patient's medication list is built, with kwarg patient_id: UUID (of the clinic in scope).
# Each receiver returns a list of `MedicationConcern` — safety answers with the patient's open
# co-prescription alerts (rule ids starting "corx_"). With no receiver connected the list shows none.
medication_concerns_requested = Signal()


@dataclass(frozen=True)
class MedicationConcern:
    title: str
    severity: str  # code: low | moderate | high | critical
    severity_label: str
    raised_at: datetime.datetime
    url: str  # the page that explains it and where it is acted on
    rule_id: str = ""


def medication_concerns(sender: object, *, patient_id: uuid.UUID) -> list[MedicationConcern]:
    """Every receiver's concerns about this patient, newest first."""
    answers = medication_concerns_requested.send(sender=sender, patient_id=patient_id)
    concerns = [c for _, answer in answers for c in answer or []]
    return sorted(concerns, key=lambda c: c.raised_at, reverse=True)
