"""Demo safety alerts: a few synthetic findings raised through the real pipeline (alerts_raise), one
acknowledged, one resolved with a note, one dismissed with a reason, the rest open; the clinic's nurse is on
call. Synthetic only. Idempotent: the dedup keys name the demo patient, so a second run raises nothing and
changes nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from clinic.actors import ActorLike
from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic, Membership
from clinic.tenancy.roles import Role
from patients.models import Patient
from safety import rules_catalogue, services
from safety.findings import Finding
from safety.models import SafetySettings


def _vital_evidence(taken_at: dt.datetime, values: dict[str, str], check: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": "vital_reading",
        "taken_at": taken_at.isoformat(),
        "values": values,
        "checks": [check],
        "demo": "synthetic demo data",
    }


def _findings(patients: Sequence[Patient], now: dt.datetime) -> list[tuple[Finding, str, str]]:
    """(finding, what happens to it next, the note) for the first demo patients."""
    hours = [now - dt.timedelta(hours=h) for h in (1, 3, 20, 26, 30)]
    specs = [
        (
            "spo2_low",
            _vital_evidence(
                hours[0],
                {"spo2": "90", "respiratory_rate": "11", "heart_rate": "58"},
                {"id": "oversedation_low_spo2", "rule": "spo2 <= 91", "observed": "90",
                 "meaning": "over-sedation sign: low oxygen saturation", "status": "V"},
            ),
            hours[0],
            "open",
            "",
        ),
        (
            "bp_hypertensive_crisis",
            {**_vital_evidence(
                hours[1],
                {"systolic_bp": "186", "diastolic_bp": "104", "heart_rate": "112"},
                {"id": "hypertensive_crisis_systolic", "rule": "systolic_bp > 180", "observed": "186",
                 "meaning": "hypertensive crisis range (systolic)", "status": "S"},
            ), "bp_category": "Hypertensive crisis"},
            hours[1],
            "acknowledge",
            "",
        ),
        (
            "checkin_missed",
            {"kind": "checkin_missed", "local_date": (now - dt.timedelta(days=1)).date().isoformat(),
             "cutoff": "20:00", "demo": "synthetic demo data"},
            hours[2],
            "open",
            "",
        ),
        (
            "withdrawal_trend_rising",
            {"kind": "trend", "series": "CIWA-B total", "mean_before": "14.0", "mean_after": "21.5",
             "window_days": 7, "demo": "synthetic demo data"},
            hours[3],
            "resolve",
            "Reviewed with the psychiatrist: taper held at the current step for two weeks; recheck CIWA-B at "
            "each visit.",
        ),
        (
            "bp_stage2",
            _vital_evidence(
                hours[4],
                {"systolic_bp": "146", "diastolic_bp": "88"},
                {"id": "hypertensive_reading_systolic", "rule": "systolic_bp >= 140", "observed": "146",
                 "meaning": "reading in the stage 2 hypertension range (systolic)", "status": "V"},
            ),
            hours[4],
            "dismiss",
            "Patient had run up the stairs; seated recheck after 5 minutes was 128/82.",
        ),
    ]  # fmt: skip
    found = []
    for patient, (rule_id, evidence, occurred_at, then, note) in zip(patients, specs, strict=False):
        key = f"demo:{rule_id}:{patient.mrn}"
        found.append((Finding(rule_id, patient.pk, key, evidence, occurred_at), then, note))
    return found


def _nurse(clinic: Clinic):
    found = (
        Membership.objects.filter(clinic=clinic, roles__contains=[Role.NURSE.value], is_active=True)
        .select_related("user")
        .order_by("created_at")
        .first()
    )
    return found.user if found else None


def seed_alerts(*, clinic: Clinic, actor: ActorLike, patients: Sequence[Patient], rng: random.Random) -> int:
    """Returns how many alerts were created."""
    with tenant_context(clinic):
        if not SafetySettings.objects.exists():
            nurse = _nurse(clinic)
            services.safety_settings_update(
                actor=None,
                escalate_after_minutes=rules_catalogue.defaults().escalate_after_minutes,
                checkin_cutoff=rules_catalogue.defaults().checkin_cutoff,
                on_call_user_ids=[nurse.pk] if nurse else [],
                on_call_emails=[],
            )
        plan = _findings(
            [p for p in patients if p.status == Patient.Status.ACTIVE] or patients, timezone.now()
        )
        new = {
            alert.dedup_key: alert
            for alert in services.alerts_raise(clinic=clinic, findings=[f for f, _, _ in plan])
        }
        for finding, then, note in plan:
            alert = new.get(finding.dedup_key)
            if alert is None:
                continue
            if then == "acknowledge":
                services.alert_acknowledge(actor=actor, alert=alert)
            elif then == "resolve":
                services.alert_acknowledge(actor=actor, alert=alert)
                services.alert_resolve(actor=actor, alert=alert, note=note)
            elif then == "dismiss":
                services.alert_dismiss(actor=actor, alert=alert, reason=note)
        return len(new)
