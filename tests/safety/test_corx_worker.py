"""The nightly co-prescription sweep on a real Celery worker: killed mid-sweep, then redelivered or re-run,
it leaves exactly one alert per episode — no duplicate, no miss.

Three clinics, each with a patient on a taper plan who was given oxycodone (benzodiazepine + opioid, and
60 MME/day) and one who has only the plan. The worker is stopped inside the second clinic's INSERT by an
uncommitted alert holding one of its dedup keys. The worker is another process and sees only committed
rows: these tests use a transactional database.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

import pytest
from django.db import transaction
from django.utils import timezone

from clinic.tenancy.context import tenant_context
from safety.models import Alert
from safety.tasks import sweep_all_coprescriptions, sweep_coprescriptions
from tests.conftest import make_clinic, make_member, make_patient
from tests.prescribers.factories import make_medication
from tests.safety.test_sweep_worker import RESULT_TIMEOUT, _blocked_backend, _end_orphan, queue, start
from tests.taper.factories import make_taper_plan

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]
__all__ = ["queue"]  # the fixture, shared with the missed-check-in worker tests

BLOCKER = "test: holds one co-prescription dedup key"
NOW = timezone.now()
TODAY = NOW.date()
OPIOID_START = TODAY - dt.timedelta(days=3)


@pytest.fixture
def three_clinics(db):
    clinics, exposed = {}, {}
    for slug, name in (("cx-a", "A Corx"), ("cx-b", "B Corx"), ("cx-c", "C Corx")):
        clinic = clinics[slug] = make_clinic(slug, name=name, timezone="UTC")
        psychiatrist = make_member(clinic, "psychiatrist")
        both = make_patient(clinic, first_name="Both")
        plan_only = make_patient(clinic, first_name="PlanOnly")
        for patient in (both, plan_only):
            make_taper_plan(clinic, patient, psychiatrist, start_date=TODAY - dt.timedelta(days=20))
        make_medication(clinic, both, start_on=OPIOID_START)
        exposed[slug] = both.pk
    return clinics, exposed


def expected(exposed) -> Counter:
    return Counter(
        (slug, str(pid), rule)
        for slug, pid in exposed.items()
        for rule in ("corx_benzo_opioid", "corx_mme_reassess")
    )


def actual(clinics) -> Counter:
    found = Counter()
    for slug, clinic in clinics.items():
        with tenant_context(clinic):
            rows = Alert.objects.filter(rule_id__startswith="corx_").exclude(title=BLOCKER)
            for patient_id, rule_id in rows.values_list("patient_id", "rule_id"):
                found[(slug, str(patient_id), rule_id)] += 1
    return found


def _hold(clinic, patient_id) -> None:
    with tenant_context(clinic):
        Alert.objects.create(
            patient_id=patient_id,
            rule_id="corx_mme_reassess",
            severity="moderate",
            title=BLOCKER,
            source="test",
            dedup_key=f"corx_mme_reassess:{patient_id}:50:{OPIOID_START.isoformat()}",
            occurred_at=NOW,
        )


def sweep_everywhere(clinics) -> None:
    assert sweep_all_coprescriptions.delay(now=NOW.isoformat()).get(timeout=RESULT_TIMEOUT) == len(clinics)
    sweep_coprescriptions.delay(clinics["cx-a"].pk, now=NOW.isoformat()).get(timeout=RESULT_TIMEOUT)


def test_the_sweep_raises_one_alert_per_episode_and_re_running_adds_nothing(three_clinics, queue):
    clinics, exposed = three_clinics
    start(queue, "prefork")
    sweep_everywhere(clinics)
    assert actual(clinics) == expected(exposed)
    sweep_everywhere(clinics)
    assert actual(clinics) == expected(exposed)


def test_killing_the_pool_process_mid_sweep_redelivers_without_duplicates(three_clinics, queue):
    clinics, exposed = three_clinics
    worker = start(queue, "prefork")
    with transaction.atomic():
        _hold(clinics["cx-b"], exposed["cx-b"])
        fan_out = sweep_all_coprescriptions.delay(now=NOW.isoformat())
        orphan = _blocked_backend()
        assert {slug for slug, _, _ in actual(clinics)} == {"cx-a"}  # A committed, B blocked, C waiting
        killed = worker.kill_pool_child()
        transaction.set_rollback(True)
    _end_orphan(orphan)
    assert fan_out.get(timeout=RESULT_TIMEOUT) == 3
    sweep_coprescriptions.delay(clinics["cx-a"].pk, now=NOW.isoformat()).get(timeout=RESULT_TIMEOUT)
    deadline = timezone.now() + dt.timedelta(seconds=RESULT_TIMEOUT)
    while timezone.now() < deadline and actual(clinics) != expected(exposed):
        time.sleep(0.3)
    assert actual(clinics) == expected(exposed), "redelivery after the kill missed or duplicated alerts"
    assert f"pid:{killed}" in worker.log_text()
    sweep_everywhere(clinics)
    assert actual(clinics) == expected(exposed)


def test_killing_the_whole_worker_then_the_next_run_completes(three_clinics, queue):
    clinics, exposed = three_clinics
    worker = start(queue, "solo")
    with transaction.atomic():
        _hold(clinics["cx-b"], exposed["cx-b"])
        sweep_all_coprescriptions.delay(now=NOW.isoformat())
        orphan = _blocked_backend()
        worker.kill()
        transaction.set_rollback(True)
    _end_orphan(orphan)
    done = actual(clinics)
    assert {slug for slug, _, _ in done} == {"cx-a"} and all(n == 1 for n in done.values())
    start(queue, "prefork")
    sweep_everywhere(clinics)
    assert actual(clinics) == expected(exposed)
