"""`tenant_context(clinic)`: the one way into a clinic's data.

It enters the django-scopes ORM scope and sets `stepdown.clinic_id`, the Postgres setting that the
row-level-security policies read, transaction-locally. Web middleware, the API base view, the Celery
base task and the scoped shell all go through here.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection, transaction
from django.utils import timezone
from django_scopes import scope

from clinic.tenancy.models import Clinic

DB_SETTING = "stepdown.clinic_id"

_current: ContextVar[Clinic | None] = ContextVar("stepdown_clinic", default=None)


class NoClinicInScope(RuntimeError):
    pass


def current_clinic() -> Clinic | None:
    return _current.get()


def require_clinic() -> Clinic:
    clinic = _current.get()
    if clinic is None:
        raise NoClinicInScope("This needs a clinic: wrap it in tenant_context(clinic)")
    return clinic


def clinic_today() -> datetime.date:
    """Today where the clinic in scope is: doses, consents and check-ins are its calendar days."""
    return timezone.localdate(timezone=zoneinfo.ZoneInfo(require_clinic().timezone))


def _set_db_clinic(clinic_id: int | None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(%s, %s, true)", [DB_SETTING, "" if clinic_id is None else str(clinic_id)]
        )


@contextmanager
def tenant_context(clinic: Clinic) -> Iterator[Clinic]:
    """Run the block as `clinic`, inside a transaction (a savepoint if one is open)."""
    if not isinstance(clinic, Clinic) or clinic.pk is None:
        # Never "no clinic": django-scopes' scope(clinic=None) would silently unscope.
        raise TypeError(f"tenant_context needs a saved Clinic, got {clinic!r}")
    outer = _current.get()
    if outer is not None and outer.pk != clinic.pk:
        raise RuntimeError(f"Already inside clinic {outer.slug}; leave it before entering {clinic.slug}")
    token = _current.set(clinic)
    try:
        with transaction.atomic(), scope(clinic=clinic):
            _set_db_clinic(clinic.pk)
            yield clinic
            # On error the rollback restores the setting; on success put back what the outer block had.
            # A block marked for rollback without raising (DRF does this for every 4xx under
            # ATOMIC_REQUESTS) accepts no more queries, and its rollback restores the setting too.
            if not transaction.get_rollback():
                _set_db_clinic(outer.pk if outer else None)
    finally:
        _current.reset(token)
