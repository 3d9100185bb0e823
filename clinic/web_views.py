"""Shell pages: home (clinic chooser), the idle-session probe, /healthz. "Today" lives in `workspace`."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from clinic.accounts.middleware import LAST_SEEN_KEY, idle_timeout_seconds
from clinic.jobs.tasks import HEARTBEAT_KEY
from clinic.tenancy.middleware import ACTIVE_CLINIC_SESSION_KEY
from clinic.tenancy.models import Membership
from clinic.tenancy.roles import role_labels

IDLE_TIMEOUT_SESSION_KEY = "stepdown_idle_timeout"  # written by IdleTimeoutMiddleware

WORKER_STALE_AFTER = 180  # seconds; beat sends a heartbeat every 60
WORKER_REPLY_TIMEOUT = 1.0  # seconds /healthz waits for workers to say which queues they consume
PROCESS_STARTED = time.monotonic()  # the start-up grace of /healthz counts from here


@login_required
def home(request: HttpRequest) -> HttpResponse:
    memberships = list(Membership.objects.of(request.user))
    active = request.session.get(ACTIVE_CLINIC_SESSION_KEY)
    slugs = [m.clinic.slug for m in memberships]
    if active in slugs:
        return redirect("clinic-dashboard", clinic_slug=active)
    if len(memberships) == 1:
        return redirect("clinic-dashboard", clinic_slug=slugs[0])
    choices = [(m, role_labels(m.roles)) for m in memberships]
    return render(request, "home.html", {"memberships": memberships, "choices": choices})


@never_cache
@require_http_methods(["GET", "POST"])
def session_idle(request: HttpRequest) -> JsonResponse:
    """Seconds left before the idle sign-out, for the warning banner.

    GET with `X-Stepdown-Background: 1` only asks (IdleTimeoutMiddleware does not count it as activity);
    POST ("Stay signed in") is activity, so the middleware has just renewed the session.
    """
    if not request.user.is_authenticated:
        return JsonResponse({"signed_in": False, "remaining": 0}, status=401)
    timeout = int(request.session.get(IDLE_TIMEOUT_SESSION_KEY) or idle_timeout_seconds(request.user))
    last_seen = request.session.get(LAST_SEEN_KEY) or time.time()
    remaining = max(0, round(timeout - (time.time() - last_seen)))
    return JsonResponse({"signed_in": True, "timeout": timeout, "remaining": remaining})


def _check(fn) -> dict:
    started = time.perf_counter()
    try:
        detail = fn()
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), **(detail or {})}
    except Unhealthy as problem:
        return {"ok": False, "error": str(problem), **problem.detail}
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}


class Unhealthy(RuntimeError):
    def __init__(self, message: str, **detail) -> None:
        super().__init__(message)
        self.detail = detail


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {}


def _redis() -> dict:
    # The cache fails open (clinic/cache.py), so ask Redis itself.
    cache.ping()
    return {}


def _worker() -> dict:
    """A worker that consumes THIS queue: `control.ping` is answered by any worker on the broker."""
    from clinic.celery import app

    queue = app.conf.task_default_queue
    replies = app.control.inspect(timeout=WORKER_REPLY_TIMEOUT).active_queues() or {}
    serving = sorted(
        node for node, queues in replies.items() if any(q.get("name") == queue for q in queues or ())
    )
    if not serving:
        raise Unhealthy(f"no worker consumes the queue {queue!r}", queue=queue, other_workers=len(replies))
    return {"queue": queue, "workers": len(serving)}


def _beat() -> dict:
    """Beat sends the heartbeat every minute and a worker of this queue records it: fresh, both are alive."""
    beat = cache.get(HEARTBEAT_KEY)
    age = None if beat is None else round(time.time() - beat)
    if age is None or age >= WORKER_STALE_AFTER:
        raise Unhealthy("no recent heartbeat from beat", last_heartbeat_age_s=age)
    return {"last_heartbeat_age_s": age}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """ok (200) when every check passes. A failing check is "degraded" (503), except in the first
    HEALTHZ_STARTUP_GRACE seconds of this process, when a missing worker or heartbeat is "starting" (200):
    beat's first heartbeat and a worker's first reply take a while. Database and Redis are never excused."""
    checks = {
        "database": _check(_database),
        "redis": _check(_redis),
        "worker": _check(_worker),
        "beat": _check(_beat),
    }
    if all(check["ok"] for check in checks.values()):
        status = "ok"
    elif (
        checks["database"]["ok"]
        and checks["redis"]["ok"]
        and time.monotonic() - PROCESS_STARTED < settings.HEALTHZ_STARTUP_GRACE
    ):
        status = "starting"
    else:
        status = "degraded"
    return JsonResponse({"status": status, "checks": checks}, status=503 if status == "degraded" else 200)
