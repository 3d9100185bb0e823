"""Django's error handlers for paths under /api/: a problem, not the HTML page.

The router's detail pattern (`[^/.]+`) does not match every id a client may send (`/api/v1/alerts/0.5/…`);
Django's resolver then answers 404 itself, before DRF, with the site's HTML page. Under /api/ the answer is
the same RFC 9457 problem DRF gives (api/errors.py), so the schema's 404 (application/problem+json) holds.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found as site_page_not_found

from api.errors import PROBLEM_TYPE


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not request.path.startswith("/api/"):
        return site_page_not_found(request, exception)
    body = {"type": PROBLEM_TYPE + "not_found", "title": "Not found", "status": 404, "detail": "No such URL."}
    return JsonResponse(body, status=404, content_type="application/problem+json")
