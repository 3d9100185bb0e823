"""Response headers: nothing the app renders is kept in a cache; a page runs only the app's own code.

The policy itself (`CONTENT_SECURITY_POLICY`) is in settings; django-csp writes it.
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware
from django.http import HttpRequest, HttpResponse

NO_STORE = "no-store, private"


class NoStoreMiddleware:
    """Every dynamic response may carry patient data (a page, an htmx fragment, a JSON list, a CSV export,
    a check-in link page), so none is kept by the browser's disk or back-forward cache or by a proxy.

    One rule for all of them rather than a list of patient views: a new view is covered without anyone
    remembering to mark it. A view that already says `no-store` (PDFs, feeds, `never_cache`) keeps its own,
    stricter or equal, header. Static files never reach this middleware: WhiteNoise (listed before it)
    answers them and they keep their long-lived caching.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "no-store" not in response.get("Cache-Control", "").lower():
            response["Cache-Control"] = NO_STORE
        return response


class StepdownCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, minus PDFs: a policy meant for HTML pages can only get in the way of the
    browser's PDF viewer, and our PDFs (WeasyPrint, rendered on the server) carry no script."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if response.get("Content-Type", "").startswith("application/pdf"):
            return response
        return super().process_response(request, response)
