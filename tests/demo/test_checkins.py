"""The check-in demo: links and two weeks of check-ins for patients in treatment, once; its link works."""

from __future__ import annotations

import datetime
import random

import pytest
from django.core.management import call_command
from django.test import Client

from clinic.tenancy.context import tenant_context
from demo.checkins import DAYS, demo_checkin_paths, seed_checkins
from patients.models import CareEpisode
from taper.models import DoseRecord
from tests.conftest import make_patient
from tests.dates import clinic_date
from tests.vitals.checkins.factories import active_plan
from vitals.checkins.models import CheckIn, CheckInLink
from vitals.checkins.selectors import local_day

pytestmark = pytest.mark.django_db


def _in_treatment(clinic, n: int):
    patients = []
    for i in range(n):
        patient = make_patient(clinic, first_name=f"Demo{i}", last_name="Person", status="active")
        with tenant_context(clinic):
            CareEpisode.objects.create(
                patient=patient, level="iop", started_on=clinic_date() - datetime.timedelta(days=40)
            )
        patients.append(patient)
    return patients


def test_seed_is_idempotent_and_records_doses_with_a_plan(clinic_a):
    patients = _in_treatment(clinic_a, 4)
    active_plan(clinic_a, patients[0], started_days_ago=DAYS + 2)
    created = seed_checkins(clinic=clinic_a, actor=None, patients=patients, rng=random.Random(3))
    with tenant_context(clinic_a):
        assert CheckInLink.objects.count() == 3
        checkins = CheckIn.objects.count()
        assert created == 3 + checkins and checkins >= 3 * (DAYS - 4)
        assert (
            DoseRecord.objects.filter(source="checkin").count()
            == CheckIn.objects.filter(patient=patients[0]).count()
        )
        today = local_day(datetime.datetime.now(datetime.UTC), clinic_a)
        assert not CheckIn.objects.filter(local_date__gte=today).exists()  # today is left for the demo user
    assert seed_checkins(clinic=clinic_a, actor=None, patients=patients, rng=random.Random(3)) == 0
    name, path = demo_checkin_paths(clinic_a)[0]
    assert name == "Demo0"
    assert Client().get(path).status_code == 200


def test_seed_demo_prints_a_checkin_link(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("  Patient check-in (")]
    assert lines, out
    path = lines[0].rsplit(": ", 1)[1]
    assert Client().get(path).status_code == 200
