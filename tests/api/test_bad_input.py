"""Bad input at the API's edge, sent to every write operation and every list filter, generated.

The cases come from the URL resolver (tests/clinic/tenancy/routes.py: every API route and the methods its
viewset serves) and the OpenAPI schema (drf-spectacular's generator: the request body's fields and formats,
each list's query parameters), so a route or filter added later is covered with no edit here. Each write
starts from the route's valid body (tests/clinic/tenancy/registry.py, the one the role matrix proves is
accepted), so a refused date is refused for being out of range, not for a missing field.

Every case, sent with an all-roles token of the walker's clinic A, must be a 4xx with
application/problem+json whose text does not echo a NUL or a surrogate, and write nothing (a query
capture: no INSERT/UPDATE/DELETE besides the token's last-used stamp).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import itertools
import json
from typing import Any
from urllib.parse import unquote, urlencode

import pytest
from django.urls import NoReverseMatch
from drf_spectacular.generators import SchemaGenerator

from api.parsers import MAX_BODY_BYTES
from api.strings import NOT_TEXT
from clinic.tenancy.roles import Role
from tests.clinic.tenancy.conftest import world  # noqa: F401 - the walker's world, built once per module
from tests.clinic.tenancy.routes import API_ROUTES, Route
from tests.clinic.tenancy.writes import REQUEST_BOOKKEEPING, capture_writes

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
WRITE_METHODS = ("post", "put", "patch")
SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
COMPONENTS = SCHEMA["components"]["schemas"]
TODAY = dt.date.today()


# --- the schema, read -------------------------------------------------------------------------------------
def _resolve(node: dict) -> dict:
    while "$ref" in node:
        node = COMPONENTS[node["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(node["allOf"][0])
    return node


def _fields(node: dict, path: tuple = (), depth: int = 0):
    """(path, schema) of every leaf property of a request body; arrays as index 0."""
    node = _resolve(node)
    if depth > 6:
        return
    if node.get("type") == "object" or "properties" in node:
        for name, child in node.get("properties", {}).items():
            yield from _fields(child, (*path, name), depth + 1)
    elif node.get("type") == "array" and "items" in node:
        yield from _fields(node["items"], (*path, 0), depth + 1)
    else:
        yield path, node


def _schema_path(route: Route) -> str | None:
    kwargs = {name: "{id}" if name == "pk" else "{" + name + "}" for name in route.kwargs}
    try:
        return unquote(route.url(**kwargs))
    except NoReverseMatch:
        return None


def _operation(route: Route, method: str) -> dict:
    path = _schema_path(route)
    assert path in SCHEMA["paths"], f"{route} is not in the OpenAPI schema (as {path})"
    assert method in SCHEMA["paths"][path], f"{method.upper()} {path} is served but not in the schema"
    return SCHEMA["paths"][path][method]


def _body_schema(operation: dict) -> dict:
    content = operation.get("requestBody", {}).get("content", {})
    return content.get("application/json", {}).get("schema", {})


def _date_format(node: dict) -> str | None:
    fmt = node.get("format")
    if fmt in ("date", "date-time"):
        return fmt
    for option in node.get("oneOf", []) + node.get("anyOf", []):
        if _resolve(option).get("format") in ("date", "date-time"):
            return _resolve(option)["format"]
    return None


ROUTES = [route for route in API_ROUTES if "format" not in route.kwargs and route.viewset is not None]
WRITES = [(route, method) for route in ROUTES for method in route.actions if method in WRITE_METHODS]
LISTS = [route for route in ROUTES if route.actions.get("get") == "list"]


def _date_fields(route: Route, method: str) -> list[tuple[tuple, str]]:
    body = _body_schema(_operation(route, method))
    found = {path: _date_format(node) for path, node in _fields(body) if _date_format(node)}
    return sorted(found.items(), key=str)


def _query_params(route: Route) -> list[dict]:
    return [p for p in _operation(route, "get").get("parameters", []) if p["in"] == "query"]


# --- bad values ---------------------------------------------------------------------------------------------
BAD_DATES = {"date": ["0001-01-01", "9999-12-31", "1899-12-31"]}
BAD_DATES["date-time"] = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:00:00-10:00",
    f"{TODAY.isoformat()}T10:00:00+16:00",
    f"{TODAY.isoformat()}T10:00:00-23:59",
]
SURROGATE, NUL = "a\ud800b", "a\x00b"


def _forged_cursors(route: Route) -> list[str]:
    """Cursors that decode, with positions no page ever had: a NUL; for a list in date-time order, an offset
    past Postgres's and year 1."""
    positions = ["a\x00b"]
    first = route.viewset.pagination_class.ordering[0].lstrip("-")
    field = route.viewset.model._meta.get_field(first)
    if field.get_internal_type() == "DateTimeField":
        positions += ["2026-01-01T00:00:00+16:00", "0001-01-01T00:00:00+00:00"]
    return [base64.b64encode(urlencode({"p": p}).encode()).decode() for p in positions]


def _put(body: Any, path: tuple, value: Any) -> Any:
    """`body` with `value` at `path`, making the containers on the way."""
    body = copy.deepcopy(body) if isinstance(body, dict) else {}
    node = body
    for step, following in itertools.pairwise((*path, None)):
        if isinstance(step, int):
            while len(node) <= step:
                node.append(None)
        if following is None:
            node[step] = value
            break
        blank = [] if isinstance(following, int) else {}
        current = node[step] if isinstance(step, int) else node.get(step)
        if not isinstance(current, type(blank)):
            node[step] = current = blank
        node = current
    return body


def _with_text(body: dict, route: Route, method: str, bad: str) -> dict:
    """Every string field of the body (from the schema and the valid body, choices included) set to `bad`."""
    body = dict(body)
    for path, node in _fields(_body_schema(_operation(route, method))):
        if node.get("type") == "string" or "enum" in node or "oneOf" in node:
            body = _put(body, path, bad)
    for key, value in list(body.items()):
        if isinstance(value, str):
            body[key] = bad
    body.setdefault("note", bad)
    return body


def _with_numbers(body: dict, route: Route, method: str) -> dict:
    """Every number field of the body set past a bigint (a DataError if it reached a column)."""
    for path, node in _fields(_body_schema(_operation(route, method))):
        if node.get("type") in ("integer", "number"):
            body = _put(body, path, 10**30)
    return {**body, "count": 10**30}


# --- sending ----------------------------------------------------------------------------------------------
def _json(data: Any) -> str:
    return json.dumps(data, default=str)  # ensure_ascii: a surrogate goes as the escape "\ud800"


def _send(world, route: Route, method: str, *, raw: str | None = None, query: dict | None = None):  # noqa: F811
    client = world.token_client(world.a, list(Role))
    world.prepare(route)
    url = world.url(route, slug_of=world.a, objects_of=world.a)
    with capture_writes(allowed=REQUEST_BOOKKEEPING) as writes:
        if query is not None:
            response = client.get(url, data=query)
        else:
            response = getattr(client, method)(url, data=raw, content_type="application/json")
    return response, writes


def _assert_refused(response, writes, *, status: int | None = None) -> dict:
    text = response.content.decode("utf-8")
    assert 400 <= response.status_code < 500, f"{response.status_code}: {text[:500]}"
    if status is not None:
        assert response.status_code == status, text[:500]
    assert response["Content-Type"].startswith(PROBLEM), response["Content-Type"]
    for echoed in ("\x00", "\\u0000", "\\ud800", "\ud800"):
        assert echoed not in text, f"the problem echoes the bad text: {text[:500]}"
    assert not writes, f"a refused request wrote: {writes.describe()}"
    return json.loads(text)


def _ids(cases) -> list[str]:
    return [f"{route}-{method.upper()}" for route, method in cases]


# --- writes: every shape, every write operation -------------------------------------------------------------
SHAPES = (
    "deep-list",
    "deep-object",
    "oversize",
    "surrogate-value",
    "surrogate-key",
    "nul-value",
    "nul-key",
    "huge-number",
)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("route", "method"), WRITES, ids=_ids(WRITES))
def test_every_write_refuses_bad_bodies(route: Route, method: str, shape: str, world):  # noqa: F811
    valid = world.valid_data(route)
    status = 400
    if shape == "deep-list":
        raw = "[" * 50_000 + "]" * 50_000
    elif shape == "deep-object":
        raw = '{"a":' * 50_000 + "1" + "}" * 50_000
    elif shape == "oversize":
        limit = getattr(route.viewset, "max_body_bytes", MAX_BODY_BYTES)
        raw = _json({**valid, "padding": "x" * limit})
        status = 413
    elif shape == "huge-number":
        raw = _json(_with_numbers(valid, route, method))
    elif shape.startswith("surrogate") or shape.startswith("nul"):
        bad = SURROGATE if shape.startswith("surrogate") else NUL
        raw = _json(_with_text(valid, route, method, bad) if shape.endswith("value") else {**valid, bad: "x"})
    response, writes = _send(world, route, method, raw=raw)
    problem = _assert_refused(response, writes, status=status)
    if shape.endswith("-key") or shape.endswith("-value"):
        assert "not allowed" in json.dumps(problem["errors"]), problem
    if shape == "huge-number":
        assert "out of range" in json.dumps(problem["errors"]), problem


def _text_fields(route: Route, method: str) -> list[tuple]:
    """Paths of the body's plain text fields (no choices, no dates: those have their own checks)."""
    return [
        path
        for path, node in _fields(_body_schema(_operation(route, method)))
        if node.get("type") == "string"
        and "enum" not in node
        and "format" not in node
        and not node.get("readOnly")
    ]


TEXT_CASES = [(route, method) for route, method in WRITES if _text_fields(route, method)]


@pytest.mark.parametrize(("route", "method"), TEXT_CASES, ids=_ids(TEXT_CASES))
def test_every_text_field_refuses_a_number(route: Route, method: str, world):  # noqa: F811
    body = world.valid_data(route)
    for path in _text_fields(route, method):
        body = _put(body, path, 12345)
    response, writes = _send(world, route, method, raw=_json(body))
    problem = _assert_refused(response, writes, status=400)
    assert NOT_TEXT in json.dumps(problem["errors"]), problem


DATE_CASES = [
    (route, method, path, value)
    for route, method in WRITES
    for path, fmt in _date_fields(route, method)
    for value in BAD_DATES[fmt]
]


@pytest.mark.parametrize(
    ("route", "method", "path", "value"),
    DATE_CASES,
    ids=[f"{r}-{m.upper()}-{'.'.join(map(str, p))}={v}" for r, m, p, v in DATE_CASES],
)
def test_every_date_field_refuses_dates_out_of_range(route, method, path, value, world):  # noqa: F811
    body = _put(world.valid_data(route), path, value)
    response, writes = _send(world, route, method, raw=_json(body))
    problem = _assert_refused(response, writes, status=400)
    assert str(path[0]) in problem.get("errors", {}), problem


def test_the_write_cases_cover_the_date_fields_the_attack_found():
    named = {(path[-1]) for _, _, path, _ in DATE_CASES}
    assert {"start_date", "taken_at", "completed_at", "expires_on", "date_of_birth"} <= named, named


# --- lists: every filter, page size, cursor and format ------------------------------------------------------
def _filter_cases() -> list[tuple[Route, str, str]]:
    cases = []
    for route in LISTS:
        for param in _query_params(route):
            name, node = param["name"], _resolve(param.get("schema", {}))
            values = [""]
            fmt = _date_format(node)
            if fmt:
                values += BAD_DATES[fmt]
            elif node.get("format") == "uuid":
                values += ["not-a-uuid", NUL]
            elif node.get("type") == "boolean":
                values += ["maybe", "null", "2", "3"]
            elif name == "page_size":  # more than the most is the most (DRF's documented clamp)
                values += ["abc", "null", "0", "-1", "1.5"]
            elif node.get("type") in ("integer", "number"):
                values += ["abc", "null", "99999999999999999999", "1e400"]
            elif name == "cursor":
                values += ["junk!!", *_forged_cursors(route)]
            else:  # a query string cannot carry a lone surrogate (percent-decoded as UTF-8, with U+FFFD)
                values += [NUL]
            cases += [(route, name, value) for value in values]
    return cases


FILTER_CASES = _filter_cases()


@pytest.mark.parametrize(
    ("route", "param", "value"), FILTER_CASES, ids=[f"{r}?{p}={v!r}" for r, p, v in FILTER_CASES]
)
def test_every_list_filter_refuses_malformed_values(route, param, value, world):  # noqa: F811
    response, writes = _send(world, route, "get", query={param: value})
    problem = _assert_refused(response, writes, status=400)
    assert param in problem.get("errors", {}), problem


@pytest.mark.parametrize("route", LISTS, ids=str)
def test_no_list_serves_the_browsable_api(route, world):  # noqa: F811
    response, writes = _send(world, route, "get", query={"format": "api"})
    _assert_refused(response, writes)


def test_the_cases_are_generated_for_every_route():
    """Guards the generator itself: every write operation and list is found, with the shapes and filters."""
    assert len(WRITES) >= 30 and len(LISTS) >= 25, (len(WRITES), len(LISTS))
    assert {p for _, p, _ in FILTER_CASES} >= {"updated_since", "taken_since", "since", "page_size", "cursor"}


@pytest.mark.parametrize("route", [r for r in API_ROUTES if "format" not in r.kwargs], ids=str)
def test_every_api_view_parses_with_the_bounded_parser_and_renders_json(route: Route):
    """No view may bring its own parsers (an unbounded JSON or a form parser) or the browsable API."""
    from rest_framework.renderers import BrowsableAPIRenderer

    from api.parsers import BoundedJSONParser

    view = getattr(route.callback, "cls", None) or getattr(route.callback, "view_class", None)
    if view is None or not hasattr(view, "parser_classes"):
        return
    assert all(issubclass(p, BoundedJSONParser) for p in view.parser_classes), view.parser_classes
    assert not any(issubclass(r, BrowsableAPIRenderer) for r in view.renderer_classes), view.renderer_classes


def test_the_pdmp_import_still_takes_a_report_over_a_megabyte(clinic_a, patient_a):
    """The one operation allowed more than MAX_BODY_BYTES: a 3 MB report (4 MB as base64) is read and judged
    (here: not a report, 400), not refused for its size."""
    from tests.conftest import token_client

    api = token_client(clinic_a, Role.NURSE)
    content = base64.b64encode(b"not,a,report\n" * 240_000).decode()
    body = {"patient": str(patient_a.pk), "state": "OR", "format": "csv", "content": content, "preview": True}
    raw = _json(body)
    assert len(raw) > 3 * MAX_BODY_BYTES
    response = api.post("/api/v1/pdmp-imports/", data=raw, content_type="application/json")
    assert response.status_code != 413 and response.status_code < 500, response.content[:300]
    too_big = api.post("/api/v1/patients/", data=raw, content_type="application/json")
    assert too_big.status_code == 413 and too_big["Content-Type"] == PROBLEM
