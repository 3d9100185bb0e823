"""The taper demo: plans in every state for the demo patients who report a benzodiazepine, the check-in
patients on active plans (so their check-ins record doses), built through the services, idempotent."""

from __future__ import annotations

import pytest

from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic
from demo import data
from demo.services import seed_demo
from taper.models import DoseRecord, TaperPlan, TaperPlanVersion
from vitals.checkins.models import CheckInLink

pytestmark = pytest.mark.django_db


def test_demo_plans_in_varied_states_and_idempotent():
    seed_demo()
    for spec in data.CLINICS:
        clinic = Clinic.objects.get(slug=spec.slug)
        with tenant_context(clinic):
            plans = list(TaperPlan.objects.select_related("current_version"))
            statuses = {p.status for p in plans}
            assert {"active", "proposed", "draft", "stopped"} <= statuses, spec.slug
            assert any(p.held_since for p in plans), "one active plan is held"
            held = next(p for p in plans if p.held_since)
            assert held.current_version.change == TaperPlanVersion.Change.HELD
            assert all(p.current_version.reason for p in plans)
            active = {p.patient_id for p in plans if p.status == "active"}
            checking_in = set(CheckInLink.objects.values_list("patient_id", flat=True))
            assert checking_in and checking_in <= active, "check-in patients have active plans"
            records = DoseRecord.objects.all()
            assert records.filter(source="nurse").count() > 50
            assert records.filter(source="checkin").exists()
            before = (TaperPlan.objects.count(), TaperPlanVersion.objects.count(), records.count())
    seed_demo()
    with tenant_context(clinic):
        after = (TaperPlan.objects.count(), TaperPlanVersion.objects.count(), DoseRecord.objects.count())
    assert after == before
