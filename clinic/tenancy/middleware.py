"""Resolve the clinic from `/c/<slug>/…`, check membership, and run the whole request inside it."""

from __future__ import annotations

import re
import zoneinfo

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Membership

CLINIC_PATH = re.compile(r"^/c/(?P<slug>[a-z0-9-]+)/")
ACTIVE_CLINIC_SESSION_KEY = "stepdown_active_clinic"
_MEMBERSHIPS_ATTR = "_stepdown_memberships"


def memberships_of(request: HttpRequest) -> list[Membership]:
    """The signed-in person's active memberships with their clinics, read once per request.

    The idle timeout, this middleware, the clinic switcher and the API's session path all need them; one
    query serves them all (a person has a handful of clinics)."""
    found = getattr(request, _MEMBERSHIPS_ATTR, None)
    if found is None:
        user = getattr(request, "user", None)
        found = list(Membership.objects.of(user)) if user is not None and user.is_authenticated else []
        setattr(request, _MEMBERSHIPS_ATTR, found)
    return found


def forget_memberships(request: HttpRequest) -> None:
    """After a sign-out in the middle of a request: the next read is for the anonymous user."""
    request.__dict__.pop(_MEMBERSHIPS_ATTR, None)


def membership_in(request: HttpRequest, clinic_slug: str) -> Membership | None:
    """The person's membership of the clinic named in a URL or header; None for non-members."""
    return next((m for m in memberships_of(request) if m.clinic.slug == clinic_slug), None)


class ClinicMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.clinic = None
        request.membership = None
        match = CLINIC_PATH.match(request.path_info)
        if match is None:
            return self.get_response(request)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        membership = membership_in(request, match["slug"])
        if membership is None:
            # Not "forbidden": nothing about another clinic's existence leaks.
            raise Http404("No such clinic")
        request.clinic = membership.clinic
        request.membership = membership
        if request.session.get(ACTIVE_CLINIC_SESSION_KEY) != membership.clinic.slug:
            request.session[ACTIVE_CLINIC_SESSION_KEY] = membership.clinic.slug
        # Times on clinic pages read in the clinic's own time zone, whatever the server's.
        clinic_zone = zoneinfo.ZoneInfo(membership.clinic.timezone)
        with tenant_context(membership.clinic), timezone.override(clinic_zone):
            return self.get_response(request)
