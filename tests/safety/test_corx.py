"""Unsafe co-prescription through the real pipeline: medications and plans in the database, the facts
adapter (safety/corx.py), the pure rules, alerts_raise. The issue's case first: oxycodone 10 mg four times
a day for a patient on an approved taper plan must raise an alert."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.tenancy.context import tenant_context
from prescribers.models import PdmpImport
from safety import corx, tasks
from safety.models import Alert
from tests.conftest import make_patient
from tests.dates import clinic_date
from tests.prescribers.factories import NPIS, make_medication, make_prescriber
from tests.taper.factories import make_taper_plan

pytestmark = pytest.mark.django_db

TODAY = clinic_date()


def _alerts(clinic, patient=None) -> dict[str, Alert]:
    with tenant_context(clinic):
        rows = Alert.objects.all() if patient is None else Alert.objects.filter(patient=patient)
        return {a.rule_id: a for a in rows}


@pytest.fixture
def on_plan(clinic_a, patient_a, psychiatrist):
    make_taper_plan(
        clinic_a, patient_a, psychiatrist, status="active", start_date=TODAY - dt.timedelta(days=10)
    )
    return patient_a


def test_oxycodone_with_an_active_taper_plan_raises_benzo_opioid_and_mme(clinic_a, on_plan):
    make_medication(clinic_a, on_plan)  # oxycodone 10 mg, 1 tablet 4x a day: 60 MME/day
    raised = corx.evaluate_patients(clinic=clinic_a, patient_ids=[on_plan.pk])
    alerts = _alerts(clinic_a, on_plan)
    assert {"corx_benzo_opioid", "corx_mme_reassess"} <= set(alerts)
    assert "corx_mme_avoid" not in alerts
    combo = alerts["corx_benzo_opioid"]
    assert combo.severity == "high" and "CDC" in combo.source
    labels = " ".join(str(row) for row in combo.evidence["rows"])
    assert "Oxycodone" in labels and "diazepam" in labels.lower()
    assert len(raised) == len(alerts)
    # Again (the sweep after the on-save job): nothing new.
    assert corx.evaluate_patients(clinic=clinic_a, patient_ids=[on_plan.pk]) == []
    assert corx.sweep_clinic(clinic=clinic_a).raised == 0


def test_without_a_benzodiazepine_the_opioid_alone_raises_no_combination(clinic_a, patient_a):
    make_medication(clinic_a, patient_a)
    corx.evaluate_patients(clinic=clinic_a, patient_ids=[patient_a.pk])
    assert "corx_benzo_opioid" not in _alerts(clinic_a, patient_a)


def test_saving_a_medication_queues_the_evaluation_after_commit(
    clinic_a, patient_a, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(tasks.evaluate_medications, "delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        make_medication(clinic_a, patient_a)
        assert sent == []
    assert sent == [(clinic_a.pk, [str(patient_a.pk)])]


def test_the_task_runs_in_the_clinic_and_raises(clinic_a, on_plan):
    make_medication(clinic_a, on_plan)
    assert tasks.evaluate_medications.run(clinic_a.pk, [str(on_plan.pk)]) >= 2


def test_an_order_and_the_fill_that_dispenses_it_count_once_in_the_mme(clinic_a, patient_a):
    """60 MME/day ordered and the same 60 dispensed by the same prescriber: 60, not 120 (no ≥90 alert)."""
    from tests.prescribers.factories import make_dispensation

    doctor = make_prescriber(clinic_a, npi=NPIS[2], last_name="Pain")
    start = TODAY - dt.timedelta(days=5)
    make_medication(clinic_a, patient_a, prescriber=doctor, start_on=start)
    make_dispensation(
        clinic_a,
        patient_a,
        drug_text="Oxycodone 10 MG Oral Tablet",
        ingredient="oxycodone",
        drug_class="opioid",
        strength=Decimal(10),
        quantity=Decimal(120),
        days_supply=30,
        daily_amount=Decimal(40),
        filled_on=start,
        prescriber=doctor,
    )
    corx.evaluate_patients(clinic=clinic_a, patient_ids=[patient_a.pk])
    alerts = _alerts(clinic_a, patient_a)
    assert "corx_mme_reassess" in alerts and "corx_mme_avoid" not in alerts


def test_alcohol_in_a_checkin_while_on_the_plan_raises(clinic_a, on_plan):
    from tests.safety.sweep_factories import make_checkin, make_link

    link = make_link(
        on_plan,
        created_at=timezone.now() - dt.timedelta(days=3),
        expires_at=timezone.now() + dt.timedelta(days=30),
    )
    checkin = make_checkin(on_plan, link, TODAY - dt.timedelta(days=1))
    with tenant_context(clinic_a):
        type(checkin).objects.filter(pk=checkin.pk).update(alcohol=True)
    corx.evaluate_patients(clinic=clinic_a, patient_ids=[on_plan.pk])
    assert "corx_benzo_alcohol" in _alerts(clinic_a, on_plan)


def test_the_sweep_reads_a_batch_in_a_fixed_number_of_queries(clinic_a, psychiatrist):
    def patients(n):
        made = []
        for i in range(n):
            p = make_patient(clinic_a, first_name=f"Sweep{len(made)}{i}")
            make_medication(clinic_a, p)
            made.append(p)
        return made

    with tenant_context(clinic_a):
        thresholds = corx.clinic_thresholds()
    few = patients(1)
    with tenant_context(clinic_a), CaptureQueriesContext(connection) as one:
        corx.patient_facts([p.pk for p in few], today=TODAY, thresholds=thresholds)
    many = patients(15)
    with tenant_context(clinic_a), CaptureQueriesContext(connection) as fifteen:
        corx.patient_facts([p.pk for p in many], today=TODAY, thresholds=thresholds)
    assert len(fifteen) == len(one), [q["sql"][:120] for q in fifteen.captured_queries]


def test_the_clinic_can_tighten_but_not_loosen_the_mme_level(clinic_a, patient_a):
    from django.core.exceptions import ValidationError

    from prescribers.services import prescribing_settings_update

    with tenant_context(clinic_a):
        with pytest.raises(ValidationError) as error:
            prescribing_settings_update(actor=None, overrides={"mme_reassess": "60"})
        assert "looser" in str(error.value)
        prescribing_settings_update(actor=None, overrides={"mme_reassess": "40", "mme_avoid": "55"})
    make_medication(clinic_a, patient_a)  # 60 MME/day: above the tightened 55
    corx.evaluate_patients(clinic=clinic_a, patient_ids=[patient_a.pk])
    assert "corx_mme_avoid" in _alerts(clinic_a, patient_a)


def test_imports_are_not_needed_for_plain_orders(clinic_a):
    with tenant_context(clinic_a):
        assert not PdmpImport.objects.exists()


def test_the_order_check_says_what_saving_an_opioid_would_raise(clinic_a, on_plan):
    from prescribers import services
    from prescribers.models import Medication
    from prescribers.selectors import medication_line
    from tests.prescribers.factories import medication_fields

    with tenant_context(clinic_a):
        proposed = Medication(patient=on_plan, **medication_fields())
        services.classify(proposed)
        found = corx.order_findings(
            on_plan.pk, medication_line(proposed), today=TODAY, thresholds=corx.clinic_thresholds()
        )
        assert {f.rule_id for f in found} >= {"corx_benzo_opioid", "corx_mme_reassess"}
        # Once saved and alerted, a second identical order adds only what is new: its MME doubles the
        # total to 120/day (two identical orders count twice), so only the >= 90 level is new.
        saved = services.medication_create(actor=None, patient=on_plan, fields=medication_fields())
    corx.evaluate_patients(clinic=clinic_a, patient_ids=[on_plan.pk])
    with tenant_context(clinic_a):
        again = Medication(patient=on_plan, **medication_fields(start_on=saved.start_on))
        services.classify(again)
        found = corx.order_findings(
            on_plan.pk, medication_line(again), today=TODAY, thresholds=corx.clinic_thresholds()
        )
        assert [f.rule_id for f in found] == ["corx_mme_avoid"]


def test_a_pdmp_report_with_an_opioid_and_a_second_prescriber_raises_its_alerts(clinic_a, on_plan):
    from prescribers import pdmp_import, services
    from prescribers.pdmp.samples import example

    with tenant_context(clinic_a):
        services.state_policy_set(actor=None, state="OR", storage="raw")
        pdmp_import.commit(
            actor=None,
            patient=on_plan,
            state="OR",
            format="fhir",
            data=example("fhir", latest_fill_on=TODAY - dt.timedelta(days=3)),
            identity_confirmed=True,
        )
    corx.evaluate_patients(clinic=clinic_a, patient_ids=[on_plan.pk])
    rules = set(_alerts(clinic_a, on_plan))
    assert {
        "corx_benzo_opioid",
        "corx_mme_reassess",
        "corx_benzo_gabapentinoid",
        "corx_benzo_outside_plan",  # alprazolam and clonazepam fills while the plan gives diazepam
    } <= rules, rules
