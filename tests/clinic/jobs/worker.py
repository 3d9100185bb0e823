"""A real Celery worker for the job tests: a subprocess on the test database, as the application role.

It listens on a queue of its own, so a development worker on the same Redis never takes the tests'
tasks (and this worker never takes anyone else's). The test process is pointed at the same queue.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT = 60  # seconds for the worker to import Django and answer a ping


def _database_url(settings_dict: dict) -> str:
    user = quote(settings_dict["USER"] or "", safe="")
    password = quote(settings_dict["PASSWORD"] or "", safe="")
    host = settings_dict["HOST"] or "127.0.0.1"
    port = settings_dict["PORT"] or 5432
    return f"postgres://{user}:{password}@{host}:{port}/{settings_dict['NAME']}"


def _worker_env(queue: str) -> dict[str, str]:
    from django.conf import settings
    from django.db import connection

    owner = {**settings.DATABASE_OWNER, "NAME": connection.settings_dict["NAME"]}
    return {
        **os.environ,
        "STEPDOWN_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        # settings_dict names the test database once setup_databases has run.
        "DATABASE_URL": _database_url(connection.settings_dict),
        "DATABASE_OWNER_URL": _database_url(owner),
        "DB_CONN_MAX_AGE": "0",  # no idle connection left behind to block dropping the test database
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "CELERY_QUEUE": queue,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


def _wait_until_answering(app, node: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Celery worker exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        if app.control.ping(destination=[node], timeout=1.0):
            return
    raise RuntimeError(
        f"Celery worker {node} did not answer within {START_TIMEOUT}s:\n{log.read_text()[-4000:]}"
    )


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, django_db_blocker) -> Iterator[str]:
    """Start `celery worker --pool=solo` on a unique queue; yields the worker's node name.

    Module-scoped: a worker left running for the rest of the session would consume the tasks later tests
    enqueue on commit (e.g. alert e-mails) and race their database teardown."""
    from clinic.celery import app

    queue = f"{app.conf.task_default_queue}.pytest.{uuid.uuid4().hex[:8]}"
    node = f"{queue}@{socket.gethostname()}"
    with django_db_blocker.unblock():
        env = _worker_env(queue)
    log = Path(tempfile.mkstemp(prefix="celery-worker-", suffix=".log")[1])
    command = [
        sys.executable, "-m", "celery", "-A", "clinic", "worker",
        "--pool=solo", "--concurrency=1", "-Q", queue, "-n", node,
        "-I", "tests.clinic.jobs.probe_tasks", "--without-gossip", "--without-mingle", "--loglevel=INFO",
    ]  # fmt: skip
    previous_queue = app.conf.CELERY_TASK_DEFAULT_QUEUE
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        # The namespaced key is the one Celery reads (config_from_object(..., namespace="CELERY")).
        app.conf.CELERY_TASK_DEFAULT_QUEUE = queue
        _wait_until_answering(app, node, process, log)
        yield node
    finally:
        app.conf.CELERY_TASK_DEFAULT_QUEUE = previous_queue
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.unlink(missing_ok=True)
