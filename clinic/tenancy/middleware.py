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
        membership = Membership.objects.in_clinic(request.user, match["slug"])
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
