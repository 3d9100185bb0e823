"""alerts_raise: one set-based insert; the dedup key makes the same event one alert, even when two
transactions raise it at the same moment."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from safety.findings import Finding, dedup_key
from safety.models import Alert, AlertEvent
from safety.rules_catalogue import UnknownRule
from safety.services import alerts_raise
from tests.conftest import make_clinic, make_patient
from tests.safety.conftest import T0, finding

pytestmark = pytest.mark.django_db


def test_raising_the_same_findings_twice_makes_one_alert(clinic_a, patient_a):
    findings = [
        finding(patient_a, "spo2_low", key="spo2_low:r1"),
        finding(patient_a, "bp_stage2", key="bp:r1"),
    ]
    first = alerts_raise(clinic=clinic_a, findings=findings)
    second = alerts_raise(clinic=clinic_a, findings=findings)
    assert len(first) == 2 and second == []
    with tenant_context(clinic_a):
        assert Alert.objects.count() == 2
        assert AlertEvent.objects.filter(kind="raised").count() == 2
        assert AuditEvent.objects.filter(action="create", object_type="safety.alert").count() == 2


def test_alert_carries_catalogue_title_severity_source_and_evidence(clinic_a, patient_a):
    alert = alerts_raise(clinic=clinic_a, findings=[finding(patient_a, "phq9_item9_positive", answer=2)])[0]
    assert alert.severity == "critical"
    assert alert.title == "PHQ-9 item 9 answered above zero"
    assert "clinical.md 3c" in alert.source
    assert alert.evidence == {"answer": 2}
    assert alert.status == "open" and alert.occurred_at == T0


def test_duplicate_keys_within_one_batch_make_one_alert(clinic_a, patient_a):
    same = [finding(patient_a, key="k:1"), finding(patient_a, key="k:1")]
    assert len(alerts_raise(clinic=clinic_a, findings=same)) == 1


def test_one_insert_whatever_the_number_of_findings(clinic_a):
    patients = [make_patient(clinic_a, mrn=f"SD-9{n:05d}") for n in range(30)]
    with CaptureQueriesContext(connection) as captured:
        alerts_raise(clinic=clinic_a, findings=[finding(p) for p in patients])
    inserts = [q["sql"] for q in captured if 'INSERT INTO "safety_alert"' in q["sql"]]
    assert len(inserts) == 1


def test_unknown_rule_is_refused_and_nothing_is_written(clinic_a, patient_a):
    with pytest.raises(UnknownRule):
        alerts_raise(clinic=clinic_a, findings=[finding(patient_a, "no_such_rule")])
    with tenant_context(clinic_a):
        assert not Alert.objects.exists()


def test_a_patient_of_another_clinic_is_refused(clinic_a, patient_b):
    with pytest.raises(ValueError, match="not in clinic-a"):
        alerts_raise(clinic=clinic_a, findings=[finding(patient_b)])


def test_same_dedup_key_in_two_clinics_is_two_alerts(clinic_a, clinic_b, patient_a, patient_b):
    assert alerts_raise(clinic=clinic_a, findings=[finding(patient_a, key="shared")])
    assert alerts_raise(clinic=clinic_b, findings=[finding(patient_b, key="shared")])


def test_new_high_and_critical_alerts_are_emailed_after_commit_only(
    clinic_a, patient_a, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    from safety import tasks

    monkeypatch.setattr(tasks.notify_alert, "delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        new = alerts_raise(
            clinic=clinic_a,
            findings=[finding(patient_a, "spo2_low"), finding(patient_a, "checkin_missed")],
        )
        assert sent == []  # nothing leaves before the commit
    critical = next(a for a in new if a.severity == "critical")
    assert callbacks  # the e-mail was queued as an on-commit callback, and ran with them
    assert sent == [(clinic_a.pk, str(critical.pk), "new")]


def test_finding_is_validated():
    with pytest.raises(ValueError):
        Finding("spo2_low", "00000000-0000-0000-0000-000000000000", "", {}, T0)
    with pytest.raises(ValueError):
        Finding("spo2_low", "00000000-0000-0000-0000-000000000000", "k", {}, T0.replace(tzinfo=None))
    assert dedup_key("checkin_missed", "p1", "2026-03-08") == "checkin_missed:p1:2026-03-08"


@pytest.mark.django_db(transaction=True)
def test_two_transactions_raising_the_same_event_at_once_make_one_alert():
    """A holds its insert uncommitted; B's insert of the same key waits on the unique index, then finds
    A's row and inserts nothing."""
    clinic = make_clinic("race-clinic")
    patient = make_patient(clinic)
    event = finding(patient, key="spo2_low:race")
    inserted, results, errors = threading.Event(), {}, []

    def raise_in_a():
        try:
            with transaction.atomic():
                results["a"] = alerts_raise(clinic=clinic, findings=[event])
                inserted.set()
                threading.Event().wait(0.5)  # keep the row uncommitted while B tries
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
            inserted.set()
        finally:
            connection.close()

    def raise_in_b():
        try:
            inserted.wait(10)
            results["b"] = alerts_raise(clinic=clinic, findings=[event])
        except Exception as error:  # pragma: no cover
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=raise_in_a), threading.Thread(target=raise_in_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not errors, errors
    assert len(results["a"]) == 1 and results["b"] == []
    with tenant_context(clinic):
        assert Alert.objects.filter(dedup_key="spo2_low:race").count() == 1
