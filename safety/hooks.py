"""How safety answers the apps below it, which send signals and never import safety.

- on_clinical_fact_recorded: a vital, instrument result or check-in was recorded → evaluate that patient's
  rules in a job, after the writing transaction commits (a rolled-back write evaluates nothing).
- on_medications_changed: medications or PDMP fills changed → evaluate the co-prescription rules in a job.
- rising_withdrawal_concerns: the taper review queue asks which patients have an open "withdrawal scores
  rising" alert (it suggests a hold; nothing is applied).
- co_prescription_concerns: a patient's medication list asks for that patient's open co-prescription
  alerts (rule ids starting "corx_"), each with a link to its alert page.
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


CO_PRESCRIPTION_PREFIX = "corx_"


def co_prescription_concerns(sender: Any, *, patient_id: Any, **kwargs: Any) -> list:
    """Open (or acknowledged, not yet resolved) co-prescription alerts of one patient: one query."""
    from clinic.tenancy.urls_helpers import clinic_reverse
    from prescribers.signals import MedicationConcern
    from safety.selectors import open_alerts

    alerts = open_alerts(patient=patient_id).filter(rule_id__startswith=CO_PRESCRIPTION_PREFIX)
    return [
        MedicationConcern(
            title=alert.title,
            severity=alert.severity,
            severity_label=alert.get_severity_display(),
            raised_at=alert.raised_at,
            url=clinic_reverse("safety:detail", alert_id=alert.pk),
            rule_id=alert.rule_id,
        )
        for alert in alerts.only("id", "title", "severity", "raised_at", "rule_id")
    ]
