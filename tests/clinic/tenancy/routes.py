"""Every URL pattern of the project, collected from the resolver at import time.

The walker and the role matrix parametrise over these, so a route added to any urls.py is a new test id
the next time the suite runs; nobody has to list it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern, RoutePattern

CLINIC_PREFIX = "c/<slug:clinic_slug>/"
API_PREFIX = "api/v1/"
HTTP_METHODS = ("get", "head", "put", "patch", "delete", "post")


@dataclass(frozen=True)
class Route:
    pattern: str  # the whole pattern as written, e.g. "c/<slug:clinic_slug>/patients/<uuid:patient_id>/"
    name: str | None  # namespaced URL name, e.g. "patients:detail"
    kwargs: tuple[str, ...]
    callback: Callable = field(compare=False)

    def __str__(self) -> str:
        return self.pattern

    @property
    def kind(self) -> str:
        if self.pattern.startswith(CLINIC_PREFIX):
            return "clinic"
        if self.pattern.startswith(API_PREFIX):
            return "api"
        return "platform"

    @property
    def view_module(self) -> str:
        target = (
            getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None) or self.callback
        )
        return target.__module__

    @property
    def viewset(self):
        return getattr(self.callback, "cls", None)

    @property
    def actions(self) -> dict[str, str]:
        """HTTP method → viewset action, for router routes."""
        actions = dict(getattr(self.callback, "actions", None) or {})
        if "get" in actions:
            actions.setdefault("head", actions["get"])  # DRF serves HEAD wherever it serves GET
        return actions

    def url(self, **kwargs) -> str:
        if self.name is None:
            raise AssertionError(f"Route {self.pattern} has no name: name it so tests can build its URL")
        return reverse(self.name, kwargs=kwargs)


def _kwarg_names(pattern) -> list[str]:
    if isinstance(pattern, RoutePattern):
        return list(pattern.converters)
    if isinstance(pattern, RegexPattern):
        return list(pattern.regex.groupindex)
    return []


def _walk(patterns, prefix: str, namespace: str | None, kwargs: list[str]) -> Iterator[Route]:
    for entry in patterns:
        names = kwargs + _kwarg_names(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns, names)
        elif isinstance(entry, URLPattern):
            name = None
            if entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield Route(prefix + str(entry.pattern), name, tuple(names), entry.callback)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns, "", None, []))


ROUTES = all_routes()
CLINIC_ROUTES = [route for route in ROUTES if route.kind == "clinic"]
API_ROUTES = [route for route in ROUTES if route.kind == "api"]
PLATFORM_ROUTES = [route for route in ROUTES if route.kind == "platform"]
