"""Idle sign-out and the clinic's MFA requirement."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

LAST_SEEN_KEY = "stepdown_last_seen"


def idle_timeout_seconds(user) -> int:
    """The strictest timeout among the person's clinics (a session spans them all)."""
    from clinic.tenancy.models import Membership

    minutes = (
        Membership.objects.active()
        .filter(user=user)
        .order_by("clinic__idle_timeout_minutes")
        .values_list("clinic__idle_timeout_minutes", flat=True)
        .first()
    )
    return 60 * (minutes or settings.DEFAULT_IDLE_TIMEOUT_MINUTES)


class IdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            last_seen = request.session.get(LAST_SEEN_KEY)
            timeout = request.session.get("stepdown_idle_timeout")
            if timeout is None:
                timeout = idle_timeout_seconds(request.user)
                request.session["stepdown_idle_timeout"] = timeout
            if last_seen is not None and now - last_seen > timeout:
                logout(request)
                messages.info(request, "You were signed out after a period of inactivity.")
                return redirect_to_login(request.get_full_path())
            # htmx polling must not keep an unattended screen signed in.
            if not request.headers.get("X-Stepdown-Background"):
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)


class RequireMfaMiddleware:
    """A clinic that requires MFA is closed to members without an authenticator until they enrol."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        clinic = getattr(request, "clinic", None)
        if clinic is None or not clinic.require_mfa or not request.user.is_authenticated:
            return None
        from allauth.mfa.models import Authenticator

        if Authenticator.objects.filter(user=request.user, type=Authenticator.Type.TOTP).exists():
            return None
        messages.warning(request, f"{clinic.name} requires two-factor authentication. Set up an authenticator app to continue.")
        return redirect(reverse("mfa_activate_totp") + f"?next={request.get_full_path()}")
