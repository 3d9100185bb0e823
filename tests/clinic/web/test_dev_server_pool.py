"""`dev.py run`'s web server holds a bounded number of Postgres connections, whatever the number of sockets.

runserver served each client socket on its own thread, each with a persistent connection (CONN_MAX_AGE=60):
433 requests held 86-89 of the server's 100 backends. This starts the very command `dev.py run` starts
(`dev.web_command`) on the test database, with the development CONN_MAX_AGE, opens 50 keep-alive sockets,
sends one request on each (a session cookie, so each request reads the session table), leaves them idle, and
counts the backends connected to the test database.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.clinic.jobs.worker import ROOT, _worker_env

pytestmark = pytest.mark.django_db(transaction=True)

SOCKETS = 50
START_TIMEOUT = 60


def _dev_module():
    spec = importlib.util.spec_from_file_location("stepdown_dev", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def _request(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(
        b"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n"
        b"Cookie: sessionid=abcdefghijklmnopqrstuvwxyz012345\r\n\r\n"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(65536)
        if not chunk:
            break
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    return sock


@pytest.fixture
def dev_web_server():
    dev = _dev_module()
    port = _free_port()
    env = {**_worker_env(settings.CELERY_TASK_DEFAULT_QUEUE), "STEPDOWN_ENV": "development", "DEBUG": "false"}
    env.pop("DB_CONN_MAX_AGE")  # the development default (60 s): persistent connections, as `dev.py run` has
    log = Path(tempfile.mkstemp(prefix="dev-web-", suffix=".log")[1])
    with log.open("w") as output:
        process = subprocess.Popen(
            dev.web_command(port),
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                _request(port).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"the web server did not answer:\n{log.read_text()[-3000:]}"
                    ) from None
                time.sleep(0.3)
        yield port, dev.WEB_WORKERS * dev.WEB_THREADS
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.unlink(missing_ok=True)


def test_fifty_idle_keep_alive_sockets_hold_a_bounded_number_of_connections(dev_web_server, capsys):
    port, capacity = dev_web_server
    sockets = [_request(port) for _ in range(SOCKETS)]
    try:
        time.sleep(0.5)
        held = _backends()
    finally:
        for sock in sockets:
            sock.close()
    with capsys.disabled():
        print(f"\n[dev web] {SOCKETS} idle keep-alive sockets: {held} backends on the test database")
    assert held <= capacity + 2, f"{held} backends for {SOCKETS} idle sockets (capacity {capacity})"
