"""Cross-tenant walker: every route of the project, every method, against another clinic's objects.

Routes come from the URL resolver (tests/clinic/tenancy/routes.py) and objects from the registry
(tests/clinic/tenancy/registry.py), so a route added later is a new test id here without editing this file.
A member of clinic A holding every role, or a token of clinic A with every role, must get 404 (or 405
for a method the route does not offer) for anything of clinic B, and those refused requests write nothing
at all (a query capture, tests/clinic/tenancy/writes.py). That is stricter than the snapshot of clinic B's
rows it replaced: it sees every table of every clinic, audit rows included, and writes a rollback undoes.
"""

from __future__ import annotations

import pytest

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from tests.clinic.tenancy.routes import API_ROUTES, CLINIC_ROUTES, HTTP_METHODS, PLATFORM_ROUTES, Route
from tests.clinic.tenancy.world import World, send
from tests.clinic.tenancy.writes import REQUEST_BOOKKEEPING, capture_writes

pytestmark = pytest.mark.django_db

ALL_ROLES = list(Role)
# Not even an audit row: a request about another clinic's objects is answered like one for no object.
MAY_WRITE = REQUEST_BOOKKEEPING

# Routes outside /c/<clinic>/ and /api/v1/ must be listed here with the reason they hold no clinic data.
# (prefix, view modules allowed under it, reason)
PLATFORM_ALLOW_LIST: list[tuple[str, tuple[str, ...], str]] = [
    ("", ("clinic.web_views",), "home: the clinic chooser, lists only the signed-in person's memberships"),
    ("healthz", ("clinic.web_views",), "health check: database/Redis/worker status, no clinic data"),
    ("session/idle", ("clinic.web_views",), "idle sign-out probe: seconds left in the person's own session"),
    (
        "accounts/",
        ("allauth.", "clinic.accounts."),
        "sign-in, password and MFA pages: about the person, before any clinic is chosen",
    ),
    (
        "invite/",
        ("clinic.accounts.invite_views",),
        "invitation acceptance: reached before the person is a member; the signed token names the invitation",
    ),
    (
        "checkin/",
        ("vitals.checkins.public_views",),
        "patient daily check-in: no login; the signed token names the clinic and the link, and the page "
        "enters that clinic itself (vitals.checkins.selectors.checkin_link_open)",
    ),
    (
        "feeds/",
        ("scheduling.feeds",),
        "staff calendar feed (iCal): no login; the secret token names the clinic, which the view enters "
        "before it looks the feed's hash up (scheduling.feeds.feed_view); unknown or revoked: 404",
    ),
    ("api/schema/", ("drf_spectacular.",), "the OpenAPI document: describes endpoints, holds no data"),
    ("api/docs/", ("drf_spectacular.",), "Swagger UI page that renders the schema"),
]


def _allow_list_entry(route: Route):
    for prefix, modules, reason in PLATFORM_ALLOW_LIST:
        exact = prefix == "" or not prefix.endswith("/")
        matches = route.pattern == prefix if exact else route.pattern.startswith(prefix)
        if matches and route.view_module.startswith(modules):
            return reason
    return None


@pytest.fixture
def intruder(world):
    """A member of clinic A with every role: the strongest person who still must not see clinic B."""
    return world.session(world.a, ALL_ROLES)


# --- the route inventory ------------------------------------------------------------------------------------
def test_the_walker_finds_the_known_routes():
    """Guards the walker itself: if route collection broke, every parametrised test below would vanish."""
    patterns = {route.pattern for route in CLINIC_ROUTES + API_ROUTES}
    assert "c/<slug:clinic_slug>/patients/<uuid:patient_id>/" in patterns
    assert any("patients" in route.pattern and "pk" in route.kwargs for route in API_ROUTES)


@pytest.mark.parametrize("route", PLATFORM_ROUTES, ids=str)
def test_route_outside_clinic_and_api_is_an_allowed_platform_route(route: Route):
    reason = _allow_list_entry(route)
    assert reason, (
        f"/{route.pattern} ({route.view_module}) is outside /c/<clinic_slug>/ and /api/v1/. Clinic data must "
        "live under one of those; if this route is truly platform-wide, add it to PLATFORM_ALLOW_LIST in "
        "tests/clinic/tenancy/test_isolation_walker.py with the reason."
    )


# --- browser routes under /c/<clinic_slug>/ ------------------------------------------------------------
@pytest.mark.parametrize("route", CLINIC_ROUTES, ids=str)
def test_own_clinic_route_answers(route: Route, world, intruder):
    """Positive control: the same URL with clinic A's own slug and objects is served, so the 404s below
    come from tenancy, not from a broken URL."""
    response = intruder.get(world.url(route, slug_of=world.a, objects_of=world.a))
    assert response.status_code not in (403, 404), response.status_code


def _assert_refused(route: Route, world: World, client, *, slug_of, objects_of) -> None:
    """GET and POST answer 404. A 405 counts only if the route refuses that method for clinic A's own
    objects too: then the answer does not depend on the object and tells nothing about clinic B."""
    url = world.url(route, slug_of=slug_of, objects_of=objects_of)
    answered_404 = False
    for method in ("get", "post"):
        response = send(client, method, url, world.valid_data(route), json_body=False)
        if response.status_code == 405:
            own = world.url(route, slug_of=world.a, objects_of=world.a)
            assert send(client, method, own, {}, json_body=False).status_code == 405, (
                f"{method.upper()} {url}"
            )
            continue
        assert response.status_code == 404, f"{method.upper()} {url}: {response.status_code}"
        answered_404 = True
    assert answered_404, f"{url} refused every method with 405: the walker proved nothing"


@pytest.mark.parametrize("route", CLINIC_ROUTES, ids=str)
def test_other_clinic_slug_is_404(route: Route, world, intruder):
    world.prepare(route)
    with capture_writes(allowed=MAY_WRITE) as writes:
        for objects_of in (world.b, world.a):
            _assert_refused(route, world, intruder, slug_of=world.b, objects_of=objects_of)
    assert not writes, f"a refused request wrote: {writes.describe()}"


OBJECT_ROUTES = [route for route in CLINIC_ROUTES if any(name != "clinic_slug" for name in route.kwargs)]


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_own_slug_with_other_clinics_objects_is_404(route: Route, world, intruder):
    world.prepare(route)
    with capture_writes(allowed=MAY_WRITE) as writes:
        _assert_refused(route, world, intruder, slug_of=world.a, objects_of=world.b)
    assert not writes, f"a refused request wrote: {writes.describe()}"


# --- API routes under /api/v1/ ----------------------------------------------------------------------------
def _api_routes_are_clinic_viewsets():
    from api.base import ClinicViewSet

    return [route for route in API_ROUTES if not (route.viewset and issubclass(route.viewset, ClinicViewSet))]


def test_every_api_route_is_a_clinic_viewset():
    stray = _api_routes_are_clinic_viewsets()
    assert not stray, (
        f"API routes not served by a ClinicViewSet (no tenant scoping): {[str(r) for r in stray]}"
    )


def _is_detail(route: Route) -> bool:
    return any(name not in ("format",) for name in route.kwargs)


def _ids_in(response) -> set[str]:
    body = response.json()
    rows = body.get("results", body) if isinstance(body, dict) else body
    return {str(row["id"]) for row in rows}


@pytest.mark.parametrize("route", API_ROUTES, ids=str)
def test_api_token_of_clinic_a_cannot_touch_clinic_b(route: Route, world):
    client = world.token_client(world.a, ALL_ROLES)
    _api_walk(route, world, client)


@pytest.mark.parametrize("route", API_ROUTES, ids=str)
def test_api_session_in_clinic_a_cannot_touch_clinic_b(route: Route, world):
    client = world.session(world.a, ALL_ROLES)
    _api_walk(route, world, client, **{"X-Stepdown-Clinic": world.a.slug})


def _api_walk(route: Route, world: World, client, **headers) -> None:
    offered = route.actions
    world.prepare(route)
    if _is_detail(route):
        own = send(
            client, "get", world.url(route, slug_of=world.a, objects_of=world.a), json_body=True, **headers
        )
        assert own.status_code == 200, f"positive control: own object answers {own.status_code}"
        url = world.url(route, slug_of=world.a, objects_of=world.b)
        data = world.valid_data(route)
        with capture_writes(allowed=MAY_WRITE) as writes:
            for method in HTTP_METHODS:
                response = send(client, method, url, data, json_body=True, **headers)
                expected = 404 if method in offered else 405
                assert response.status_code == expected, f"{method.upper()} {url}: {response.status_code}"
        assert not writes, f"a refused request wrote: {writes.describe()}"
        return
    url = world.url(route, slug_of=world.a, objects_of=world.a)
    factory = world.factory(route, "pk")
    own_id, other_id = str(world.obj(world.a, factory).pk), str(world.obj(world.b, factory).pk)
    with capture_writes(allowed=MAY_WRITE) as writes:
        for method in HTTP_METHODS:
            if method not in offered:
                response = send(client, method, url, {}, json_body=True, **headers)
                assert response.status_code == 405, f"{method.upper()} {url}: {response.status_code}"
    assert not writes, f"a refused request wrote: {writes.describe()}"
    if "get" in offered:
        response = send(client, "get", url + "?page_size=200", json_body=True, **headers)
        assert response.status_code == 200
        ids = _ids_in(response)
        assert own_id in ids, "positive control: clinic A's object is listed"
        assert other_id not in ids, "clinic B's object is listed to clinic A"
    if "post" in offered:
        _assert_create_lands_in_a(route, world, client, url, headers)


def _assert_create_lands_in_a(route: Route, world: World, client, url: str, headers) -> None:
    """A create whose body names clinic B is made in clinic A (the clinic of the credential) or refused."""
    data = {**world.valid_data(route), "clinic": world.b.pk, "clinic_id": world.b.pk}
    response = send(client, "post", url, data, json_body=True, **headers)
    assert response.status_code in (201, 400), response.status_code
    if response.status_code == 201:
        model = route.viewset.model
        made = response.json()["id"]
        with tenant_context(world.a):
            assert model._base_manager.filter(pk=made).exists(), f"{model._meta.label} {made} not in A"
        with tenant_context(world.b):
            assert not model._base_manager.filter(pk=made).exists(), f"{model._meta.label} {made} in B"


@pytest.mark.parametrize("route", API_ROUTES, ids=str)
def test_api_session_naming_another_clinic_is_404(route: Route, world):
    """A session user of clinic A who names clinic B in X-Stepdown-Clinic is not a member there: 404."""
    client = world.session(world.a, ALL_ROLES)
    world.prepare(route)
    data = world.valid_data(route)
    with capture_writes(allowed=MAY_WRITE) as writes:
        for objects_of in (world.a, world.b):
            url = world.url(route, slug_of=world.a, objects_of=objects_of)
            for method in route.actions:
                response = send(
                    client, method, url, data, json_body=True, **{"X-Stepdown-Clinic": world.b.slug}
                )
                assert response.status_code == 404, f"{method.upper()} {url}: {response.status_code}"
    assert not writes, f"a refused request wrote: {writes.describe()}"
