"""Shell pages: home (clinic chooser), the idle-session probe, /healthz. "Today" lives in `workspace`."""

from __future__ import annotations

import time

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
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {}


def _redis() -> dict:
    cache.set("healthz", "1", timeout=10)
    if cache.get("healthz") != "1":
        raise RuntimeError("read back failed")
    return {}


def _worker() -> dict:
    from clinic.celery import app

    replies = app.control.ping(timeout=0.5) or []
    beat = cache.get(HEARTBEAT_KEY)
    age = None if beat is None else round(time.time() - beat)
    if not replies:
        raise RuntimeError("no worker answered")
    return {
        "workers": len(replies),
        "last_heartbeat_age_s": age,
        "beat_ok": age is not None and age < WORKER_STALE_AFTER,
    }


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check(_database), "redis": _check(_redis), "worker": _check(_worker)}
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks}, status=200 if healthy else 503
    )
