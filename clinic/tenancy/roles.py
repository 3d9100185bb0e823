"""Staff roles and the one permission table that decides what each role may do.

Views, API endpoints and templates ask `role_allows(roles, Perm.X)`; nothing else grants access.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    CLINIC_ADMIN = "clinic_admin"
    ADMISSIONS = "admissions"
    CLINICIAN = "clinician"
    NURSE = "nurse"
    PSYCHIATRIST = "psychiatrist"
    AUDITOR = "auditor"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.CLINIC_ADMIN: "Clinic admin",
    Role.ADMISSIONS: "Admissions",
    Role.CLINICIAN: "Clinician (therapist)",
    Role.NURSE: "Nurse",
    Role.PSYCHIATRIST: "Psychiatrist",
    Role.AUDITOR: "Auditor",
}
ROLE_CHOICES = [(role.value, role.label) for role in Role]


class Perm(StrEnum):
    PATIENT_VIEW = "patient.view"
    PATIENT_CREATE = "patient.create"
    PATIENT_EDIT = "patient.edit"
    AUDIT_VIEW = "audit.view"
    STAFF_MANAGE = "staff.manage"
    CLINIC_SETTINGS = "clinic.settings"
    API_CLIENT_MANAGE = "api_client.manage"


_CARE_TEAM = frozenset({Role.CLINICIAN, Role.NURSE, Role.PSYCHIATRIST})

PERMISSIONS: dict[Perm, frozenset[Role]] = {
    Perm.PATIENT_VIEW: _CARE_TEAM | {Role.ADMISSIONS, Role.CLINIC_ADMIN},
    Perm.PATIENT_CREATE: frozenset({Role.ADMISSIONS, Role.CLINIC_ADMIN, Role.NURSE, Role.PSYCHIATRIST}),
    Perm.PATIENT_EDIT: _CARE_TEAM | {Role.ADMISSIONS, Role.CLINIC_ADMIN},
    Perm.AUDIT_VIEW: frozenset({Role.CLINIC_ADMIN, Role.AUDITOR}),
    Perm.STAFF_MANAGE: frozenset({Role.CLINIC_ADMIN}),
    Perm.CLINIC_SETTINGS: frozenset({Role.CLINIC_ADMIN}),
    Perm.API_CLIENT_MANAGE: frozenset({Role.CLINIC_ADMIN}),
}

assert set(PERMISSIONS) == set(Perm), "every permission needs a row in the table"


def role_allows(roles: Iterable[str], perm: Perm) -> bool:
    allowed = PERMISSIONS[perm]
    return any(role in allowed for role in roles)
