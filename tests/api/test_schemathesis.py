"""Schemathesis over every operation of the served OpenAPI schema: the schema tells the truth.

The app is called in-process (its WSGI handler, inside this test's transaction) by an API client holding
every role in a clinic filled by the demo's seeds, so lists and details return real rows with their nulls,
blanks and enum values. All checks run (server errors, status codes, content types, response bodies and
headers against the schema, negative data rejected, positive data accepted, ...), with a fixed seed.

CI runs 3 examples per operation (examples and fuzzing phases, positive and negative: ~25 s of calls). A full
run: SCHEMATHESIS_EXAMPLES=20 SCHEMATHESIS_PHASES=examples,coverage,fuzzing (~5 min). SCHEMATHESIS_SEED
changes the seed; SCHEMATHESIS_OPERATIONS (a path regex) and SCHEMATHESIS_VERBOSE=1 help while fixing. With
`-s` the run prints its figures: operations, calls, statuses, failures by kind and operation.
"""

from __future__ import annotations

import os
import re
import sys
import time
import traceback
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.pytest.lazy import get_all_tests

from api.schema import IDEMPOTENCY_KEY
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from tests.conftest import make_clinic, make_member

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "3"))
# CI: the schema's examples and fuzzing (positive and negative). A full run adds "coverage" (Schemathesis'
# boundary and negative cases for every parameter; ~4x the calls).
PHASES = os.environ.get("SCHEMATHESIS_PHASES", "examples,fuzzing").split(",")
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20261213"))
SEEDED_PATIENTS = 8
VALID_KEY = re.compile(IDEMPOTENCY_KEY["schema"]["pattern"])
# For working on the schema: only the operations whose path matches, with what each failing case sent.
ONLY = os.environ.get("SCHEMATHESIS_OPERATIONS")
VERBOSE = bool(os.environ.get("SCHEMATHESIS_VERBOSE"))


def _seed_clinic():
    """A clinic with a member per role and a few patients through every area's demo seed."""
    from demo import data
    from demo.services import SeedResult, _ensure_clinical_demo
    from patients.services import patient_create

    clinic = make_clinic("schema-a", name="Schema Clinic")
    for role in Role:
        make_member(clinic, role)
    with tenant_context(clinic):
        for fields in data.patients(clinic.slug, SEEDED_PATIENTS):
            patient_create(actor=None, fields=fields)
    _ensure_clinical_demo(clinic, SeedResult())
    return clinic


def _token(clinic) -> str:
    from api.services import api_client_create

    with tenant_context(clinic):
        _, token = api_client_create(actor=None, name="Schemathesis", roles=[role.value for role in Role])
    return token


def _existing_ids(clinic) -> dict[str, list[str]]:
    """Per route prefix, ids of rows that exist, so detail operations also reach real objects."""
    from api.urls import router

    ids: dict[str, list[str]] = {}
    with tenant_context(clinic):
        for prefix, viewset, _ in router.registry:
            rows = viewset.model.objects.order_by("pk").values_list("pk", flat=True)[:5]
            ids[f"/api/v1/{prefix}/"] = [str(pk) for pk in rows]
    return ids


@pytest.fixture
def app():
    """Django's WSGI handler, as a server runs it, without closing this test's connection per request
    (a server closes it after each request; here the request runs in the test's transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _config(token: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {"mode": "all", "max-examples": EXAMPLES, "no-shrink": True, "database": "none"},
            "phases": {name: {"enabled": name in PHASES} for name in ("examples", "coverage", "fuzzing")},
            "checks": {
                "enabled": True,
                # A schema-valid request may still be refused with a 400 problem: it names an id that is not
                # in this clinic, or breaks a rule the schema cannot state (a taper's limits, a date's order).
                # Any other refusal (415, 406, 422 …) of a valid request is still a failure.
                "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404", "409"]},
            },
            "auth": {"openapi": {"clinicToken": {"bearer": token}}},
        }
    )


@pytest.fixture
def api_schema(db, app):
    clinic = _seed_clinic()
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app, config=_config(_token(clinic)))
    if ONLY:
        schema = schema.include(path_regex=ONLY)
    ids = _existing_ids(clinic)

    @schema.hook
    def before_generate_path_parameters(context, strategy):
        # Half the detail calls name a row that exists; the rest keep Schemathesis' own (unknown) ids.
        path = context.operation.path if context.operation is not None else ""
        known = next((found for prefix, found in ids.items() if path.startswith(prefix + "{")), [])
        if not known:
            return strategy
        return st.one_of(strategy, st.sampled_from(sorted(known)).map(lambda pk: {"id": pk}))

    return schema


@dataclass
class Tally:
    """What the run did and found, per operation: calls, statuses, failures by kind (with one example)."""

    calls: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    failures: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    server_exceptions: Counter = field(default_factory=Counter)
    last_status: int | None = None

    def summary(self) -> str:
        kinds = Counter(kind for (_, kind), found in self.failures.items() for _ in found)
        lines = [
            f"operations {len(self.calls)}, calls {sum(self.calls.values())}, "
            f"statuses {dict(sorted(self.statuses.items()))}, failures {dict(kinds)}"
        ]
        for (label, kind), found in sorted(self.failures.items()):
            lines.append(f"  {label}: {kind} x{len(found)}: {found[0][:600]}")
        for name, count in self.server_exceptions.most_common():
            lines.append(f"  server exception x{count}: {name}")
        return "\n".join(lines)


def test_the_schema_tells_the_truth(api_schema):
    tally = Tally()

    @api_schema.hook
    def after_call(context, case, response):
        tally.calls[case.operation.label] += 1
        tally.statuses[response.status_code] += 1
        tally.last_status = response.status_code

    def on_exception(sender, request, **kwargs):
        error = sys.exc_info()[1]
        where = f"{request.method} {request.path}"
        tally.server_exceptions[f"{where}: {type(error).__name__}: {error}"[:300]] += 1
        if VERBOSE:
            traceback.print_exc()

    def call(case):
        # Generated keys repeat ("0", "00" …): a valid one is made unique, or nearly every write would be the
        # 422 of a key reused with another body, and never reach its serializer.
        if case.headers and VALID_KEY.match(str(case.headers.get("Idempotency-Key", ""))):
            case.headers["Idempotency-Key"] = uuid.uuid4().hex
        try:
            case.call_and_validate()
        except FailureGroup as group:
            for failure in group.exceptions:
                sent = {"status": tally.last_status, "query": case.query, "body": case.body}
                tally.failures[(case.operation.label, type(failure).__name__)].append(
                    f"{failure.title}: {failure.message} {sent if VERBOSE else ''}"
                )

    got_request_exception.connect(on_exception)
    try:
        schema = api_schema.clone(test_function=call)
        started = time.monotonic()
        for result in get_all_tests(schema=schema, test_func=call, settings=None, given_kwargs=None):
            _operation, test = result.ok()
            test()
    finally:
        got_request_exception.disconnect(on_exception)
    print(f"\nSchemathesis ({EXAMPLES} examples, seed {SEED}, {time.monotonic() - started:.0f} s):")
    print(tally.summary())
    assert not tally.failures, tally.summary()


@pytest.mark.django_db
def test_a_url_the_resolver_does_not_know_is_a_problem_under_the_api_only(client):
    # The router's ids exclude ".": Django answers these itself, before DRF.
    response = client.get("/api/v1/alerts/0.5/acknowledge/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")
