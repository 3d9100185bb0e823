"""Two clinics, their objects and their people, built on demand for the route-walking tests."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models import Model
from django.test import Client

from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic, Membership
from tests.clinic.tenancy.registry import PLAIN_KWARGS, ObjectFactory, factory_for_kwarg, factory_for_model
from tests.clinic.tenancy.routes import Route

_people = itertools.count(1)


class World:
    """Built once per test module inside an outer transaction (see tests/clinic/tenancy/conftest.py); each
    test runs in a savepoint on top. What is made while building is cached and shared; what a test makes after
    `freeze()` is rolled back with the test, so it is never cached."""

    def __init__(self, clinic_a: Clinic, clinic_b: Clinic) -> None:
        self.a = clinic_a
        self.b = clinic_b
        self._objects: dict[tuple[int, type[Model]], Model] = {}
        self._members: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._tokens: dict[tuple[int, tuple[str, ...]], str] = {}
        self._sessions: dict[tuple[int, tuple[str, ...]], str] = {}
        self._frozen = False

    def freeze(self) -> None:
        self._frozen = True

    # --- objects -------------------------------------------------------------------------------------
    def factory(self, route: Route, kwarg: str) -> ObjectFactory:
        if kwarg == "pk" and route.viewset is not None:
            return factory_for_model(route.viewset.model)
        return factory_for_kwarg(kwarg)

    def object_kwargs(self, route: Route) -> list[str]:
        return [name for name in route.kwargs if name not in PLAIN_KWARGS]

    def obj(self, clinic: Clinic, factory: ObjectFactory) -> Model:
        key = (clinic.pk, factory.model)
        if key in self._objects:
            return self._objects[key]
        made = factory.create(clinic)
        if not self._frozen:
            self._objects[key] = made
        return made

    def prepare(self, route: Route) -> None:
        """Create the route's objects in both clinics now, before a test captures what its requests write."""
        names = self.object_kwargs(route) or (["pk"] if route.viewset is not None else [])
        for clinic in (self.a, self.b):
            for name in names:
                self.obj(clinic, self.factory(route, name))

    def url(self, route: Route, *, slug_of: Clinic, objects_of: Clinic) -> str:
        values: dict[str, Any] = {}
        for name in route.kwargs:
            if name == "clinic_slug":
                values[name] = slug_of.slug
            elif name in PLAIN_KWARGS:
                values[name] = PLAIN_KWARGS[name]
            else:
                values[name] = self.obj(objects_of, self.factory(route, name)).pk
        return route.url(**values)

    def valid_data(self, route: Route) -> dict[str, Any]:
        """A valid body for the route's innermost object (or for the viewset's model on list routes)."""
        names = self.object_kwargs(route)
        if names:
            return self.factory(route, names[-1]).data_for(self.a)
        if route.viewset is not None:
            return factory_for_model(route.viewset.model).data_for(self.a)
        return {}

    # --- people ----------------------------------------------------------------------------------------
    def member(self, clinic: Clinic, roles: Iterable[str]) -> Any:
        key = (clinic.pk, tuple(sorted(roles)))
        if key not in self._members:
            user = self._new_member(clinic, key[1])
            if self._frozen:
                return user
            self._members[key] = user
        return self._members[key]

    def _new_member(self, clinic: Clinic, roles: tuple[str, ...]) -> Any:
        from clinic.accounts.models import User

        n = next(_people)
        user = User.objects.create_user(
            email=f"walker{n}@{clinic.slug}.example.org", password=None, full_name=f"Walker {n}"
        )
        Membership.objects.create(user=user, clinic=clinic, roles=sorted(roles))
        return user

    def session(self, clinic: Clinic, roles: Iterable[str]) -> Client:
        """A browser signed in as the member with `roles`. The sign-in happens once per member, while the
        world is built (its session row lives as long as the world); each call gets a fresh Client holding
        that session cookie, so no test sees another's cookies and whatever a request does to the session
        is rolled back with the test."""
        key = (clinic.pk, tuple(sorted(roles)))
        session_key = self._sessions.get(key)
        if session_key is None:
            signed_in = Client(raise_request_exception=True)
            signed_in.force_login(self.member(clinic, roles))
            session_key = signed_in.cookies[settings.SESSION_COOKIE_NAME].value
            if self._frozen:
                return signed_in
            self._sessions[key] = session_key
        client = Client(raise_request_exception=True)
        client.cookies[settings.SESSION_COOKIE_NAME] = session_key
        return client

    def token_client(self, clinic: Clinic, roles: Iterable[str]) -> Client:
        from api.services import api_client_create

        key = (clinic.pk, tuple(sorted(roles)))
        token = self._tokens.get(key)
        if token is None:
            with tenant_context(clinic):
                _, token = api_client_create(actor=None, name=f"Walker {next(_people)}", roles=list(key[1]))
            if not self._frozen:
                self._tokens[key] = token
        return Client(raise_request_exception=True, HTTP_AUTHORIZATION=f"Bearer {token}")


def send(client: Client, method: str, url: str, data: dict | None = None, *, json_body: bool, **headers):
    """One request; JSON for the API, form-encoded for the browser views."""
    call = getattr(client, method)
    if method in ("get", "head", "delete"):
        return call(url, headers=headers)
    if json_body:
        return call(
            url, data=json.dumps(data or {}, default=str), content_type="application/json", headers=headers
        )
    if method == "post":
        return call(url, data=data or {}, headers=headers)
    return call(url, data="", headers=headers)
