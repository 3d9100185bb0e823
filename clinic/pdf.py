"""PDF documents with WeasyPrint.

The URL fetcher is restricted: a document may embed only the app's own static files and inline
`data:` URIs. Nothing is fetched over the network, so a template (or a patient-entered value that
reaches one) cannot make the server request an outside address.
"""

from __future__ import annotations

from urllib.parse import urlparse

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.template.loader import render_to_string



class BlockedResource(ValueError):
    pass


def restricted_url_fetcher(url: str, timeout: int = 10, ssl_context=None) -> dict:
    from weasyprint.urls import default_url_fetcher

    if url.startswith("data:"):
        return default_url_fetcher(url, timeout=timeout, ssl_context=ssl_context)
    path = urlparse(url).path
    if path.startswith(settings.STATIC_URL):
        found = finders.find(path[len(settings.STATIC_URL) :])
        if found:
            with open(found, "rb") as handle:
                return {"string": handle.read(), "filename": found.rsplit("/", 1)[-1]}
    raise BlockedResource(f"PDF resource refused: {url[:200]}")


def render_pdf(template_name: str, context: dict) -> bytes:
    from weasyprint import HTML

    html = render_to_string(template_name, context)
    return HTML(string=html, base_url="http://stepdown.invalid/", url_fetcher=restricted_url_fetcher).write_pdf()


def pdf_response(content: bytes, filename: str, *, download: bool = False) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    disposition = "attachment" if download else "inline"
    safe_name = "".join(ch for ch in filename if ch.isalnum() or ch in "-_.") or "document.pdf"
    response["Content-Disposition"] = f'{disposition}; filename="{safe_name}"'
    response["Cache-Control"] = "no-store"
    return response
