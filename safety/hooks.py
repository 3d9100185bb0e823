"""How safety answers the apps below it, which send signals and never import safety.

- on_clinical_fact_recorded: a vital, instrument result or check-in was recorded → evaluate that patient's
  rules in a job, after the writing transaction commits (a rolled-back write evaluates nothing).
- on_medications_changed: medications or PDMP fills changed → evaluate the co-prescription rules in a job.
- on_prescribing_settings_changed: a clinic tightened its co-prescription thresholds → re-run its sweep.
- co_prescription_order_warnings: the medication form asks what saving an order would newly raise.
- rising_withdrawal_concerns: the taper review queue asks which patients have an open "withdrawal scores
  rising" alert (it suggests a hold; nothing is applied).
- on_attendance_recorded: attendance of a session was recorded → the missed-sessions rule for its patients
  in a job, after commit.
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


def on_attendance_recorded(
    sender: Any, *, clinic_id: int, occurrence_id: Any, patient_ids: list, **kwargs: Any
) -> None:
    from safety.tasks import evaluate_attendance

    # Robust like the above: if the broker is down the attendance is still saved and the nightly
    # attendance sweep finds the same run of misses (same dedup key: one alert).
    evaluate_attendance.delay_on_commit(clinic_id, str(occurrence_id), [str(pid) for pid in patient_ids])


def on_prescribing_settings_changed(sender: Any, *, clinic_id: int, **kwargs: Any) -> None:
    from safety.tasks import sweep_coprescriptions

    # Tighter thresholds should show on today's lists, not after the nightly sweep (which still runs).
    sweep_coprescriptions.delay_on_commit(clinic_id)


def rising_withdrawal_concerns(sender: Any, **kwargs: Any) -> Any:
    from safety.rules.trend import TREND_RULE
    from safety.selectors import open_alerts

    # Lazy: the queue uses it as a subquery (a patient's newest open alert), never loads it whole.
    return open_alerts(rule_ids=[TREND_RULE]).order_by().values("patient_id", "raised_at", "title")


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


def co_prescription_order_warnings(sender: Any, *, patient: Any, proposed: Any, **kwargs: Any) -> list:
    """The co-prescription rules run on the medication list with the proposed order in it (order-select):
    each finding it would newly raise, described as its alert would be."""
    import zoneinfo

    from clinic.tenancy.context import clinic_today, require_clinic
    from prescribers.signals import OrderWarning
    from safety import rules_catalogue
    from safety.corx import clinic_thresholds, order_findings
    from safety.models import Severity
    from safety.selectors import finding_rows

    zone = zoneinfo.ZoneInfo(require_clinic().timezone)
    found = order_findings(patient.pk, proposed, today=clinic_today(), thresholds=clinic_thresholds())
    warnings = []
    for finding in found:
        rule = rules_catalogue.rule(finding.rule_id)
        warnings.append(
            OrderWarning(
                rule_id=rule.id,
                title=rule.title,
                severity=rule.severity,
                severity_label=Severity(rule.severity).label,
                what_to_do=rule.what_to_do,
                source=rule.source,
                source_url=rule.source_url,
                evidence=finding_rows(rule, finding.evidence, zone),
                event=finding.event,
            )
        )
    return warnings
