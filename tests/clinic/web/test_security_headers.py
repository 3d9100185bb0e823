"""No response that may carry patient data is cacheable, and every page runs under the strict CSP.

The walk reuses the route inventory and the two-clinic world of the cross-tenant walker
(tests/clinic/tenancy/routes.py, world.py): a route added to any urls.py is a new test id here too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.templatetags.static import static

from clinic.tenancy.roles import Role
from tests.clinic.tenancy.conftest import world  # noqa: F401  (the module-scoped two-clinic world)
from tests.clinic.tenancy.routes import API_ROUTES, CLINIC_ROUTES, PLATFORM_ROUTES, Route
from tests.clinic.tenancy.world import send

pytestmark = pytest.mark.django_db

ALL_ROLES = list(Role)
TEMPLATES = Path(settings.BASE_DIR) / "templates"


def directives(policy: str) -> dict[str, list[str]]:
    parts = (chunk.split() for chunk in policy.split(";") if chunk.strip())
    return {words[0]: words[1:] for words in parts}


def assert_private(response, what: str) -> None:
    value = response.get("Cache-Control", "")
    assert "no-store" in value, f"{what}: {response.status_code} Cache-Control {value!r}"
    # `no-store` alone (PDFs) already forbids every cache; otherwise the middleware's full value.
    assert "private" in value or value == "no-store", f"{what}: Cache-Control {value!r}"


def assert_strict_csp(response, what: str) -> None:
    if response.get("Content-Type", "").startswith("application/pdf"):
        return  # not a web page (clinic.headers.StepdownCSPMiddleware)
    policy = response.get("Content-Security-Policy")
    assert policy, f"{what}: {response.status_code} without Content-Security-Policy"
    found = directives(policy)
    assert found.get("script-src") == ["'self'"], f"{what}: script-src {found.get('script-src')}"
    assert found.get("style-src") == ["'self'"], f"{what}: style-src {found.get('style-src')}"
    assert found.get("object-src") == ["'none'"] and found.get("frame-ancestors") == ["'none'"], policy


def check(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code}"
    assert_private(response, what)
    assert_strict_csp(response, what)


# --- the walk --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("route", CLINIC_ROUTES, ids=str)
def test_clinic_page_is_private_and_strict(route: Route, world):  # noqa: F811
    client = world.session(world.a, ALL_ROLES)
    world.prepare(route)
    url = world.url(route, slug_of=world.a, objects_of=world.a)
    response = client.get(url)
    assert response.status_code not in (403, 404), f"positive control: {url} {response.status_code}"
    check(response, f"GET {url}")


API_READS = [route for route in API_ROUTES if "get" in route.actions]


@pytest.mark.parametrize("credential", ["token", "session"])
@pytest.mark.parametrize("route", API_READS, ids=str)
def test_api_read_is_private(route: Route, credential: str, world):  # noqa: F811
    if credential == "token":
        client, headers = world.token_client(world.a, ALL_ROLES), {}
    else:
        client, headers = world.session(world.a, ALL_ROLES), {"X-Stepdown-Clinic": world.a.slug}
    world.prepare(route)
    url = world.url(route, slug_of=world.a, objects_of=world.a)
    response = send(client, "get", url, json_body=True, **headers)
    assert response.status_code == 200, f"positive control: {url} {response.status_code}"
    check(response, f"GET {url} ({credential})")


def test_api_write_and_refusals_are_private(world):  # noqa: F811
    client = world.token_client(world.a, ALL_ROLES)
    created = send(client, "post", "/api/v1/patients/", {"first_name": ""}, json_body=True)
    assert created.status_code == 400
    check(created, "POST /api/v1/patients/ (400)")
    anonymous = send(type(client)(), "get", "/api/v1/patients/", json_body=True)
    assert anonymous.status_code == 401
    check(anonymous, "GET /api/v1/patients/ (401)")


PLAIN_PLATFORM = [route for route in PLATFORM_ROUTES if not route.kwargs]
TOKEN_PLATFORM = [route for route in PLATFORM_ROUTES if route.kwargs]


@pytest.mark.parametrize("signed_in", [True, False], ids=["member", "anonymous"])
@pytest.mark.parametrize("route", PLAIN_PLATFORM, ids=str)
def test_platform_page_is_private_and_strict(route: Route, signed_in: bool, world):  # noqa: F811
    client = world.session(world.a, ALL_ROLES) if signed_in else type(world.session(world.a, ALL_ROLES))()
    url = route.url()
    response = client.get(url)
    if route.name == "api-docs":
        # Swagger UI alone may use inline styles; its script stays 'self'.
        found = directives(response["Content-Security-Policy"])
        assert found["script-src"] == ["'self'"] and "'unsafe-inline'" in found["style-src"]
        assert_private(response, f"GET {url}")
        return
    if route.name == "healthz" and response.status_code == 503:
        # Its honest answer when no worker consumes this run's queue (tests/clinic/jobs/test_healthz.py).
        response.status_code = 200
    check(response, f"GET {url}")


@pytest.mark.parametrize("route", TOKEN_PLATFORM, ids=str)
def test_token_link_pages_are_private_and_strict(route: Route, client):
    url = route.url(**dict.fromkeys(route.kwargs, "not-a-real-token"))
    check(client.get(url), f"GET {url}")


def test_the_walk_covers_the_app():
    """Guards the walk itself (an empty route list would pass every test above)."""
    assert len(CLINIC_ROUTES) > 100 and len(API_READS) > 50 and len(PLAIN_PLATFORM) > 10


def test_static_files_keep_caching(client):
    response = client.get(static("stepdown/stepdown.css"))
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def test_patient_pdf_keeps_its_header_and_gets_no_page_policy(client, clinic_a, staff_a, patient_a):
    client.force_login(staff_a[Role.NURSE])
    response = client.get(f"/c/{clinic_a.slug}/patients/{patient_a.pk}/face-sheet.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" not in response


# --- the templates keep to the policy --------------------------------------------------------------------
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.I)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


def _browser_templates() -> list[Path]:
    # PDF templates are rendered by WeasyPrint on the server; no browser applies the page policy to them.
    return [path for path in TEMPLATES.rglob("*.html") if "pdf" not in path.relative_to(TEMPLATES).parts]


def test_templates_have_no_inline_script_handler_style_or_javascript_url():
    offenders = []
    for path in _browser_templates():
        text = path.read_text(encoding="utf-8")
        for name, pattern in [
            ("inline <script>", INLINE_SCRIPT),
            ("on…= handler", EVENT_HANDLER),
            ("style= attribute", STYLE_ATTRIBUTE),
            ("javascript: URL", JS_URL),
        ]:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(TEMPLATES)}:{line}: {name}")
    assert len(_browser_templates()) > 100
    assert not offenders, "\n".join(offenders)
