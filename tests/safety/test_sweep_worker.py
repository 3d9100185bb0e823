"""The missed-check-in sweep on a real Celery worker, across four clinics in four time zones.

Clinics: Auckland, London (cut-off 09:00), Los Angeles and New York (cut-off 20:00). The beat task
`sweep_all_clinics` runs with an explicit `now` three times:

  NOW1 2026-03-09 12:00Z  New York / Los Angeles: 6-8 March (clocks went forward on the 8th);
                          London, Auckland: 7-9 March
  NOW2 2026-03-30 12:00Z  London: 28-30 March (BST began on the 29th); others 27-29 / 28-30 March
  NOW3 2026-04-06 12:00Z  Auckland: 4-6 April (NZ summer time ended on the 5th); others 3-5 / 4-6 April

The expected days below are written out by hand, not computed by the code under test. Edge patients
have a link created or expiring between the correct cut-off instant of a daylight-saving day and the
instant a fixed-offset calculation would give, so a DST mistake adds or drops an alert.

The worker is another process and sees only committed rows: these tests use a transactional database.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter
from datetime import UTC

import pytest
from django.db import connection, transaction

from clinic.tenancy.context import tenant_context
from patients.models import Patient
from safety.models import Alert
from safety.tasks import sweep_all_clinics, sweep_clinic
from tests.conftest import make_clinic, make_patient
from tests.safety.sweep_factories import make_checkin, make_link
from tests.safety.sweep_worker import Worker, forget_queue

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

RESULT_TIMEOUT = 60
BLOCKER = "test: holds one dedup key"


def z(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def mar(*days):
    return [dt.date(2026, 3, d) for d in days]


def apr(*days):
    return [dt.date(2026, 4, d) for d in days]


NOW1, NOW2, NOW3 = z(2026, 3, 9, 12), z(2026, 3, 30, 12), z(2026, 4, 6, 12)
CLINICS = {
    # slug: (name (fan-out order), time zone, cut-off, DST day, days due at NOW1, NOW2, NOW3)
    "akl": ("A Auckland", "Pacific/Auckland", dt.time(20), apr(5),
            (mar(7, 8, 9), mar(28, 29, 30), apr(4, 5, 6))),
    "lon": ("B London", "Europe/London", dt.time(9), mar(29),
            (mar(7, 8, 9), mar(28, 29, 30), apr(4, 5, 6))),
    "lax": ("C Los Angeles", "America/Los_Angeles", dt.time(20), mar(8),
            (mar(6, 7, 8), mar(27, 28, 29), apr(3, 4, 5))),
    "nyc": ("D New York", "America/New_York", dt.time(20), mar(8),
            (mar(6, 7, 8), mar(27, 28, 29), apr(3, 4, 5))),
}  # fmt: skip
LINK_FROM, LINK_TO = z(2026, 3, 1), z(2026, 5, 1)
EDGE_PATIENTS = {
    # Auckland 5 April: 20:00 NZST = 08:00Z (a NZDT offset would say 07:00Z). Expires 07:30Z: not enrolled.
    "akl": ({"expires_at": z(2026, 4, 5, 7, 30)}, lambda due: due[0] + due[1] + apr(4)),
    # London 29 March: 09:00 BST = 08:00Z (GMT would say 09:00Z). Created 08:30Z: not enrolled that day.
    "lon": ({"created_at": z(2026, 3, 29, 8, 30)}, lambda due: mar(30) + due[2]),
    # Los Angeles 8 March: 20:00 PDT = 03:00Z on the 9th (PST would say 04:00Z). Expires 03:30Z: enrolled.
    "lax": ({"expires_at": z(2026, 3, 9, 3, 30)}, lambda due: due[0]),
    # New York 8 March: 20:00 EDT = 00:00Z on the 9th (EST would say 01:00Z). Created 00:30Z: not enrolled.
    "nyc": ({"created_at": z(2026, 3, 9, 0, 30)}, lambda due: due[1] + due[2]),
}


@pytest.fixture
def four_clinics(db):
    """Returns {slug: clinic}, and {(clinic slug, patient id): expected missed days for each now}."""
    from safety.selectors import safety_settings

    clinics, expected = {}, {}
    for slug, (name, tz, cutoff, dst_day, due) in CLINICS.items():
        clinic = clinics[slug] = make_clinic(f"sweep-{slug}", name=name, timezone=tz)
        with tenant_context(clinic):
            settings = safety_settings()
            settings.checkin_cutoff = cutoff
            settings.save()

        steady = make_patient(clinic, first_name="Steady")
        link = make_link(steady, created_at=LINK_FROM, expires_at=LINK_TO)
        for day in dst_day:  # checked in on the daylight-saving day, and only then
            make_checkin(steady, link, day)
        silent = make_patient(clinic, first_name="Silent")
        make_link(silent, created_at=LINK_FROM, expires_at=LINK_TO)
        revoked = make_patient(clinic, first_name="Revoked")
        make_link(revoked, created_at=LINK_FROM, expires_at=LINK_TO, revoked_at=z(2026, 3, 20, 12))
        make_patient(clinic, first_name="Unenrolled")
        edge = make_patient(clinic, first_name="Edge")
        overrides, edge_days = EDGE_PATIENTS[slug]
        make_link(edge, **({"created_at": LINK_FROM, "expires_at": LINK_TO} | overrides))

        for k in range(3):
            expected[(slug, steady.pk, k)] = [d for d in due[k] if d not in dst_day]
            expected[(slug, silent.pk, k)] = list(due[k])
            expected[(slug, revoked.pk, k)] = list(due[k]) if k == 0 else []
            expected[(slug, edge.pk, k)] = [d for d in edge_days(due) if d in due[k]]
    return clinics, expected


def expected_alerts(expected, runs) -> Counter:
    return Counter(
        (slug, str(pid), day.isoformat())
        for (slug, pid, k), days in expected.items()
        if k in runs
        for day in days
    )


def actual_alerts(clinics) -> Counter:
    found = Counter()
    for slug, clinic in clinics.items():
        with tenant_context(clinic):
            rows = Alert.objects.filter(rule_id="checkin_missed").exclude(title=BLOCKER)
            for patient_id, evidence in rows.values_list("patient_id", "evidence"):
                found[(slug, str(patient_id), evidence["local_date"])] += 1
    return found


@pytest.fixture
def queue():
    """A queue of this test's own; the test process sends to it for the test's duration."""
    from clinic.celery import app

    name = f"{app.conf.task_default_queue}.sweep.{uuid.uuid4().hex[:8]}"
    previous = app.conf.CELERY_TASK_DEFAULT_QUEUE
    app.conf.CELERY_TASK_DEFAULT_QUEUE = name
    workers: list[Worker] = []
    try:
        yield name, workers
    finally:
        app.conf.CELERY_TASK_DEFAULT_QUEUE = previous
        for worker in workers:
            worker.stop()
            worker.log.unlink(missing_ok=True)
        forget_queue(name)


def start(queue, pool: str) -> Worker:
    name, workers = queue
    worker = Worker(name, pool)
    workers.append(worker)
    return worker.start()


def sweep_everywhere(now: dt.datetime, clinics) -> None:
    """The beat task, then a marker task: one worker process runs its queue in order, so once the marker
    has run, so has every clinic's sweep the fan-out queued before it."""
    assert sweep_all_clinics.delay(now=now.isoformat()).get(timeout=RESULT_TIMEOUT) == len(clinics)
    sweep_clinic.delay(clinics["akl"].pk, now=now.isoformat()).get(timeout=RESULT_TIMEOUT)


def test_one_alert_per_missed_checkin_across_time_zones_and_dst(four_clinics, queue):
    clinics, expected = four_clinics
    start(queue, "prefork")

    for now in (NOW1, NOW2, NOW3):
        sweep_everywhere(now, clinics)
    want = expected_alerts(expected, {0, 1, 2})
    assert actual_alerts(clinics) == want
    assert sum(want.values()) == 100  # Auckland 27, London 24, Los Angeles 23, New York 26

    for now in (NOW1, NOW2, NOW3):  # the beat runs again: nothing new
        sweep_everywhere(now, clinics)
    assert actual_alerts(clinics) == want


# --- killing the worker mid-sweep --------------------------------------------------------------------------
def _blocked_backend(timeout: float = RESULT_TIMEOUT) -> int:
    """The pid of the worker's database session once it waits on our uncommitted row."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else one snapshot per transaction
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
            )
            row = cursor.fetchone()
            if row:
                return row[0]
            time.sleep(0.1)
    raise AssertionError("the sweep never reached the blocked insert")


def _hold_one_dedup_key(clinic, patient_id, day: dt.date) -> None:
    """Insert (uncommitted) an alert with the dedup key the London sweep will insert: its INSERT … ON
    CONFLICT then waits for this transaction, so the worker is stopped in the middle of that clinic."""
    with tenant_context(clinic):
        Alert.objects.create(
            patient_id=patient_id,
            rule_id="checkin_missed",
            severity="moderate",
            title=BLOCKER,
            source="test",
            dedup_key=f"checkin_missed:{patient_id}:{day.isoformat()}",
            occurred_at=NOW1,
        )


def _end_orphan(pid: int) -> None:
    """A killed worker's session ends once it is no longer blocked; end it ourselves if it lingers."""
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone() is None:
                return
            time.sleep(0.2)
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def _wait_for(clinics, want: Counter) -> None:
    deadline = time.monotonic() + RESULT_TIMEOUT
    while time.monotonic() < deadline and sum(actual_alerts(clinics).values()) < sum(want.values()):
        time.sleep(0.3)


def _silent_london_patient(clinics):
    with tenant_context(clinics["lon"]):
        return Patient.objects.get(first_name="Silent").pk


def test_killing_the_pool_process_mid_sweep_redelivers_it(four_clinics, queue):
    clinics, expected = four_clinics
    worker = start(queue, "prefork")
    want = expected_alerts(expected, {0})

    with transaction.atomic():
        _hold_one_dedup_key(clinics["lon"], _silent_london_patient(clinics), dt.date(2026, 3, 9))
        fan_out = sweep_all_clinics.delay(now=NOW1.isoformat())
        orphan = _blocked_backend()
        # Auckland's sweep has committed, London's is half-way through its INSERT, the others wait.
        assert {slug for slug, _, _ in actual_alerts(clinics)} == {"akl"}
        killed = worker.kill_pool_child()
        transaction.set_rollback(True)  # our blocking row never existed
    _end_orphan(orphan)
    assert fan_out.get(timeout=RESULT_TIMEOUT) == 4

    _wait_for(clinics, want)
    sweep_clinic.delay(clinics["akl"].pk, now=NOW1.isoformat()).get(timeout=RESULT_TIMEOUT)
    assert actual_alerts(clinics) == want, "redelivery after the kill missed or duplicated alerts"
    log = worker.log_text()
    assert f"pid:{killed}" in log and "SIGKILL" in log, log[-3000:]

    sweep_everywhere(NOW1, clinics)  # and re-running changes nothing
    assert actual_alerts(clinics) == want


def test_killing_the_whole_worker_mid_sweep_then_re_running(four_clinics, queue):
    clinics, expected = four_clinics
    worker = start(queue, "solo")
    want = expected_alerts(expected, {0})

    with transaction.atomic():
        _hold_one_dedup_key(clinics["lon"], _silent_london_patient(clinics), dt.date(2026, 3, 9))
        sweep_all_clinics.delay(now=NOW1.isoformat())
        orphan = _blocked_backend()
        worker.kill()
        transaction.set_rollback(True)
    _end_orphan(orphan)
    done = actual_alerts(clinics)
    assert {slug for slug, _, _ in done} == {"akl"}, "only the clinic swept before the kill has alerts"
    assert all(count == 1 for count in done.values())

    start(queue, "prefork")  # the beat's next run, on a fresh worker
    sweep_everywhere(NOW1, clinics)
    assert actual_alerts(clinics) == want
    sweep_everywhere(NOW1, clinics)
    assert actual_alerts(clinics) == want
