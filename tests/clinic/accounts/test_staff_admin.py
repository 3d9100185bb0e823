"""Changing roles, removing members, and the last-admin guard."""

from __future__ import annotations

import pytest

from clinic.tenancy.models import Membership
from clinic.tenancy.roles import Role
from tests.clinic.accounts.helpers import clinic_audit_events, staff_url
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client, staff_a):
    client.force_login(staff_a[Role.CLINIC_ADMIN])
    return staff_a[Role.CLINIC_ADMIN]


def membership(user, clinic) -> Membership:
    return Membership.objects.get(user=user, clinic=clinic)


def test_staff_page_lists_members_and_forms(client, admin, clinic_a, staff_a, staff_b):
    members, outsider = list(staff_a.values()), staff_b[Role.NURSE]  # all made before the page is read
    page = client.get(staff_url(clinic_a, "staff"))
    assert page.status_code == 200
    body = page.content.decode()
    for user in members:
        assert user.email in body
    assert outsider.email not in body  # other clinic's staff never shown
    assert 'name="email"' in body and 'for="id_email"' in body


def test_admin_changes_roles_and_it_is_audited(client, admin, clinic_a, staff_a):
    nurse = membership(staff_a[Role.NURSE], clinic_a)
    form = client.get(staff_url(clinic_a, "member-roles", membership_id=nurse.pk))
    assert form.status_code == 200 and b"Roles of" in form.content
    response = client.post(
        staff_url(clinic_a, "member-roles", membership_id=nurse.pk), {"roles": ["nurse", "psychiatrist"]}
    )
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert nurse.roles == ["nurse", "psychiatrist"]
    [event] = clinic_audit_events(clinic_a, object_id=str(nurse.pk))
    assert event.detail["event"] == "roles_changed" and event.detail["after"] == ["nurse", "psychiatrist"]
    assert event.actor_id == admin.pk


def test_roles_inline_with_htmx(client, admin, clinic_a, staff_a):
    nurse = membership(staff_a[Role.NURSE], clinic_a)
    url = staff_url(clinic_a, "member-roles", membership_id=nurse.pk)
    editor = client.get(url, headers={"HX-Request": "true"})
    assert editor.status_code == 200
    assert editor.content.decode().lstrip().startswith("<tr") and b"Save roles" in editor.content
    saved = client.post(url, {"roles": ["admissions"]}, headers={"HX-Request": "true"})
    assert saved.status_code == 200 and b"Admissions" in saved.content and b"<form" not in saved.content
    assert membership(staff_a[Role.NURSE], clinic_a).roles == ["admissions"]


def test_no_roles_is_a_form_error(client, admin, clinic_a, staff_a):
    nurse = membership(staff_a[Role.NURSE], clinic_a)
    response = client.post(staff_url(clinic_a, "member-roles", membership_id=nurse.pk), {"roles": []})
    assert response.status_code == 200 and response.context["form"].errors["roles"]
    assert membership(staff_a[Role.NURSE], clinic_a).roles == ["nurse"]


def test_last_admin_cannot_drop_admin_role(client, admin, clinic_a):
    own = membership(admin, clinic_a)
    response = client.post(staff_url(clinic_a, "member-roles", membership_id=own.pk), {"roles": ["nurse"]})
    assert response.status_code == 200
    assert "last admin" in str(response.context["form"].errors)
    assert membership(admin, clinic_a).roles == ["clinic_admin"]
    assert clinic_audit_events(clinic_a) == []


def test_last_admin_cannot_be_removed(client, admin, clinic_a):
    own = membership(admin, clinic_a)
    response = client.post(staff_url(clinic_a, "member-deactivate", membership_id=own.pk))
    assert response.status_code == 400 and b"last admin" in response.content
    assert membership(admin, clinic_a).is_active


def test_with_a_second_admin_the_first_may_step_down(client, admin, clinic_a):
    make_member(clinic_a, Role.CLINIC_ADMIN, email="second.admin@example.org")
    own = membership(admin, clinic_a)
    response = client.post(
        staff_url(clinic_a, "member-roles", membership_id=own.pk), {"roles": ["clinician"]}
    )
    assert response.status_code == 302
    assert membership(admin, clinic_a).roles == ["clinician"]
    # Now a clinician: the admin pages are closed to them.
    assert client.get(staff_url(clinic_a, "staff")).status_code == 403


def test_deactivate_member(client, admin, clinic_a, staff_a):
    nurse_user = staff_a[Role.NURSE]
    nurse = membership(nurse_user, clinic_a)
    confirm = client.get(staff_url(clinic_a, "member-deactivate", membership_id=nurse.pk))
    assert confirm.status_code == 200 and b"Remove from clinic" in confirm.content
    assert client.post(staff_url(clinic_a, "member-deactivate", membership_id=nurse.pk)).status_code == 302
    assert not membership(nurse_user, clinic_a).is_active
    [event] = clinic_audit_events(clinic_a, object_id=str(nurse.pk))
    assert event.detail["event"] == "membership_deactivated"
    # The removed person can no longer open the clinic.
    client.force_login(nurse_user)
    assert client.get(f"/c/{clinic_a.slug}/").status_code == 404


def test_other_clinics_member_is_404(client, admin, clinic_a, staff_b, clinic_b):
    foreign = membership(staff_b[Role.NURSE], clinic_b)
    for name in ("member-roles", "member-deactivate"):
        response = client.post(
            staff_url(clinic_a, name, membership_id=foreign.pk), {"roles": ["clinic_admin"]}
        )
        assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.roles == ["nurse"] and foreign.is_active


@pytest.mark.parametrize("role", [r for r in Role if r != Role.CLINIC_ADMIN])
def test_non_admins_are_refused(client, clinic_a, staff_a, role):
    client.force_login(staff_a[role])
    nurse = membership(staff_a[Role.NURSE], clinic_a)
    assert client.get(staff_url(clinic_a, "staff")).status_code == 403
    assert (
        client.post(
            staff_url(clinic_a, "member-roles", membership_id=nurse.pk), {"roles": ["clinic_admin"]}
        ).status_code
        == 403
    )
    assert client.get(staff_url(clinic_a, "settings")).status_code == 403
    assert client.get(staff_url(clinic_a, "api-clients:list")).status_code == 403
    assert membership(staff_a[Role.NURSE], clinic_a).roles == ["nurse"]
