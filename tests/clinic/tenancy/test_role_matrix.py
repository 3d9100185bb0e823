"""The role matrix, read from the permission table itself.

For every browser view under /c/<clinic_slug>/ (its `required_perm`, set by @require_perm, or None from
@require_member) and every API action (its ClinicViewSet.action_perms entry), and for every Role: a
member or token with only that role is let through exactly when `PERMISSIONS` says so, else gets 403
and nothing is written (a query capture of the refused requests: tests/clinic/tenancy/writes.py). New routes,
roles and permissions need no edit here.
"""

from __future__ import annotations

import pytest

from clinic.tenancy.roles import Role, role_allows
from tests.clinic.tenancy.routes import API_ROUTES, CLINIC_ROUTES, Route
from tests.clinic.tenancy.world import send
from tests.clinic.tenancy.writes import capture_writes, refused_request_may_write

pytestmark = pytest.mark.django_db

_MISSING = object()
MAY_WRITE = refused_request_may_write()


def _required_perm(route: Route):
    return getattr(route.callback, "required_perm", _MISSING)


def _allowed(roles: list[str], perm) -> bool:
    return perm is None or role_allows(roles, perm)


@pytest.mark.parametrize("route", CLINIC_ROUTES, ids=str)
def test_every_clinic_view_declares_its_permission(route: Route):
    assert _required_perm(route) is not _MISSING, (
        f"The view of /{route.pattern} ({route.view_module}) has no `required_perm`: decorate it with "
        "@require_perm(Perm.X) (or @require_member for pages every member may open)."
    )


WEB_CASES = [(route, role) for route in CLINIC_ROUTES for role in Role]


@pytest.mark.parametrize(("route", "role"), WEB_CASES, ids=[f"{r}-{role}" for r, role in WEB_CASES])
def test_web_view_allows_exactly_the_roles_in_the_table(route: Route, role: Role, world):
    perm = _required_perm(route)
    assert perm is not _MISSING, f"/{route.pattern} declares no permission"
    client = world.session(world.a, [role])
    world.prepare(route)
    url = world.url(route, slug_of=world.a, objects_of=world.a)
    if _allowed([role], perm):
        response = client.get(url)
        assert response.status_code not in (403, 404), f"{role} GET {url}: {response.status_code}"
        response = client.post(url, data={})
        assert response.status_code != 403, f"{role} POST {url}: {response.status_code}"
    else:
        data = world.valid_data(route)
        with capture_writes(allowed=MAY_WRITE) as writes:
            assert client.get(url).status_code == 403, f"{role} GET {url}"
            assert client.post(url, data=data).status_code == 403, f"{role} POST {url}"
        assert not writes, f"a refused request wrote: {writes.describe()}"


def _api_cases() -> list[tuple[Route, str, Role]]:
    return [(route, method, role) for route in API_ROUTES for method in route.actions for role in Role]


API_CASES = _api_cases()


@pytest.mark.parametrize("credential", ["token", "session"])
@pytest.mark.parametrize(
    ("route", "method", "role"), API_CASES, ids=[f"{r}-{m.upper()}-{role}" for r, m, role in API_CASES]
)
def test_api_action_allows_exactly_the_roles_in_the_table(
    route: Route, method: str, role: Role, credential, world
):
    action = route.actions[method]
    perm = route.viewset.action_perms.get(action)
    if credential == "token":
        client, headers = world.token_client(world.a, [role]), {}
    else:
        client, headers = world.session(world.a, [role]), {"X-Stepdown-Clinic": world.a.slug}
    world.prepare(route)
    url = world.url(route, slug_of=world.a, objects_of=world.a)
    data = world.valid_data(route)
    with capture_writes(allowed=MAY_WRITE) as writes:
        response = send(client, method, url, data, json_body=True, **headers)
    # An action missing from action_perms is denied to everyone (fail closed).
    if perm is not None and role_allows([role], perm):
        assert response.status_code < 400, f"{role} {method.upper()} {url} ({action}): {response.status_code}"
    else:
        assert response.status_code == 403, (
            f"{role} {method.upper()} {url} ({action}): {response.status_code}"
        )
        assert not writes, f"a refused request wrote: {writes.describe()}"
