"""Real Celery workers the sweep tests may kill: started like tests/clinic/jobs/worker.py (a subprocess on the
test database, as the application role, on a queue of its own), but owned by one test, so SIGKILL is allowed.

- `prefork` worker: SIGKILL its pool child mid-task and the parent sees WorkerLostError; with acks_late and
  reject_on_worker_lost the message goes back on the queue and runs again.
- `solo` worker: SIGKILL the whole process; its message stays unacknowledged in Redis until the broker's
  visibility timeout, so the test re-runs the sweep on a fresh worker (and removes the stale message).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.clinic.jobs.worker import ROOT, _wait_until_answering, _worker_env


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid …: comm may contain spaces, so split after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


class Worker:
    def __init__(self, queue: str, pool: str) -> None:
        self.queue, self.pool = queue, pool
        self.node = f"{queue}.{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
        self.log = Path(tempfile.mkstemp(prefix="celery-sweep-worker-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        from clinic.celery import app

        command = [
            sys.executable, "-m", "celery", "-A", "clinic", "worker",
            f"--pool={self.pool}", "--concurrency=1", "-Q", self.queue, "-n", self.node,
            "--without-gossip", "--without-mingle", "--loglevel=INFO",
        ]  # fmt: skip
        with self.log.open("a") as output:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=_worker_env(self.queue), stdout=output, stderr=subprocess.STDOUT
            )
        _wait_until_answering(app, self.node, self.process, self.log)
        return self

    def pool_child(self) -> int:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            children = _children(self.process.pid)
            if children:
                return children[0]
            time.sleep(0.1)
        raise RuntimeError(f"no pool process under worker {self.process.pid}")

    def kill_pool_child(self) -> int:
        child = self.pool_child()
        os.kill(child, signal.SIGKILL)
        return child

    def kill(self) -> None:
        """SIGKILL the worker itself (solo pool: the process running the task)."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def forget_queue(queue: str) -> None:
    """Remove what a killed worker left in Redis for this queue only: its unacknowledged messages (which the
    broker would otherwise restore after the visibility timeout), the queue list and its binding."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    for tag, raw in client.hscan_iter("unacked"):
        try:
            _payload, _exchange, routing_key = json.loads(raw)
        except (ValueError, TypeError):
            continue
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
