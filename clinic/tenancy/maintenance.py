"""The explicit maintenance bypass: run as the table-owner role.

Only management commands (migrate, flush, the audit-chain verifier) and the test harness may import
this; `tests/clinic/tenancy/test_unscoped_allowlist.py` enforces that. Request and job code never can: the
owner credentials are swapped in on a closed connection, never exposed to a view or task.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

_SWAPPED = ("USER", "PASSWORD", "HOST", "PORT")


@contextmanager
def owner_connection(alias: str = "default") -> Iterator[None]:
    conn = connections[alias]
    owner = settings.DATABASE_OWNER
    if owner is None:  # web, worker and beat run without the owner URL (settings.DATABASE_OWNER_URL)
        raise ImproperlyConfigured("DATABASE_OWNER_URL is not set: maintenance needs the owner role")
    if conn.settings_dict["USER"] == owner["USER"]:
        yield  # already the owner (nested use, or a deployment with one role)
        return
    if conn.in_atomic_block:
        raise RuntimeError("owner_connection cannot start inside a transaction")
    saved = {key: conn.settings_dict.get(key) for key in _SWAPPED}
    conn.close()
    conn.settings_dict.update({key: owner.get(key) for key in _SWAPPED})
    try:
        yield
    finally:
        conn.close()
        conn.settings_dict.update(saved)
