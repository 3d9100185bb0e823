"""One Actor behind every interface: the same label and user in audit, the same role table for a person,
a token, a patient's link and a job."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from api.authentication import ApiPrincipal
from api.services import api_client_create
from clinic.actors import SYSTEM, ActorKind, as_actor
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Perm, Role

pytestmark = pytest.mark.django_db


def test_a_person_is_judged_by_their_membership_of_the_clinic_in_scope(clinic_a, clinic_b, staff_a):
    psychiatrist = as_actor(staff_a[Role.PSYCHIATRIST])
    assert psychiatrist.kind == ActorKind.USER
    assert psychiatrist.user == staff_a[Role.PSYCHIATRIST]
    assert psychiatrist.label == staff_a[Role.PSYCHIATRIST].email
    with tenant_context(clinic_a):
        assert psychiatrist.allows(Perm.TAPER_APPROVE)
        assert not as_actor(staff_a[Role.NURSE]).allows(Perm.TAPER_APPROVE)
    with tenant_context(clinic_b):  # the same person has no role in another clinic
        assert not psychiatrist.allows(Perm.TAPER_APPROVE)


def test_a_token_carries_its_roles_and_acts_for_no_person(clinic_a):
    with tenant_context(clinic_a):
        client, _ = api_client_create(actor=None, name="EHR sync", roles=[Role.NURSE])
        actor = as_actor(ApiPrincipal(client))
        assert actor.kind == ActorKind.API_CLIENT and actor.user is None
        assert actor.label.startswith("api:EHR sync (")
        assert actor.allows(Perm.TAPER_RECORD_DOSE)
        assert not actor.allows(Perm.TAPER_APPROVE)


def test_nobody_and_anonymous_act_as_the_system_which_no_role_allows(clinic_a):
    assert as_actor(None) is SYSTEM
    assert as_actor(AnonymousUser()) is SYSTEM
    with tenant_context(clinic_a):
        assert not SYSTEM.allows(Perm.PATIENT_VIEW)


def test_something_that_cannot_act_is_refused():
    class Impostor:
        is_authenticated = True

    with pytest.raises(TypeError, match="cannot act"):
        as_actor(Impostor())
