"""Signals other apps listen to. prescribers never imports its listeners (safety connects to these)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by prescribers.services inside the writing transaction after medications or PDMP fills of some
# patients were saved, imported or stopped, with kwargs clinic_id: int, patient_ids: list[UUID]. Receivers
# that act (evaluate the co-prescription rules) defer their work until the transaction commits.
medications_changed = Signal()
