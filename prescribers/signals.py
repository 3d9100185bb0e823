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

# Sent by prescribers.services inside the writing transaction after a clinic's co-prescription thresholds
# changed, with kwarg clinic_id: int. safety re-runs that clinic's sweep after the commit.
prescribing_settings_changed = Signal()

# Sent while a patient's medication list is built, with kwarg patient_id: UUID (of the clinic in scope).
# Each receiver returns a list of `MedicationConcern` — safety answers with the patient's open
# co-prescription alerts (rule ids starting "corx_"). With no receiver connected the list shows none.
medication_concerns_requested = Signal()


# Sent by the medication form before it saves, with kwargs patient (of the clinic in scope) and proposed
# (the order as a MedicationLine; an edit keeps the saved row's id). Each receiver returns a list of
# `OrderWarning` — safety answers with what the co-prescription rules would newly raise.
order_warnings_requested = Signal()


@dataclass(frozen=True)
class OrderWarning:
    rule_id: str
    title: str
    severity: str  # code: low | moderate | high | critical
    severity_label: str
    what_to_do: str
    source: str
    source_url: str
    evidence: list  # labelled rows, as an alert's "what it fired on"
    event: str  # the finding's stable event: confirming "these warnings" means these events


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


def order_warnings(sender: object, *, patient, proposed) -> list[OrderWarning]:
    """What saving `proposed` would newly raise, most severe first."""
    answers = order_warnings_requested.send(sender=sender, patient=patient, proposed=proposed)
    warnings = [w for _, answer in answers for w in answer or []]
    rank = {"critical": 0, "high": 1, "moderate": 2, "low": 3}
    return sorted(warnings, key=lambda w: (rank.get(w.severity, 9), w.title))
