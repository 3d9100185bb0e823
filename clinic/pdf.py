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

PDF_HOST = "stepdown.invalid"  # a reserved name: static paths resolve on disk, nothing goes on the network


class BlockedResource(ValueError):
    pass


def _static_fetcher():
    """A WeasyPrint fetcher that serves static files from disk and data: URIs, and refuses the rest."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        def fetch(self, url: str, headers=None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            path = urlparse(url).path
            if urlparse(url).netloc == PDF_HOST and path.startswith(settings.STATIC_URL):
                found = finders.find(path[len(settings.STATIC_URL) :])
                if found:
                    with open(found, "rb") as handle:
                        return URLFetcherResponse(url, handle.read(), {"Content-Type": _content_type(found)})
            raise BlockedResource(f"PDF resource refused: {url[:200]}")

    return StaticOnlyFetcher(allowed_protocols=("http", "data"), allow_redirects=False)


def _content_type(path: str) -> str:
    return {"css": "text/css", "svg": "image/svg+xml", "png": "image/png"}.get(
        path.rsplit(".", 1)[-1], "application/octet-stream"
    )


def render_pdf(template_name: str, context: dict) -> bytes:
    from weasyprint import HTML

    html = render_to_string(template_name, context)
    return HTML(string=html, base_url=f"http://{PDF_HOST}/", url_fetcher=_static_fetcher()).write_pdf()


def pdf_response(content: bytes, filename: str, *, download: bool = False) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    disposition = "attachment" if download else "inline"
    safe_name = "".join(ch for ch in filename if ch.isalnum() or ch in "-_.") or "document.pdf"
    response["Content-Disposition"] = f'{disposition}; filename="{safe_name}"'
    response["Cache-Control"] = "no-store"
    return response
