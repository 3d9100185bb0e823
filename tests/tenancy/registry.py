"""What each URL kwarg names, and how to make one of those objects in a given clinic.

The cross-tenant walker and the role matrix fill every route's kwargs from here. A route whose kwarg is
not registered fails those tests with a message pointing at this file: register a factory (one
decorated function) and the new route is covered, with no change to the tests themselves.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model

from api.models import ApiClient
from clinic.accounts.models import Invitation
from clinic.audit.chain import chain_key
from clinic.audit.models import AuditChainHead
from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic, Membership
from clinic.tenancy.rls import tenant_models
from clinic.tenancy.roles import Role
from patients.models import Patient

# Kwargs that are not objects: the value to put in the URL (None = the walker decides, e.g. the clinic).
PLAIN_KWARGS: dict[str, str | None] = {"clinic_slug": None, "format": "json"}


@dataclass(frozen=True)
class ObjectFactory:
    model: type[Model]
    create: Callable[[Clinic], Model]
    # A body that would be a valid write of this kind of object, so a write attempt on another clinic's
    # object is a real attempt (an empty POST could fail validation before any tenancy bug showed).
    valid_data: Callable[[], dict[str, Any]]


_BY_MODEL: dict[type[Model], ObjectFactory] = {}
_MODEL_BY_KWARG: dict[str, type[Model]] = {}
_serial = itertools.count(1)


def register(model: type[Model], *, kwargs: tuple[str, ...], valid_data: Callable[[], dict] = dict):
    def decorator(create: Callable[[Clinic], Model]) -> Callable[[Clinic], Model]:
        _BY_MODEL[model] = ObjectFactory(model=model, create=create, valid_data=valid_data)
        for name in kwargs:
            _MODEL_BY_KWARG[name] = model
        return create

    return decorator


class UnregisteredKwarg(LookupError):
    pass


def factory_for_kwarg(name: str) -> ObjectFactory:
    model = _MODEL_BY_KWARG.get(name)
    if model is None:
        raise UnregisteredKwarg(
            f"URL kwarg {name!r} is not in tests/tenancy/registry.py. Register a factory for the model it "
            f"names (@register(Model, kwargs=({name!r},))) so the cross-tenant walker and the role matrix "
            "cover the route."
        )
    return _BY_MODEL[model]


def factory_for_model(model: type[Model]) -> ObjectFactory:
    if model not in _BY_MODEL:
        raise UnregisteredKwarg(
            f"{model._meta.label} is served by the API but has no factory in tests/tenancy/registry.py. "
            f"Register one (@register({model.__name__}, kwargs=(…))) so the walker covers its routes."
        )
    return _BY_MODEL[model]


# --- factories -------------------------------------------------------------------------------------------
def patient_data() -> dict[str, Any]:
    n = next(_serial)
    return {
        "first_name": f"Walker{n}",
        "last_name": "Probe",
        "date_of_birth": datetime.date(1975, 1, 1 + n % 28),
        "sex_at_birth": Patient.SexAtBirth.UNKNOWN,
        "status": Patient.Status.ACTIVE,
    }


@register(Patient, kwargs=("patient_id",), valid_data=patient_data)
def make_patient_in(clinic: Clinic) -> Patient:
    from patients.services import patient_create

    with tenant_context(clinic):
        return patient_create(actor=None, fields=patient_data())


@register(Membership, kwargs=("membership_id",), valid_data=lambda: {"roles": [Role.NURSE.value]})
def make_membership_in(clinic: Clinic) -> Membership:
    from tests.conftest import make_member

    return make_member(
        clinic, Role.NURSE, email=f"member{next(_serial)}@{clinic.slug}.example.org"
    ).memberships.get()


@register(
    ApiClient, kwargs=("client_id", "api_client_id"), valid_data=lambda: {"name": "Probe", "roles": ["nurse"]}
)
def make_api_client_in(clinic: Clinic) -> ApiClient:
    from api.services import api_client_create

    with tenant_context(clinic):
        return api_client_create(actor=None, name=f"Probe {next(_serial)}", roles=[Role.NURSE])[0]


@register(
    Invitation,
    kwargs=("invitation_id",),
    valid_data=lambda: {"email": "probe@example.org", "roles": ["nurse"]},
)
def make_invitation_in(clinic: Clinic) -> Invitation:
    from clinic.accounts.services import invitation_create

    with tenant_context(clinic):
        return invitation_create(
            actor=None,
            email=f"invitee{next(_serial)}@example.org",
            roles=[Role.NURSE],
            site_url="http://testserver",
        )


# --- snapshots ---------------------------------------------------------------------------------------------
def _tenant_rows(model: type[Model]) -> list[tuple]:
    # Raw SQL under the clinic's RLS setting: sees exactly the rows the database files under this clinic,
    # whatever the model's managers do.
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY 1")
        return cursor.fetchall()


def snapshot(clinic: Clinic, *, skip_append_only: bool = False) -> dict[str, list]:
    """Every row belonging to `clinic`: its tenant tables plus the platform rows that point at it."""
    state: dict[str, list] = {}
    with tenant_context(clinic):
        for model in tenant_models():
            if skip_append_only and getattr(model, "append_only", False):
                continue
            state[model._meta.label] = _tenant_rows(model)
    for model in _platform_models_with_clinic():
        state[model._meta.label] = list(model._base_manager.filter(clinic=clinic).order_by("pk").values())
    state["tenancy.Clinic"] = list(Clinic.objects.filter(pk=clinic.pk).values())
    if not skip_append_only:
        state["audit.AuditChainHead"] = list(
            AuditChainHead.objects.filter(chain=chain_key(clinic.pk)).values()
        )
    members = Membership.objects.filter(clinic=clinic).values_list("user_id", flat=True)
    from clinic.accounts.models import User

    state["accounts.User"] = list(User.objects.filter(pk__in=list(members)).order_by("pk").values())
    return state


def _platform_models_with_clinic() -> list[type[Model]]:
    from django.apps import apps

    tenant = set(tenant_models())
    found = []
    for model in apps.get_models():
        if model in tenant or not model._meta.managed:
            continue
        field = next((f for f in model._meta.concrete_fields if f.name == "clinic"), None)
        if field is not None and field.is_relation and field.related_model is Clinic:
            found.append(model)
    return found
