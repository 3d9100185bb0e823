"""The lifecycle: open → acknowledged → resolved (note) or dismissed (reason); final states stay final."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from safety import services
from safety.models import Alert, AlertEvent
from safety.services import IllegalTransition
from tests.conftest import make_member, make_patient
from tests.safety.conftest import raise_one

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(clinic_a, patient_a):
    return raise_one(clinic_a, patient_a)


def _kinds(clinic, alert) -> list[str]:
    with tenant_context(clinic):
        return list(
            AlertEvent.objects.filter(alert=alert).order_by("at", "created_at").values_list("kind", flat=True)
        )


def test_acknowledge_then_resolve_with_note(clinic_a, staff_a, alert):
    nurse = staff_a[Role.NURSE]
    with tenant_context(clinic_a):
        acknowledged = services.alert_acknowledge(actor=nurse, alert=alert)
        assert acknowledged.status == "acknowledged" and acknowledged.acknowledged_by == nurse
        resolved = services.alert_resolve(actor=nurse, alert=alert, note="  Called; SpO2 97% on recheck.  ")
        assert resolved.status == "resolved" and resolved.resolution_note == "Called; SpO2 97% on recheck."
        assert resolved.acknowledged_at == acknowledged.acknowledged_at  # not overwritten
        events = AuditEvent.objects.filter(object_id=str(alert.pk), action="update")
        assert sorted(e.detail["event"] for e in events) == ["acknowledged", "resolved"]
    assert _kinds(clinic_a, alert) == ["raised", "acknowledged", "resolved"]


def test_resolve_needs_a_note_and_dismiss_a_reason(clinic_a, staff_a, alert):
    with tenant_context(clinic_a):
        with pytest.raises(ValidationError) as error:
            services.alert_resolve(actor=staff_a[Role.NURSE], alert=alert, note="   ")
        assert "note" in error.value.message_dict
        with pytest.raises(ValidationError) as error:
            services.alert_dismiss(actor=staff_a[Role.NURSE], alert=alert, reason="")
        assert "reason" in error.value.message_dict
        assert Alert.objects.get(pk=alert.pk).status == "open"


def test_an_open_alert_may_be_resolved_directly_and_counts_as_acknowledged(clinic_a, staff_a, alert):
    with tenant_context(clinic_a):
        resolved = services.alert_resolve(
            actor=staff_a[Role.CLINICIAN], alert=alert, note="Handled in clinic."
        )
    assert resolved.acknowledged_by == staff_a[Role.CLINICIAN] and resolved.acknowledged_at is not None


@pytest.mark.parametrize(
    ("close", "then", "message"),
    [
        ("dismiss", "resolve", "dismissed"),
        ("dismiss", "acknowledge", "dismissed"),
        ("resolve", "dismiss", "resolved"),
        ("resolve", "resolve", "resolved"),
        ("resolve", "assign", "resolved"),
    ],
)
def test_final_states_refuse_every_change(clinic_a, staff_a, alert, close, then, message):
    nurse = staff_a[Role.NURSE]
    with tenant_context(clinic_a):
        if close == "dismiss":
            services.alert_dismiss(actor=nurse, alert=alert, reason="Cuff slipped; recheck normal.")
        else:
            services.alert_resolve(actor=nurse, alert=alert, note="Done.")
        calls = {
            "resolve": lambda: services.alert_resolve(actor=nurse, alert=alert, note="Again"),
            "dismiss": lambda: services.alert_dismiss(actor=nurse, alert=alert, reason="Again"),
            "acknowledge": lambda: services.alert_acknowledge(actor=nurse, alert=alert),
            "assign": lambda: services.alert_assign(actor=nurse, alert=alert, assignee=nurse),
        }
        with pytest.raises(IllegalTransition, match=f"{message} by Nurse clinic-a"):
            calls[then]()


def test_acknowledging_twice_says_who_did_it_first(clinic_a, staff_a, alert):
    with tenant_context(clinic_a):
        services.alert_acknowledge(actor=staff_a[Role.NURSE], alert=alert)
        with pytest.raises(IllegalTransition, match="already acknowledged by Nurse clinic-a"):
            services.alert_acknowledge(actor=staff_a[Role.CLINICIAN], alert=alert)


def test_the_database_refuses_a_resolved_alert_without_note(clinic_a, alert):
    from django.db import IntegrityError, transaction

    with tenant_context(clinic_a), pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.filter(pk=alert.pk).update(status="resolved")


def test_assign_to_a_care_team_member_and_unassign(clinic_a, staff_a, alert):
    nurse, psychiatrist = staff_a[Role.NURSE], staff_a[Role.PSYCHIATRIST]
    with tenant_context(clinic_a):
        assert (
            services.alert_assign(actor=nurse, alert=alert, assignee=psychiatrist).assigned_to == psychiatrist
        )
        assert services.alert_assign(actor=nurse, alert=alert, assignee=None).assigned_to is None
    assert _kinds(clinic_a, alert)[1:] == ["assigned", "unassigned"]


def test_assign_refuses_people_who_may_not_act_on_alerts(clinic_a, clinic_b, staff_a, alert):
    outsider = make_member(clinic_b, Role.NURSE, email="nurse.b@example.org")
    with tenant_context(clinic_a):
        for person in (staff_a[Role.ADMISSIONS], staff_a[Role.CLINIC_ADMIN], outsider):
            with pytest.raises(ValidationError, match="may act on safety alerts"):
                services.alert_assign(actor=staff_a[Role.NURSE], alert=alert, assignee=person)


def test_bulk_acknowledge_is_one_update_and_leaves_others_alone(clinic_a, clinic_b, staff_a, patient_b):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    patients = [make_patient(clinic_a, mrn=f"SD-8{n:05d}") for n in range(4)]
    alerts = [raise_one(clinic_a, p) for p in patients]
    foreign = raise_one(clinic_b, patient_b)
    nurse = staff_a[Role.NURSE]
    with tenant_context(clinic_a):
        services.alert_resolve(actor=nurse, alert=alerts[3], note="Handled.")
        services.alert_acknowledge(actor=staff_a[Role.CLINICIAN], alert=alerts[2])
        with CaptureQueriesContext(connection) as captured:
            done = services.alerts_acknowledge_bulk(
                actor=nurse, alert_ids=[a.pk for a in alerts] + [foreign.pk]
            )
        updates = [q for q in captured if q["sql"].lstrip().startswith("WITH done AS")]
        assert len(updates) == 1
        assert set(done) == {alerts[0].pk, alerts[1].pk}
        statuses = dict(Alert.objects.values_list("pk", "status"))
        assert statuses[alerts[0].pk] == statuses[alerts[1].pk] == "acknowledged"
        assert Alert.objects.get(pk=alerts[2].pk).acknowledged_by == staff_a[Role.CLINICIAN]
        assert statuses[alerts[3].pk] == "resolved"
        assert AlertEvent.objects.filter(kind="acknowledged", actor=nurse).count() == 2
    with tenant_context(clinic_b):
        assert Alert.objects.get(pk=foreign.pk).status == "open"


def test_bulk_acknowledge_needs_a_choice(clinic_a, staff_a):
    with tenant_context(clinic_a):
        with pytest.raises(ValidationError, match="at least one"):
            services.alerts_acknowledge_bulk(actor=staff_a[Role.NURSE], alert_ids=[])
        with pytest.raises(ValidationError, match="from the list"):
            services.alerts_acknowledge_bulk(actor=staff_a[Role.NURSE], alert_ids=["not-a-uuid"])


def test_open_alerts_selector_lists_open_and_acknowledged_only(clinic_a, staff_a, patient_a):
    from safety.selectors import open_alerts

    trend = raise_one(clinic_a, patient_a, "withdrawal_trend_rising")
    other = raise_one(clinic_a, patient_a, "bp_stage2")
    closed = raise_one(clinic_a, patient_a, "withdrawal_trend_rising")
    with tenant_context(clinic_a):
        services.alert_acknowledge(actor=staff_a[Role.NURSE], alert=trend)
        services.alert_dismiss(actor=staff_a[Role.NURSE], alert=closed, reason="Duplicate.")
        assert set(open_alerts(rule_ids=["withdrawal_trend_rising"])) == {trend}
        assert set(open_alerts(patient=patient_a)) == {trend, other}
