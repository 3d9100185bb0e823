"""The on-save hook (vitals.signals.clinical_fact_recorded → evaluate after commit) and the beat entries."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.db import transaction

from safety import tasks
from vitals.signals import clinical_fact_recorded

pytestmark = pytest.mark.django_db


def _send(clinic_id: int, patient_id, object_id) -> None:
    clinical_fact_recorded.send(
        sender=None, clinic_id=clinic_id, patient_id=patient_id, kind="vital", object_id=object_id
    )


def test_a_saved_fact_is_evaluated_after_commit(clinic_a, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(tasks.evaluate_patient, "delay", lambda *args: sent.append(args))
    patient_id, object_id = uuid.uuid4(), uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=True):
        _send(clinic_a.pk, patient_id, object_id)
        assert sent == []  # not before the commit
    assert sent == [(clinic_a.pk, str(patient_id), "vital", str(object_id))]


def test_a_rolled_back_fact_evaluates_nothing(clinic_a, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(tasks.evaluate_patient, "delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                _send(clinic_a.pk, uuid.uuid4(), uuid.uuid4())
                raise RuntimeError("write failed")
        except RuntimeError:
            pass
    assert callbacks == [] and sent == []


def test_a_broker_outage_does_not_fail_the_write(clinic_a, monkeypatch, django_capture_on_commit_callbacks):
    def down(*args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.evaluate_patient, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        _send(clinic_a.pk, uuid.uuid4(), uuid.uuid4())  # robust on_commit: logged, not raised


def test_evaluate_patient_task_runs_the_evaluation_in_the_clinic(clinic_a, patient_a, monkeypatch):
    from safety import evaluation

    seen = {}

    def fake(*, clinic, patient_id, kind, object_id):
        from clinic.tenancy.context import require_clinic

        seen.update(clinic=clinic, scoped=require_clinic(), patient_id=patient_id, kind=kind)
        return ["new alert"]

    monkeypatch.setattr(evaluation, "evaluate_patient", fake)
    assert tasks.evaluate_patient.run(clinic_a.pk, str(patient_a.pk), "instrument", str(uuid.uuid4())) == 1
    assert seen["clinic"] == seen["scoped"] == clinic_a and seen["kind"] == "instrument"


def test_escalation_runs_from_beat_for_every_clinic(clinic_a, clinic_b, monkeypatch):
    assert settings.CELERY_BEAT_SCHEDULE["safety-escalation"]["task"] == "safety.tasks.escalate_all_clinics"
    sent = []
    monkeypatch.setattr(tasks.escalate_alerts, "delay", lambda clinic_id: sent.append(clinic_id))
    assert tasks.escalate_all_clinics.run() == 2
    assert sorted(sent) == sorted([clinic_a.pk, clinic_b.pk])
