"""The clinic admin's browser, for the staff, invitation, API-client and clinic-settings pages."""

from __future__ import annotations

import pytest

from clinic.tenancy.roles import Role


@pytest.fixture
def clinic_admin_client(client, staff_a):
    client.force_login(staff_a[Role.CLINIC_ADMIN])
    return client
