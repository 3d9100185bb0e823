"""Every API list read is audited by the base class: one LIST event per request, whatever the endpoint."""

from __future__ import annotations

import pytest
from django.test import Client

from api.services import api_client_create
from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from tests.clinic.tenancy.routes import API_ROUTES

LIST_ROUTES = [route for route in API_ROUTES if "get" in route.actions and route.actions["get"] == "list"]


def test_list_routes_exist():
    assert any("patients" in route.pattern for route in LIST_ROUTES)


@pytest.mark.django_db
@pytest.mark.parametrize("route", LIST_ROUTES, ids=str)
def test_each_list_read_writes_one_list_event(route, clinic_a):
    with tenant_context(clinic_a):
        _, token = api_client_create(actor=None, name="Audit probe", roles=list(Role))
        before = AuditEvent.objects.filter(action=AuditEvent.Action.LIST).count()
    url = route.url(**{name: "json" for name in route.kwargs if name == "format"})
    response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(url)
    assert response.status_code == 200, response.content[:300]
    with tenant_context(clinic_a):
        events = AuditEvent.objects.filter(action=AuditEvent.Action.LIST).order_by("id")[before:]
        assert [event.object_type for event in events] == [route.viewset.model._meta.label_lower]
