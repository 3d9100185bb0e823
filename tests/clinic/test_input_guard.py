"""A NUL in a browser query string or form body is a 400, before a view passes it to Postgres (a 500)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinic.tenancy.roles import Role
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def nurse_client(staff_a):
    return client_for(staff_a[Role.NURSE])


def _patients(clinic) -> str:
    return reverse("patients:list", kwargs={"clinic_slug": clinic.slug})


def test_a_search_with_a_nul_is_a_400_not_a_database_error(nurse_client, clinic_a):
    assert nurse_client.get(_patients(clinic_a), {"q": "Ro"}).status_code == 200
    refused = nurse_client.get(_patients(clinic_a), {"q": "Ro\x00se"})
    assert refused.status_code == 400
    assert b"\x00" not in refused.content


def test_a_form_post_with_a_nul_is_a_400(nurse_client, clinic_a):
    refused = nurse_client.post(_patients(clinic_a), {"anything": "x\x00"})
    assert refused.status_code == 400


def test_the_api_answers_for_itself(clinic_a):
    """The API keeps its problem+json answers (api/filters.py): the browser guard leaves /api/ alone."""
    from tests.conftest import token_client

    api = token_client(clinic_a, Role.NURSE)
    response = api.get("/api/v1/patients/", {"mrn": "a\x00b"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "mrn" in response.json()["errors"]
