"""The prescribers demo: a registry per clinic, the program's psychiatrist as benzodiazepine prescriber of
record, co-prescriptions that the rules flag through the real pipeline, idempotent."""

from __future__ import annotations

import pytest
from stdnum import luhn

from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic
from demo import data
from demo.services import seed_demo
from prescribers.identifiers import is_dea, is_npi
from prescribers.models import CoordinationTask, Dispensation, Medication, PatientPrescriber, Prescriber
from safety.models import Alert

pytestmark = pytest.mark.django_db


def test_demo_prescribers_raise_co_prescription_alerts_and_are_idempotent():
    seed_demo()
    for spec in data.CLINICS:
        clinic = Clinic.objects.get(slug=spec.slug)
        with tenant_context(clinic):
            prescribers = list(Prescriber.objects.all())
            assert (
                len(prescribers) == 8 and sum(p.in_program for p in prescribers) == 1
            )  # 5 + 3 from the PDMP report
            assert all(
                is_npi(p.npi) and is_dea(p.dea) and luhn.is_valid("80840" + p.npi) for p in prescribers
            )
            assert PatientPrescriber.objects.filter(role="benzo").count() >= 3
            rules = set(Alert.objects.filter(rule_id__startswith="corx_").values_list("rule_id", flat=True))
            assert {"corx_benzo_opioid", "corx_mme_reassess", "corx_benzo_gabapentinoid"} <= rules, rules
            assert CoordinationTask.objects.filter(status="open").exists()
            assert Dispensation.objects.count() == 5, "the demo PDMP report's fills"
            assert "corx_benzo_fills_multi_prescriber" in rules
            before = (Prescriber.objects.count(), Medication.objects.count(), Alert.objects.count())
    seed_demo()
    with tenant_context(clinic):
        assert (Prescriber.objects.count(), Medication.objects.count(), Alert.objects.count()) == before
