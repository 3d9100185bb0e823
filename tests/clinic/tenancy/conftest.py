"""One World per test module, built once inside an outer transaction that is rolled back at the end.

Building two clinics with an object behind every route kwarg, a member per role and tokens takes far
longer than one request; doing it once per module instead of once per test keeps the walker and the
role matrix (thousands of cases, growing with every route) fast. Each test still runs in its own
savepoint (pytest-django's `db`), so nothing a test writes leaks into the next.
"""

from __future__ import annotations

import contextlib

import pytest
from django.db import transaction

from clinic.tenancy.roles import Role
from tests.clinic.tenancy.routes import API_ROUTES, CLINIC_ROUTES
from tests.clinic.tenancy.world import World
from tests.conftest import make_clinic


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = World(make_clinic("walk-a", name="Walker A"), make_clinic("walk-b", name="Walker B"))
            for route in CLINIC_ROUTES + API_ROUTES:
                # An unregistered kwarg: that route's own tests fail with the explanation.
                with contextlib.suppress(LookupError):
                    built.prepare(route)
            # Every credential the tests use, made once: a session and a token per role and for all roles.
            for clinic in (built.a, built.b):
                for roles in [[role] for role in Role] + [list(Role)]:
                    built.session(clinic, roles)
                    built.token_client(clinic, roles)
            built.freeze()
            yield built
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
