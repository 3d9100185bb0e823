"""Platform pages outside any one clinic's data: home (clinic chooser), the clinic dashboard, /healthz."""

from __future__ import annotations

import time

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from clinic.jobs.tasks import HEARTBEAT_KEY
from clinic.tenancy.access import require_perm
from clinic.tenancy.middleware import ACTIVE_CLINIC_SESSION_KEY
from clinic.tenancy.models import Membership
from clinic.tenancy.roles import Perm
from patients.selectors import patient_census

WORKER_STALE_AFTER = 180  # seconds; beat sends a heartbeat every 60


@login_required
def home(request: HttpRequest) -> HttpResponse:
    memberships = list(Membership.objects.active().filter(user=request.user).select_related("clinic"))
    active = request.session.get(ACTIVE_CLINIC_SESSION_KEY)
    slugs = [m.clinic.slug for m in memberships]
    if active in slugs:
        return redirect("clinic-dashboard", clinic_slug=active)
    if len(memberships) == 1:
        return redirect("clinic-dashboard", clinic_slug=slugs[0])
    return render(request, "home.html", {"memberships": memberships})


@require_perm(Perm.PATIENT_VIEW)
def dashboard(request: HttpRequest) -> HttpResponse:
    census = cache.get(f"census:{request.clinic.pk}") or patient_census()
    return render(request, "dashboard.html", {"census": census})


def _check(fn) -> dict:
    started = time.perf_counter()
    try:
        detail = fn()
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), **(detail or {})}
    except Exception as error:  # noqa: BLE001 - a health check reports any failure
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
    return {"workers": len(replies), "last_heartbeat_age_s": age, "beat_ok": age is not None and age < WORKER_STALE_AFTER}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check(_database), "redis": _check(_redis), "worker": _check(_worker)}
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", "checks": checks}, status=200 if healthy else 503)
