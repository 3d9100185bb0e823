"""Browser requests carrying a NUL character are refused with a 400 before any view runs.

A form's CharField already refuses NUL, but views also read query parameters directly (a search box's `q`,
`?find=`, `?next=`), and Postgres text cannot hold NUL: `?q=%00` reached the database as a DataError (a 500).
No field of any page takes a NUL, so the edge refuses it once, for every query string and form body. A lone
UTF-16 surrogate cannot arrive this way (Django decodes query strings and forms as UTF-8 with replacement).
The API (`/api/`) is left to its own parser and filters (api/parsers.py, api/filters.py), which answer in
problem+json.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, QueryDict

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _nul_in(params: QueryDict) -> str | None:
    for key, values in params.lists():
        if "\x00" in key or any("\x00" in value for value in values if isinstance(value, str)):
            return "a parameter name" if "\x00" in key else key
    return None


class RefuseNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/"):
            where = _nul_in(request.GET)
            if where is None and request.method == "POST" and request.content_type in FORM_TYPES:
                where = _nul_in(request.POST)
            if where is not None:
                # The value is not repeated in the refusal.
                raise BadRequest(f"A NUL character in {where}: remove it and send again.")
        return self.get_response(request)
