"""/healthz tells the truth: a worker must consume THIS queue, a stale beat degrades, start-up is "starting".

A real Celery worker (tests/clinic/jobs/worker.py) listens on this run's own queue; "another queue" is this
process pointed at a different queue name while that worker keeps listening on its own.
"""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.urls import reverse

from clinic import web_views
from clinic.celery import app
from clinic.jobs.tasks import HEARTBEAT_KEY

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db]


@pytest.fixture
def no_grace(settings):
    settings.HEALTHZ_STARTUP_GRACE = 0


@pytest.fixture
def other_queue():
    """This process publishes to (and asks about) a queue nobody consumes."""
    previous = app.conf.CELERY_TASK_DEFAULT_QUEUE
    app.conf.CELERY_TASK_DEFAULT_QUEUE = f"{previous}.nobody"
    yield
    app.conf.CELERY_TASK_DEFAULT_QUEUE = previous


def _health(client) -> tuple[int, dict]:
    response = client.get(reverse("healthz"))
    return response.status_code, response.json()


def test_ok_with_a_worker_on_this_queue_and_a_fresh_heartbeat(client, celery_worker, no_grace):
    cache.set(HEARTBEAT_KEY, time.time() - 5, timeout=600)
    status, body = _health(client)
    assert (status, body["status"]) == (200, "ok"), body
    assert body["checks"]["worker"]["queue"] == app.conf.task_default_queue
    assert body["checks"]["worker"]["workers"] == 1
    assert body["checks"]["beat"]["last_heartbeat_age_s"] <= 10


def test_a_worker_on_another_queue_is_not_this_queues_worker(client, celery_worker, no_grace, other_queue):
    cache.set(HEARTBEAT_KEY, time.time(), timeout=600)
    assert app.control.ping(timeout=1.0), "the worker must still answer a broker-wide ping"
    status, body = _health(client)
    assert (status, body["status"]) == (503, "degraded"), body
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["worker"]["other_workers"] >= 1


def test_no_worker_at_all_is_degraded(client, no_grace, other_queue):
    cache.set(HEARTBEAT_KEY, time.time(), timeout=600)
    status, body = _health(client)
    assert (status, body["status"]) == (503, "degraded"), body
    assert body["checks"]["worker"]["ok"] is False and body["checks"]["beat"]["ok"] is True


@pytest.mark.parametrize("heartbeat_age", [None, web_views.WORKER_STALE_AFTER + 30])
def test_a_stale_or_missing_beat_is_degraded(client, celery_worker, no_grace, heartbeat_age):
    if heartbeat_age is not None:
        cache.set(HEARTBEAT_KEY, time.time() - heartbeat_age, timeout=600)
    status, body = _health(client)
    assert (status, body["status"]) == (503, "degraded"), body
    assert body["checks"]["worker"]["ok"] is True
    beat = body["checks"]["beat"]
    assert (beat["ok"], beat["error"]) == (False, "no recent heartbeat from beat")
    age = beat["last_heartbeat_age_s"]
    assert age is None if heartbeat_age is None else age >= web_views.WORKER_STALE_AFTER


def test_just_started_is_starting_not_503(client, settings, monkeypatch, other_queue):
    settings.HEALTHZ_STARTUP_GRACE = 120
    monkeypatch.setattr(web_views, "PROCESS_STARTED", time.monotonic() - 3)
    status, body = _health(client)  # no worker, no heartbeat yet: what the first seconds look like
    assert (status, body["status"]) == (200, "starting"), body
    monkeypatch.setattr(web_views, "PROCESS_STARTED", time.monotonic() - 121)
    status, body = _health(client)
    assert (status, body["status"]) == (503, "degraded"), body
