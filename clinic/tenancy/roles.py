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
    INQUIRY_VIEW = "inquiry.view"
    INQUIRY_MANAGE = "inquiry.manage"
    CLINICAL_VIEW = "clinical.view"
    ASSESSMENT_SIGN = "assessment.sign"
    INSURANCE_VIEW = "insurance.view"
    INSURANCE_MANAGE = "insurance.manage"
    CONSENT_VIEW = "consent.view"
    CONSENT_MANAGE = "consent.manage"
    DISCLOSURE_VIEW = "disclosure.view"
    # Taper plans: the care team reads and drafts; only a psychiatrist approves, holds/slows/resumes or
    # overrides the guideline cap; nurses (and the care team) record doses actually taken.
    TAPER_VIEW = "taper.view"
    TAPER_DRAFT = "taper.draft"
    TAPER_APPROVE = "taper.approve"
    TAPER_RECORD_DOSE = "taper.record_dose"
    FORMULARY_MANAGE = "taper.formulary"
    # Vitals, instruments and daily check-ins.
    VITALS_VIEW = "vitals.view"
    VITALS_RECORD = "vitals.record"
    CHECKIN_MANAGE = "checkin.manage"
    # Safety alerts.
    ALERT_VIEW = "alert.view"
    ALERT_ACT = "alert.act"
    ALERT_SETTINGS = "alert.settings"
    # Prescribers, the medication list, PDMP reports and coordination with outside prescribers.
    MEDICATION_VIEW = "medication.view"
    MEDICATION_RECORD = "medication.record"
    PRESCRIBER_VIEW = "prescriber.view"
    PRESCRIBER_MANAGE = "prescriber.manage"
    PRESCRIBING_SETTINGS = "prescribing.settings"
    # Scheduling: programs, rooms and session series are set up by the admin and the care team; the care
    # team and admissions book; the care team takes attendance and signs the notes.
    SCHEDULE_VIEW = "schedule.view"
    SCHEDULE_MANAGE = "schedule.manage"
    SCHEDULE_BOOK = "schedule.book"
    ATTENDANCE_RECORD = "attendance.record"


_CARE_TEAM = frozenset({Role.CLINICIAN, Role.NURSE, Role.PSYCHIATRIST})

PERMISSIONS: dict[Perm, frozenset[Role]] = {
    Perm.PATIENT_VIEW: _CARE_TEAM | {Role.ADMISSIONS, Role.CLINIC_ADMIN},
    Perm.PATIENT_CREATE: frozenset({Role.ADMISSIONS, Role.CLINIC_ADMIN, Role.NURSE, Role.PSYCHIATRIST}),
    Perm.PATIENT_EDIT: _CARE_TEAM | {Role.ADMISSIONS, Role.CLINIC_ADMIN},
    Perm.AUDIT_VIEW: frozenset({Role.CLINIC_ADMIN, Role.AUDITOR}),
    Perm.STAFF_MANAGE: frozenset({Role.CLINIC_ADMIN}),
    Perm.CLINIC_SETTINGS: frozenset({Role.CLINIC_ADMIN}),
    Perm.API_CLIENT_MANAGE: frozenset({Role.CLINIC_ADMIN}),
    # Admissions work the pipeline and insurance; clinical assessments and notes are the care team's.
    Perm.INQUIRY_VIEW: _CARE_TEAM | {Role.ADMISSIONS, Role.CLINIC_ADMIN},
    Perm.INQUIRY_MANAGE: frozenset({Role.ADMISSIONS, Role.CLINIC_ADMIN}),
    Perm.CLINICAL_VIEW: _CARE_TEAM,
    Perm.ASSESSMENT_SIGN: _CARE_TEAM,
    Perm.INSURANCE_VIEW: frozenset({Role.ADMISSIONS, Role.CLINIC_ADMIN, Role.PSYCHIATRIST, Role.CLINICIAN}),
    Perm.INSURANCE_MANAGE: frozenset({Role.ADMISSIONS, Role.CLINIC_ADMIN}),
    Perm.CONSENT_VIEW: _CARE_TEAM | {Role.ADMISSIONS, Role.CLINIC_ADMIN},
    Perm.CONSENT_MANAGE: _CARE_TEAM | {Role.ADMISSIONS, Role.CLINIC_ADMIN},
    Perm.DISCLOSURE_VIEW: _CARE_TEAM | {Role.ADMISSIONS, Role.CLINIC_ADMIN},
    Perm.TAPER_VIEW: _CARE_TEAM,
    Perm.TAPER_DRAFT: _CARE_TEAM,
    Perm.TAPER_APPROVE: frozenset({Role.PSYCHIATRIST}),
    Perm.TAPER_RECORD_DOSE: _CARE_TEAM,
    Perm.FORMULARY_MANAGE: frozenset({Role.CLINIC_ADMIN, Role.PSYCHIATRIST}),
    Perm.VITALS_VIEW: _CARE_TEAM,
    Perm.VITALS_RECORD: _CARE_TEAM,
    Perm.CHECKIN_MANAGE: _CARE_TEAM,
    Perm.ALERT_VIEW: _CARE_TEAM,
    Perm.ALERT_ACT: _CARE_TEAM,
    Perm.ALERT_SETTINGS: frozenset({Role.CLINIC_ADMIN}),
    Perm.MEDICATION_VIEW: _CARE_TEAM,
    Perm.MEDICATION_RECORD: _CARE_TEAM,
    Perm.PRESCRIBER_VIEW: _CARE_TEAM | {Role.ADMISSIONS, Role.CLINIC_ADMIN},
    Perm.PRESCRIBER_MANAGE: _CARE_TEAM | {Role.ADMISSIONS, Role.CLINIC_ADMIN},
    Perm.PRESCRIBING_SETTINGS: frozenset({Role.CLINIC_ADMIN}),
    Perm.SCHEDULE_VIEW: _CARE_TEAM | {Role.ADMISSIONS, Role.CLINIC_ADMIN},
    Perm.SCHEDULE_MANAGE: _CARE_TEAM | {Role.CLINIC_ADMIN},
    Perm.SCHEDULE_BOOK: _CARE_TEAM | {Role.ADMISSIONS, Role.CLINIC_ADMIN},
    Perm.ATTENDANCE_RECORD: _CARE_TEAM,
}

assert set(PERMISSIONS) == set(Perm), "every permission needs a row in the table"


def role_allows(roles: Iterable[str], perm: Perm) -> bool:
    allowed = PERMISSIONS[perm]
    return any(role in allowed for role in roles)


def role_labels(roles: Iterable[str]) -> list[str]:
    """People-facing names of stored role values; a value this version does not know is shown as stored."""
    return [Role(role).label if role in Role._value2member_map_ else role for role in roles]
