"""Shared fixtures and the conventions every test directory follows.

Layout: tests/<package>/… mirrors the application packages (tests/clinic/tenancy ↔ clinic/tenancy,
tests/patients/consent ↔ patients/consent, tests/vitals/checkins ↔ vitals/checkins, tests/taper/plans and
tests/taper/documents beside the engine tests of taper/, tests/demo ↔ the demo app). Only tests/e2e
(browser flows across apps) and tests/architecture (the layer rules) stand outside the mirror.

Pure tests and database tests:
- A *pure* test asks for no `db` fixture and no `django_db` mark: plain data in and out of a pure module
  (clinical math, X12, rules; see PURE_MODULES in tests/architecture/test_layers.py). It touches neither
  Postgres nor Redis (`_clear_cache` below skips it), so it is fast and runs anywhere.
- A *database* test is marked `django_db` (or asks for `db` or any fixture below). The test database is
  created and migrated as the owner role; every test then talks to it as the application role, so
  row-level security binds the tests exactly as it binds the app. Each test runs in a transaction that is
  rolled back; browser (tests/e2e) and real-worker tests need committed rows: `django_db(transaction=True)`.

Named clinics and people (one meaning everywhere; a local conftest never redefines these names):
- `clinic_a` (Alder Clinic, slug clinic-a) and `clinic_b` (Birch Clinic, slug clinic-b).
- `staff_a` / `staff_b`: one member per role (`staff_a[Role.NURSE]`, …), made when first asked for.
- The people of clinic A by role: `clinic_admin`, `admissions`, `clinician`, `nurse`, `psychiatrist`,
  `auditor` (each is `staff_a[Role.X]`).
- `patient_a` (Avery Alder, in intake) and `patient_b` (Blake Birch), one in each clinic.
- Helpers: `make_clinic`, `make_member`, `make_patient`, `client_for(user)` (a signed-in browser),
  `token_client(clinic, *roles)` (an API client with a bearer token).
- Naming: `<role>` is a user, `<role>_client` a signed-in browser Client, `<role>_api` a token Client.
  Fixtures for one purpose stay in their directory's conftest (e.g. the active `patient` of the check-in
  tests, the tenancy walker's World, the browser tests' own clinics with committed data).

How a run is isolated (so two runs, or a run beside `python3 dev.py run`, never collide):
- Unless TEST_DATABASE_NAME, CACHE_KEY_PREFIX or CELERY_QUEUE are set, a run uses the test database
  `test_stepdown_<pid>` and the cache prefix and Celery queue `test-<pid>` (`_name_this_run`).
- Each xdist worker adds its id: database `…_gw0` (pytest-django), prefix and queue `…-gw0`.
- A database test starts with this run's cache keys deleted (never FLUSHDB); at the end the run's keys and
  its queue leave Redis. `python3 dev.py test` first drops what killed runs left (their pid is gone).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator, Mapping

import pytest
from django.test import Client
from django.test.utils import setup_databases, teardown_databases

from clinic.tenancy.maintenance import owner_connection
from clinic.tenancy.roles import Role

PASSWORD = "correct-horse-battery-staple"


def pytest_configure(config):
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        _name_this_run(os.getpid())
    else:
        _isolate_xdist_worker(worker)
    _share_the_middleware_chain()


def _share_the_middleware_chain() -> None:
    """Every test Client builds its middleware on its first request, and WhiteNoise's walks every static
    file then: ~40 ms per Client, thousands of Clients per run (half a role-matrix case). Build it once,
    as a server process does; any settings change (`settings` fixture, override_settings) starts afresh."""
    from django.core.signals import setting_changed
    from django.test.client import ClientHandler

    built: dict[str, tuple] = {}
    build = ClientHandler.load_middleware
    parts = ("_view_middleware", "_template_response_middleware", "_exception_middleware")

    def load_middleware(self, is_async=False):
        if is_async:
            return build(self, is_async)
        if "chain" not in built:
            build(self)
            # The chain calls back into the handler that built it; that one's lists go with it.
            built["chain"] = (self._middleware_chain, *(getattr(self, part) for part in parts))
        chain, *lists = built["chain"]
        for part, value in zip(parts, lists, strict=True):
            setattr(self, part, value)
        self._middleware_chain = chain

    def forget(**kwargs):
        built.clear()

    ClientHandler.load_middleware = load_middleware
    setting_changed.connect(forget, weak=False)


def _name_this_run(pid: int) -> None:
    """Unless the caller chose them, this run's test database, cache prefix and Celery queue carry its pid,
    so two runs (or a run beside `dev.py run`, whose worker listens on `stepdown`) never share one.

    `python3 dev.py test` drops what a killed run left behind (these patterns, pid gone). Settings are
    loaded before any conftest, so the environment alone is too late for this process: change the settings
    as well (nothing has opened the test database or the cache, or read the Celery config, yet). The
    environment carries the names to xdist workers and subprocesses (real Celery workers).
    """
    names = {
        "TEST_DATABASE_NAME": f"test_stepdown_{pid}",
        "CACHE_KEY_PREFIX": f"test-{pid}",
        "CELERY_QUEUE": f"test-{pid}",
    }
    for name, value in names.items():
        os.environ.setdefault(name, value)
    _use_names(
        database=os.environ["TEST_DATABASE_NAME"],
        prefix=os.environ["CACHE_KEY_PREFIX"],
        queue=os.environ["CELERY_QUEUE"],
    )


def _isolate_xdist_worker(worker: str) -> None:
    """Each xdist worker: its own cache prefix and queue (`-gw<n>`) beside its own database (pytest-django's
    `_gw<n>` suffix, see django_db_setup), so workers never clear or consume each other's keys."""
    from django.conf import settings

    _use_names(
        database=settings.DATABASES["default"]["TEST"]["NAME"],
        prefix=f"{os.environ['CACHE_KEY_PREFIX']}-{worker}",
        queue=f"{os.environ['CELERY_QUEUE']}-{worker}",
    )


def _use_names(*, database: str, prefix: str, queue: str) -> None:
    from django.conf import settings

    from clinic.celery import app

    settings.DATABASES["default"]["TEST"]["NAME"] = database
    settings.CACHES["default"]["KEY_PREFIX"] = prefix
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    app.conf.CELERY_TASK_DEFAULT_QUEUE = queue  # the namespaced key is the one Celery reads
    os.environ.update(CACHE_KEY_PREFIX=prefix, CELERY_QUEUE=queue)
    assert app.conf.task_default_queue == queue


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_modify_db_settings, django_db_blocker):
    """Create and migrate the test database as the owner role.

    `django_db_modify_db_settings` is pytest-django's hook that appends the xdist worker's `_gw<n>` to the
    test database name; without it two workers would share (and drop) one database.
    """
    with django_db_blocker.unblock(), owner_connection():
        config = setup_databases(verbosity=0, interactive=False, keepdb=False)
    yield
    with django_db_blocker.unblock(), owner_connection():
        teardown_databases(config, verbosity=0)


@pytest.fixture(scope="session")
def _run_redis():
    """This run's Redis client; at the end, removes the run's keys: its cache entries and its Celery queue
    (tasks enqueued on commit with no worker listening would otherwise stay in Redis for good)."""
    from django.conf import settings
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)
    yield client
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    patterns = [f"{settings.CACHES['default']['KEY_PREFIX']}:*", f"{queue}\x06\x16*"]
    keys = [key for pattern in patterns for key in client.scan_iter(pattern, count=500)]
    client.delete(*keys, queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


def _uses_database(request) -> bool:
    # `db`, `transactional_db` and module worlds all stand on django_db_setup; the mark asks for it later.
    marked = request.node.get_closest_marker("django_db") is not None
    return marked or "django_db_setup" in request.fixturenames


@pytest.fixture(autouse=True)
def _clear_cache(request):
    """Rate-limit counters and cached census live in Redis; each database test starts clean. Pure tests
    (no database) never touch Redis, so they run without one.

    Deletes only this run's keys (CACHE_KEY_PREFIX): a FLUSHDB would also empty the Celery broker
    and any other run sharing the Redis server.
    """
    if _uses_database(request):
        from django.conf import settings

        client = request.getfixturevalue("_run_redis")
        for key in client.scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*", count=500):
            client.delete(key)
    yield


def make_clinic(slug: str, **extra):
    from clinic.tenancy.models import Clinic

    return Clinic.objects.create(slug=slug, name=extra.pop("name", slug.replace("-", " ").title()), **extra)


def make_member(clinic, role: str, email: str | None = None):
    from clinic.accounts.models import User
    from clinic.tenancy.models import Membership

    email = email or f"{role}@{clinic.slug}.example.org"
    user = User.objects.create_user(email=email, password=PASSWORD, full_name=f"{role.title()} {clinic.slug}")
    Membership.objects.create(user=user, clinic=clinic, roles=[role])
    return user


def make_patient(clinic, **fields):
    from clinic.tenancy.context import tenant_context
    from patients.models import Patient

    values = {
        "first_name": "Test",
        "last_name": "Patient",
        "date_of_birth": datetime.date(1980, 5, 17),
        **fields,
    }
    with tenant_context(clinic):
        if "mrn" not in values:
            values["mrn"] = f"SD-{Patient.objects.count() + 1:06d}"
        return Patient.objects.create(**values)


def client_for(user) -> Client:
    """A browser signed in as `user`."""
    client = Client(raise_request_exception=True)
    client.force_login(user)
    return client


def token_client(clinic, *roles: str, name: str = "EHR sync") -> Client:
    """An API client of `clinic` with `roles`, holding a fresh bearer token (`name` is its audit label)."""
    from api.services import api_client_create
    from clinic.tenancy.context import tenant_context

    with tenant_context(clinic):
        _, token = api_client_create(actor=None, name=name, roles=list(roles))
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


class Staff(Mapping):
    """One member of `clinic` per role (`staff[Role.NURSE]`, …), made the first time a test asks for that
    role: a test has only the people it names (a staff list or an on-call list shows no one else)."""

    def __init__(self, clinic) -> None:
        self.clinic = clinic
        self._made: dict[Role, object] = {}

    def __getitem__(self, role: str):
        try:
            role = Role(role)
        except ValueError:
            raise KeyError(role) from None
        if role not in self._made:
            self._made[role] = make_member(self.clinic, role)
        return self._made[role]

    def __iter__(self) -> Iterator[Role]:
        return iter(Role)

    def __len__(self) -> int:
        return len(Role)


# --- the named clinics, people and patients -------------------------------------------------------------
@pytest.fixture
def clinic_a(db):
    return make_clinic("clinic-a", name="Alder Clinic")


@pytest.fixture
def clinic_b(db):
    return make_clinic("clinic-b", name="Birch Clinic")


@pytest.fixture
def staff_a(clinic_a) -> Staff:
    return Staff(clinic_a)


@pytest.fixture
def staff_b(clinic_b) -> Staff:
    return Staff(clinic_b)


@pytest.fixture
def clinic_admin(staff_a):
    return staff_a[Role.CLINIC_ADMIN]


@pytest.fixture
def admissions(staff_a):
    return staff_a[Role.ADMISSIONS]


@pytest.fixture
def clinician(staff_a):
    return staff_a[Role.CLINICIAN]


@pytest.fixture
def nurse(staff_a):
    return staff_a[Role.NURSE]


@pytest.fixture
def psychiatrist(staff_a):
    return staff_a[Role.PSYCHIATRIST]


@pytest.fixture
def auditor(staff_a):
    return staff_a[Role.AUDITOR]


@pytest.fixture
def patient_a(clinic_a):
    return make_patient(clinic_a, first_name="Avery", last_name="Alder")


@pytest.fixture
def patient_b(clinic_b):
    return make_patient(clinic_b, first_name="Blake", last_name="Birch")
