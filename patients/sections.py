"""The sections of the patient record below the demographics: what each holds, its form, and who may
read or change it. Views, URLs and templates are generated from this one table."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms

from clinic.tenancy.roles import Perm
from patients import forms as record_forms
from patients.models import (
    Allergy,
    Diagnosis,
    ExternalIdentifier,
    PatientContact,
    ReportedMedication,
    SubstanceUse,
)


@dataclass(frozen=True)
class Section:
    key: str  # URL segment, anchor id and template name
    model: type
    form: type[forms.ModelForm]
    title: str
    noun: str  # "allergy": URL names allergy-add / allergy-edit / allergy-close
    one: str  # "an allergy": button and heading text
    view_perm: Perm
    edit_perm: Perm
    close_label: str = ""  # empty: entries have no closed state (substance-use history)

    @property
    def kwarg(self) -> str:
        return f"{self.noun.replace('-', '_')}_id"


# Allergies are read by everyone who may open the patient: they are a safety fact, not clinical detail.
# Diagnoses, substance use and medications are clinical: the care team only.
SECTIONS: tuple[Section, ...] = (
    Section(
        "contacts", PatientContact, record_forms.ContactForm, "Contacts", "contact",
        "a contact",
        Perm.PATIENT_VIEW, Perm.PATIENT_EDIT, "Mark inactive",
    ),
    Section(
        "identifiers", ExternalIdentifier, record_forms.IdentifierForm, "External identifiers", "identifier",
        "an identifier",
        Perm.PATIENT_VIEW, Perm.PATIENT_EDIT, "Mark inactive",
    ),
    Section(
        "allergies", Allergy, record_forms.AllergyForm, "Allergies", "allergy",
        "an allergy",
        Perm.PATIENT_VIEW, Perm.PATIENT_EDIT, "Mark inactive",
    ),
    Section(
        "diagnoses", Diagnosis, record_forms.DiagnosisForm, "Diagnoses", "diagnosis",
        "a diagnosis",
        Perm.CLINICAL_VIEW, Perm.CLINICAL_VIEW, "Resolve",
    ),
    Section(
        "substance-use", SubstanceUse, record_forms.SubstanceUseForm, "Substance use", "substance-use",
        "substance use",
        Perm.CLINICAL_VIEW, Perm.CLINICAL_VIEW,
    ),
    Section(
        "medications", ReportedMedication, record_forms.MedicationForm, "Reported medications", "medication",
        "a medication",
        Perm.CLINICAL_VIEW, Perm.CLINICAL_VIEW, "Mark stopped",
    ),
)  # fmt: skip
BY_KEY = {section.key: section for section in SECTIONS}
BY_MODEL = {section.model: section for section in SECTIONS}
