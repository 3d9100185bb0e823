"""The on-save hook: a vital, instrument result or check-in was recorded → evaluate that patient's rules
in a job, after the writing transaction commits (a rolled-back write evaluates nothing)."""

from __future__ import annotations

from typing import Any


def on_clinical_fact_recorded(
    sender: Any, *, clinic_id: int, patient_id: Any, kind: str, object_id: Any, **kwargs: Any
) -> None:
    from safety.notifications import send_after_commit
    from safety.tasks import evaluate_patient

    # robust (see send_after_commit): if the broker is down the fact is still saved, and the beat sweep,
    # the safety net, finds the same crossings; the dedup key keeps it to one alert.
    send_after_commit(evaluate_patient, clinic_id, str(patient_id), kind, str(object_id))
