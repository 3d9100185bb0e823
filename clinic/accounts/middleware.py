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

from clinic.tenancy.middleware import forget_memberships, memberships_of

LAST_SEEN_KEY = "stepdown_last_seen"
TIMEOUT_KEY = "stepdown_idle_timeout"  # seconds; also read by the idle warning (web_views, base.html)
TIMEOUT_CHECKED_KEY = "stepdown_idle_timeout_checked"
AFTER_MFA_KEY = "stepdown_after_mfa"  # where to go once the required authenticator is set up
TIMEOUT_RECHECK_SECONDS = 60  # a clinic's new timeout reaches open sessions within a minute
# The "last seen" stamp is rewritten at most once a minute: a session row is saved (a second transaction,
# after the view's) only when something changed, not on every request. The idle sign-out therefore comes
# up to a minute early, never late.
LAST_SEEN_RESOLUTION_SECONDS = 60
BACKGROUND_HEADER = "X-Stepdown-Background"
API_PREFIX = "/api/"


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


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    """htmx swaps a plain redirect's page into a fragment; ask it to navigate instead."""
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


class IdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def _timeout(self, request: HttpRequest, now: float) -> int:
        cached = request.session.get(TIMEOUT_KEY)
        checked = request.session.get(TIMEOUT_CHECKED_KEY) or 0
        if cached is not None and now - checked < TIMEOUT_RECHECK_SECONDS:
            return int(cached)
        # From the request's one read of the memberships (ClinicMiddleware and the switcher reuse it).
        minutes = min((m.clinic.idle_timeout_minutes for m in memberships_of(request)), default=None)
        timeout = 60 * (minutes or settings.DEFAULT_IDLE_TIMEOUT_MINUTES)
        if timeout != cached:
            request.session[TIMEOUT_KEY] = timeout
        request.session[TIMEOUT_CHECKED_KEY] = now
        return timeout

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            last_seen = request.session.get(LAST_SEEN_KEY)
            # Also on the first request, so the two stamps (timeout checked, last seen) fall due together.
            timeout = self._timeout(request, now)
            if last_seen is not None and now - last_seen > timeout:
                logout(request)
                forget_memberships(request)  # read for the person just signed out
                if request.path_info.startswith(API_PREFIX):
                    # An API caller is not a browser: no redirect to the sign-in page. Signed out, the call
                    # goes on without a session and the API answers 401 problem+json like any other.
                    return self.get_response(request)
                messages.info(
                    request, "You were signed out after a period of inactivity. Sign in again to continue."
                )
                return _redirect(request, redirect_to_login(request.get_full_path()).url)
            # htmx polling must not keep an unattended screen signed in.
            stale = last_seen is None or now - last_seen >= LAST_SEEN_RESOLUTION_SECONDS
            if stale and not request.headers.get(BACKGROUND_HEADER):
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)


def mfa_requirement_unmet(user, clinic) -> bool:
    """True when `clinic` requires MFA and `user` has no authenticator app. (Also for API session auth.)"""
    if clinic is None or not clinic.require_mfa or not user.is_authenticated:
        return False
    from allauth.mfa.models import Authenticator

    return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


class RequireMfaMiddleware:
    """A clinic that requires MFA is closed to members without an authenticator until they enrol.

    It acts only on clinic pages (`request.clinic` is set), so the enrolment pages under /accounts/,
    sign-out and password change stay reachable and the redirect cannot loop.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        clinic = getattr(request, "clinic", None)
        if not mfa_requirement_unmet(request.user, clinic):
            return None
        if request.method == "GET":
            request.session[AFTER_MFA_KEY] = request.get_full_path()
        messages.warning(
            request,
            f"{clinic.name} requires two-factor authentication. Set up an authenticator app to continue.",
        )
        return _redirect(request, reverse("mfa_activate_totp"))
