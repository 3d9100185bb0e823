"""How safety answers the apps below it, which send signals and never import safety.

- on_clinical_fact_recorded: a vital, instrument result or check-in was recorded → evaluate that patient's
  rules in a job, after the writing transaction commits (a rolled-back write evaluates nothing).
- on_medications_changed: medications or PDMP fills changed → evaluate the co-prescription rules in a job.
- rising_withdrawal_concerns: the taper review queue asks which patients have an open "withdrawal scores
  rising" alert (it suggests a hold; nothing is applied).
"""

from __future__ import annotations

from typing import Any


def on_clinical_fact_recorded(
    sender: Any, *, clinic_id: int, patient_id: Any, kind: str, object_id: Any, **kwargs: Any
) -> None:
    from safety.tasks import evaluate_patient

    # robust (see StepdownTask.delay_on_commit): if the broker is down the fact is still saved, and the beat
    # sweep, the safety net, finds the same crossings; the dedup key keeps it to one alert.
    evaluate_patient.delay_on_commit(clinic_id, str(patient_id), kind, str(object_id))


def on_medications_changed(sender: Any, *, clinic_id: int, patient_ids: list, **kwargs: Any) -> None:
    from safety.tasks import evaluate_medications

    # Robust like the above: if the broker is down the medication is still saved and the nightly
    # co-prescription sweep finds what this job would have.
    evaluate_medications.delay_on_commit(clinic_id, [str(pid) for pid in patient_ids])


def rising_withdrawal_concerns(sender: Any, **kwargs: Any) -> list:
    from safety.rules.trend import TREND_RULE
    from safety.selectors import open_alerts
    from taper.signals import ReviewConcern

    alerts = open_alerts(rule_ids=[TREND_RULE]).values_list("patient_id", "raised_at", "title")
    return [ReviewConcern(patient_id, raised_at, title) for patient_id, raised_at, title in alerts]
