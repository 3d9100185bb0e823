"""Redis stops mid-run: sign-in, pages and API writes keep working; the alert comes once Redis is back, once.

A private `redis-server` on a free port (never the shared 6379) carries this module's cache, broker and
results; a real Celery worker (solo pool) consumes a queue of its own on it. The test stops that Redis,
saves a crisis-range blood pressure over the API, signs in, opens the dashboard and /healthz, starts Redis
again, lets the worker drain the outbox, and counts the alerts. The worker is another process: the database
is transactional (committed rows, flushed afterwards).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.celery import app
from clinic.jobs import outbox
from clinic.jobs.models import OutboxTask
from clinic.jobs.tasks import drain_all_outboxes
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from safety.models import Alert
from tests.conftest import PASSWORD, make_member, make_patient, token_client
from tests.safety.sweep_worker import Worker

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

SAVE_BOUND_S = 5.0  # generous: the point is "no 19 s publish retries", not a latency target
ALERT_TIMEOUT_S = 90


class PrivateRedis:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"private redis-server on {self.port} did not answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _point_celery_at(url: str) -> None:
    """Broker and results of this process to `url`: forget (never close) the pools of the previous URL; kombu
    keeps them in a registry by URL, and the rest of the run takes the shared one back from there."""
    app.conf.CELERY_BROKER_URL = url
    app.conf.CELERY_RESULT_BACKEND = url
    app._pool = None
    app.amqp._producer_pool = None
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@pytest.fixture
def private_redis(settings):
    redis = PrivateRedis()
    redis.start()
    conf = app.conf
    previous = (conf.CELERY_BROKER_URL, conf.CELERY_RESULT_BACKEND, conf.CELERY_TASK_DEFAULT_QUEUE)
    settings.REDIS_URL = settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = redis.url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": redis.url}}  # caches reset
    _point_celery_at(redis.url)
    app.conf.CELERY_TASK_DEFAULT_QUEUE = f"{previous[2]}.outage.{uuid.uuid4().hex[:6]}"
    try:
        yield redis
    finally:
        redis.stop()
        _point_celery_at(previous[0])
        app.conf.CELERY_RESULT_BACKEND = previous[1]
        app.conf.CELERY_TASK_DEFAULT_QUEUE = previous[2]
        outbox._broker_down_until = 0.0  # later tests in this process publish at once again


@pytest.fixture
def worker(private_redis):
    started = Worker(app.conf.CELERY_TASK_DEFAULT_QUEUE, "solo").start()  # env from the settings above
    yield started
    started.stop()


def _crisis_reading(patient) -> str:
    return json.dumps(
        {
            "patient": str(patient.pk),
            "taken_at": timezone.now().isoformat(),
            "taken_by": "Device MX-40",
            "source": "device",
            "position": "sitting",
            "values": {"systolic_bp": 186, "diastolic_bp": 122, "heart_rate": 88},
            "confirm_unusual": True,
        }
    )


def _alerts(clinic, patient) -> list[str]:
    with tenant_context(clinic):
        return list(Alert.objects.filter(patient=patient).values_list("rule_id", flat=True))


def _wait_for_alerts(clinic, patient, worker) -> list[str]:
    deadline = time.monotonic() + ALERT_TIMEOUT_S
    while time.monotonic() < deadline:
        if found := _alerts(clinic, patient):
            return found
        time.sleep(0.5)
    raise AssertionError(f"no alert within {ALERT_TIMEOUT_S}s; worker log:\n{worker.log_text()[-4000:]}")


def _runs(worker, task_id, count: int = 1) -> list[str]:
    """The results of the worker's runs of `task_id`, from its log (a re-sent task keeps its id)."""
    pattern = re.compile(rf"\[{task_id}\] succeeded in [0-9.]+s: (\S+)")
    deadline = time.monotonic() + ALERT_TIMEOUT_S
    while len(found := pattern.findall(worker.log_text())) < count and time.monotonic() < deadline:
        time.sleep(0.3)
    return found


def test_a_reading_saved_while_redis_is_down_gets_its_alert_once_redis_returns(
    clinic_a, private_redis, worker, capsys
):
    patient = make_patient(clinic_a)
    nurse = make_member(clinic_a, Role.NURSE)
    api = token_client(clinic_a, Role.NURSE, name="Bedside monitor")
    cache.set("outage-probe", "1")
    assert cache.get("outage-probe") == "1", "the cache is not on the private Redis"

    # Redis up: a normal reading's evaluation is published right after the commit and its row marked sent.
    normal = json.loads(_crisis_reading(patient))
    normal["values"] = {"systolic_bp": 122, "diastolic_bp": 78, "heart_rate": 70}
    assert (
        api.post("/api/v1/vital-readings/", json.dumps(normal), content_type="application/json").status_code
        == 201
    )
    with tenant_context(clinic_a):
        [first] = OutboxTask.objects.all()
    assert first.sent_at is not None and first.task == "safety.tasks.evaluate_patient"

    private_redis.stop()

    # The API write: committed, answered quickly, its evaluation recorded in the outbox.
    started = time.perf_counter()
    response = api.post("/api/v1/vital-readings/", _crisis_reading(patient), content_type="application/json")
    save_s = time.perf_counter() - started
    assert response.status_code == 201, response.content
    assert save_s < SAVE_BOUND_S, f"the save took {save_s:.1f}s with Redis down"
    with tenant_context(clinic_a):
        pending = list(OutboxTask.objects.filter(sent_at__isnull=True).values_list("task", flat=True))
    assert pending == ["safety.tasks.evaluate_patient"]
    assert _alerts(clinic_a, patient) == []

    # Sign-in (allauth's rate limiter fails open), the dashboard (census cache miss), /healthz.
    browser = Client()
    started = time.perf_counter()
    login = browser.post(reverse("account_login"), {"login": nurse.email, "password": PASSWORD})
    login_s = time.perf_counter() - started
    assert login.status_code == 302, login.content[:500]
    dashboard = browser.get(reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug}))
    assert dashboard.status_code == 200
    started = time.perf_counter()
    health = browser.get(reverse("healthz"))
    health_s = time.perf_counter() - started
    assert health.status_code == 503 and health.json()["checks"]["redis"]["ok"] is False

    private_redis.start()

    # Beat's job, sent now instead of within the minute; min_age 0 so the fresh row qualifies.
    drain_all_outboxes.delay(min_age_seconds=0)
    assert _wait_for_alerts(clinic_a, patient, worker) == ["bp_hypertensive_crisis"]
    with tenant_context(clinic_a):
        [row] = OutboxTask.objects.filter(task="safety.tasks.evaluate_patient").exclude(pk=first.pk)
    assert row.sent_at is not None
    assert _runs(worker, row.pk) == ["1"]  # the drained evaluation raised one alert

    # Drained twice: nothing is pending, nothing is sent again.
    with tenant_context(clinic_a):
        assert outbox.drain(min_age=timedelta(0))["sent"] == 0
    # Even a row sent twice (its "sent" mark lost) raises nothing new: the evaluation is idempotent.
    with tenant_context(clinic_a):
        OutboxTask.objects.filter(pk=row.pk).update(sent_at=None)
        assert outbox.drain(min_age=timedelta(0))["sent"] == 1
    assert _runs(worker, row.pk, count=2) == ["1", "0"]
    assert _alerts(clinic_a, patient) == ["bp_hypertensive_crisis"]

    with capsys.disabled():
        print(f"\n[redis outage] API save {save_s:.2f}s, login {login_s:.2f}s, healthz {health_s:.2f}s")
