"""What each URL kwarg names, and how to make one of those objects in a given clinic.

The cross-tenant walker and the role matrix fill every route's kwargs from here. A route whose kwarg is
not registered fails those tests with a message pointing at this file: register a factory (one
decorated function) and the new route is covered, with no change to the tests themselves.
"""

from __future__ import annotations

import datetime
import inspect
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
from clinic.tenancy.context import clinic_today, tenant_context
from clinic.tenancy.models import Clinic, Membership
from clinic.tenancy.rls import tenant_models
from clinic.tenancy.roles import Role
from patients.admissions.models import Inquiry
from patients.models import Patient
from tests.dates import clinic_date

# Kwargs that are not objects: the value to put in the URL (None = the walker decides, e.g. the clinic).
PLAIN_KWARGS: dict[str, str | None] = {"clinic_slug": None, "format": "json", "instrument": "phq9"}


@dataclass(frozen=True)
class ObjectFactory:
    model: type[Model]
    create: Callable[[Clinic], Model]
    # A body that would be a valid write of this kind of object, so a write attempt on another clinic's
    # object is a real attempt (an empty POST could fail validation before any tenancy bug showed).
    valid_data: Callable[..., dict[str, Any]]

    def data_for(self, clinic: Clinic) -> dict[str, Any]:
        """The body for a write in `clinic`. A valid_data taking one argument is given the clinic, so the body
        can name that clinic's objects (e.g. the patient a consent is for); it must only read, never write."""
        try:
            takes_clinic = len(inspect.signature(self.valid_data).parameters) == 1
        except (TypeError, ValueError):  # a builtin such as `dict` has no signature: it takes no clinic
            takes_clinic = False
        return self.valid_data(clinic) if takes_clinic else self.valid_data()


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
            f"URL kwarg {name!r} is not in tests/clinic/tenancy/registry.py. Register a factory for the "
            f"model it names (@register(Model, kwargs=({name!r},))) so the cross-tenant walker and the role "
            "matrix cover the route."
        )
    return _BY_MODEL[model]


def factory_for_model(model: type[Model]) -> ObjectFactory:
    if model not in _BY_MODEL:
        raise UnregisteredKwarg(
            f"{model._meta.label} is served by the API but has no factory in "
            f"tests/clinic/tenancy/registry.py. Register one (@register({model.__name__}, kwargs=(…))) so "
            "the walker covers its routes."
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


def _intake_assessment_model():
    from patients.intake.models import IntakeAssessment

    return IntakeAssessment


def _intake_form_data() -> dict[str, Any]:
    from tests.patients.intake.factories import assessment_form_data

    return assessment_form_data()


@register(_intake_assessment_model(), kwargs=("assessment_id",), valid_data=_intake_form_data)
def make_intake_assessment_in(clinic: Clinic):
    """A signed assessment (edit/sign answer 409 "locked", amend answers its form)."""
    from tests.patients.intake.factories import make_assessment

    return make_assessment(clinic, sign=True)


def inquiry_data() -> dict[str, Any]:
    """Valid for the inquiry create form/API; `to_stage` makes it a valid body for the advance action too."""
    n = next(_serial)
    return {
        "referral_source": "self",
        "contact_name": f"Walker{n} Caller",
        "contact_relationship": "self",
        "first_name": f"Walker{n}",
        "last_name": "Inquiry",
        "date_of_birth": datetime.date(1981, 2, 1 + n % 28),
        "reason": "Wants help tapering.",
        "benzodiazepines": [{"drug": "clonazepam", "daily_dose_mg": "1.50"}],
        "to_stage": "pre_screened",
    }


@register(Inquiry, kwargs=("inquiry_id",), valid_data=inquiry_data)
def make_inquiry_in(clinic: Clinic) -> Inquiry:
    from patients.admissions.services import inquiry_create

    data = inquiry_data()
    benzodiazepines = data.pop("benzodiazepines")
    data.pop("to_stage")
    with tenant_context(clinic):
        return inquiry_create(actor=None, fields=data, benzodiazepines=benzodiazepines)


# --- insurance (coverages, verifications, eligibility checks, authorizations) ---------------------------
def _insurance_models():
    from patients.insurance import models

    return models


def _first_in(clinic: Clinic, model: type[Model]) -> Model:
    with tenant_context(clinic):
        return model.objects.order_by("created_at").first()


def coverage_data(clinic: Clinic) -> dict[str, Any]:
    """A secondary coverage for the patient of the clinic's first coverage (the factory made it primary)."""
    coverage = _first_in(clinic, _insurance_models().Coverage)
    return {
        "patient": str(coverage.patient_id) if coverage else "",
        "payer_name": "Probe Health",
        "payer_id": "PROBE1",
        "member_id": f"PRB-{next(_serial)}",
        "subscriber_relationship": "self",
        "effective_from": "2026-01-01",
        "priority": "secondary",
        "is_active": True,
    }


def _coverage_child_data(model_name: str, body: dict[str, Any]) -> Callable[[Clinic], dict[str, Any]]:
    def data(clinic: Clinic) -> dict[str, Any]:
        obj = _first_in(clinic, getattr(_insurance_models(), model_name))
        return {"coverage": str(obj.coverage_id) if obj else "", **body}

    return data


def _make_coverage(clinic: Clinic, **extra):
    from patients.insurance.services import coverage_create

    patient = make_patient_in(clinic)
    with tenant_context(clinic):
        fields = {
            "payer_name": "Acme Health Plan",
            "payer_id": "ACME1",
            "member_id": f"ABC-{next(_serial)}",
            "effective_from": datetime.date(2026, 1, 1),
            "priority": "primary",
            **extra,
        }
        return coverage_create(actor=None, patient=patient, fields=fields)


@register(_insurance_models().Coverage, kwargs=("coverage_id",), valid_data=coverage_data)
def make_coverage_in(clinic: Clinic):
    return _make_coverage(clinic)


@register(
    _insurance_models().BenefitVerification,
    kwargs=("verification_id",),
    valid_data=_coverage_child_data(
        "BenefitVerification",
        {
            "method": "phone",
            "coverage_active": "yes",
            "iop_covered": "yes",
            "php_covered": "unknown",
            "copay_amount": "40.00",
            "prior_authorization_required": "yes",
            "in_network": "yes",
            "reference_number": "CALL-1",
        },
    ),
)
def make_verification_in(clinic: Clinic):
    from patients.insurance.services import verification_record

    coverage = _make_coverage(clinic)
    with tenant_context(clinic):
        fields = {"method": "phone", "iop_covered": "yes", "copay_amount": 40}
        return verification_record(actor=None, coverage=coverage, fields=fields)


@register(
    _insurance_models().EligibilityCheck,
    kwargs=("check_id",),
    valid_data=_coverage_child_data("EligibilityCheck", {"service_types": ["AI", "BB"]}),
)
def make_eligibility_check_in(clinic: Clinic):
    """A sent check (its 270 really goes through the configured transport), with the clinic's billing
    profile in place so a `start` body for the same coverage is valid."""
    from patients.insurance.services import billing_profile_save, eligibility_check_start
    from tests.patients.consent.factories import tpo_consent_in

    coverage = _make_coverage(clinic)
    tpo_consent_in(clinic, coverage.patient)
    with tenant_context(clinic):
        if not _insurance_models().ClinicBillingProfile.objects.exists():
            billing_profile_save(
                actor=None,
                fields={
                    "organization_name": "Probe Clinic",
                    "npi": "1234567893",
                    "submitter_id": "PROBE",
                    "receiver_id": "CLEARHOUSE",
                    "usage_indicator": "T",
                },
            )
        return eligibility_check_start(actor=None, coverage=coverage, service_types=["AI"])


@register(
    _insurance_models().Authorization,
    kwargs=("authorization_id",),
    valid_data=_coverage_child_data(
        "Authorization",
        {
            "level_of_care": "iop",
            "authorization_number": "AUTH-1",
            "units_authorized": 12,
            "unit_type": "days",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "status": "active",
        },
    ),
)
def make_authorization_in(clinic: Clinic):
    from patients.insurance.services import authorization_create

    coverage = _make_coverage(clinic)
    with tenant_context(clinic):
        return authorization_create(
            actor=None,
            coverage=coverage,
            fields={
                "level_of_care": "iop",
                "authorization_number": f"AUTH-{next(_serial)}",
                "units_authorized": 10,
                "unit_type": "days",
                "start_date": datetime.date(2026, 1, 1),
                "end_date": datetime.date(2026, 12, 31),
            },
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


# --- 42 CFR Part 2 consent (patients.consent) ------------------------------------------------------------
def _consent_models():
    from patients.consent.models import Consent, Disclosure, Recipient

    return Consent, Disclosure, Recipient


def recipient_data() -> dict[str, Any]:
    return {"name": f"Dr. Walker {next(_serial)}", "kind": "prescriber", "organization": "Probe Medicine"}


@register(_consent_models()[2], kwargs=("recipient_id",), valid_data=recipient_data)
def make_recipient_in(clinic: Clinic):
    from tests.patients.consent.factories import recipient_in

    return recipient_in(clinic)


def consent_data(clinic: Clinic) -> dict[str, Any]:
    """A signed TPO consent for a patient of `clinic` (read, never written, here); the revocation fields make
    it a valid body for the API's revoke action too."""
    from tests.patients.consent.factories import tpo_fields

    with tenant_context(clinic):
        patient = Patient.objects.order_by("-created_at").first()
    data = {**tpo_fields(), "revocation_method": "written"}
    data.pop("expires_on")
    if patient is not None:
        data["patient"] = str(patient.pk)
    return data


@register(_consent_models()[0], kwargs=("consent_id",), valid_data=consent_data)
def make_consent_in(clinic: Clinic):
    from tests.patients.consent.factories import consent_in, tpo_fields

    return consent_in(clinic, make_patient_in(clinic), **tpo_fields())


@register(_consent_models()[1], kwargs=("disclosure_id",))
def make_disclosure_in(clinic: Clinic):
    from tests.patients.consent.factories import disclosure_in

    return disclosure_in(clinic, make_patient_in(clinic))


# --- patient record sections (contacts, identifiers, allergies, diagnoses, substance use, medications) ----
def _record_entry_in(clinic: Clinic, model_name: str, fields: dict[str, Any]):
    from patients import models as record_models
    from patients.services import record_entry_add

    with tenant_context(clinic):
        return record_entry_add(
            actor=None,
            patient=make_patient_in(clinic),
            model=getattr(record_models, model_name),
            fields=fields,
        )


def _contact_fields() -> dict[str, Any]:
    return {"name": f"Probe Contact {next(_serial)}", "relationship": "friend", "phone": "555-0100"}


def _identifier_fields() -> dict[str, Any]:
    return {"system": "urn:oid:2.16.840.1.113883.3.99", "value": f"EHR-{next(_serial)}", "label": "Probe EHR"}


def _allergy_fields() -> dict[str, Any]:
    return {"substance": "Penicillin", "reaction": "Hives", "severity": "moderate", "status": "active"}


def _diagnosis_fields() -> dict[str, Any]:
    return {"code": "F13.20", "status": "active"}


def _substance_fields() -> dict[str, Any]:
    return {"category": "benzodiazepine", "benzodiazepine": "alprazolam", "daily_amount": "2", "unit": "mg"}


def _medication_fields() -> dict[str, Any]:
    return {"name": "Alprazolam", "reported_on": datetime.date(2024, 1, 5), "status": "current"}


def _record_models():
    from patients import models as record_models

    return record_models


@register(_record_models().PatientContact, kwargs=("contact_id",), valid_data=_contact_fields)
def make_contact_in(clinic: Clinic):
    return _record_entry_in(clinic, "PatientContact", _contact_fields())


@register(_record_models().ExternalIdentifier, kwargs=("identifier_id",), valid_data=_identifier_fields)
def make_identifier_in(clinic: Clinic):
    return _record_entry_in(clinic, "ExternalIdentifier", _identifier_fields())


@register(_record_models().Allergy, kwargs=("allergy_id",), valid_data=_allergy_fields)
def make_allergy_in(clinic: Clinic):
    return _record_entry_in(clinic, "Allergy", _allergy_fields())


@register(_record_models().Diagnosis, kwargs=("diagnosis_id",), valid_data=_diagnosis_fields)
def make_diagnosis_in(clinic: Clinic):
    return _record_entry_in(clinic, "Diagnosis", _diagnosis_fields())


@register(_record_models().SubstanceUse, kwargs=("substance_use_id",), valid_data=_substance_fields)
def make_substance_use_in(clinic: Clinic):
    return _record_entry_in(clinic, "SubstanceUse", _substance_fields())


@register(_record_models().ReportedMedication, kwargs=("medication_id",), valid_data=_medication_fields)
def make_medication_in(clinic: Clinic):
    return _record_entry_in(clinic, "ReportedMedication", _medication_fields())


# --- vitals (readings and instrument results) ----------------------------------------------------------
def _vitals_models():
    from vitals import models

    return models


def _latest_patient_id(clinic: Clinic) -> str:
    with tenant_context(clinic):
        patient = Patient.objects.order_by("-created_at").first()
    return str(patient.pk) if patient else ""


def vital_reading_data(clinic: Clinic) -> dict[str, Any]:
    """An ordinary reading (no unusual value, so no confirmation needed) for a patient of `clinic`."""
    return {
        "patient": _latest_patient_id(clinic),
        "taken_at": "2026-01-05T09:30:00Z",
        "taken_by": "Walker Nurse",
        "position": "sitting",
        "values": {"systolic_bp": 122, "diastolic_bp": 78, "heart_rate": 72, "spo2": 98},
    }


def instrument_result_data(clinic: Clinic) -> dict[str, Any]:
    return {
        "patient": _latest_patient_id(clinic),
        "instrument": "gad7",
        "completed_at": "2026-01-05T09:45:00Z",
        "answers": {str(n): 1 for n in range(1, 8)},
    }


@register(_vitals_models().VitalReading, kwargs=("reading_id",), valid_data=vital_reading_data)
def make_vital_reading_in(clinic: Clinic):
    from vitals.services import vitals_record

    patient = make_patient_in(clinic)
    with tenant_context(clinic):
        return vitals_record(
            actor=None,
            patient=patient,
            taken_at=datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC),
            values={"systolic_bp": 118, "diastolic_bp": 76, "heart_rate": 70},
            position="sitting",
            taken_by="Probe Nurse",
            source="clinic",
        )


@register(_vitals_models().InstrumentResult, kwargs=("result_id",), valid_data=instrument_result_data)
def make_instrument_result_in(clinic: Clinic):
    from vitals.services import instrument_result_record

    patient = make_patient_in(clinic)
    with tenant_context(clinic):
        return instrument_result_record(
            actor=None,
            patient=patient,
            instrument="phq9",
            answers={str(n): 0 for n in range(1, 10)},
            completed_at=datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC),
            source="clinic",
        )


# --- daily check-ins (vitals.checkins) -------------------------------------------------------------------
def _checkin_models():
    from vitals.checkins.models import CheckIn, CheckInLink

    return CheckIn, CheckInLink


@register(_checkin_models()[1], kwargs=("link_id",), valid_data=lambda: {"reason": "Probe: lost phone"})
def make_checkin_link_in(clinic: Clinic):
    from tests.vitals.checkins.factories import make_link

    return make_link(clinic, make_patient_in(clinic))


@register(_checkin_models()[0], kwargs=("checkin_id",))
def make_checkin_in(clinic: Clinic):
    from tests.vitals.checkins.factories import checkin_in

    return checkin_in(clinic, make_patient_in(clinic))


# --- safety alerts (safety) ---------------------------------------------------------------------------------
def _alert_model():
    from safety.models import Alert

    return Alert


def alert_action_data() -> dict[str, Any]:
    """Valid for every alert action (browser and API): resolve reads `note`, dismiss `reason`, assign an empty
    `assigned_to` (unassign)."""
    return {
        "note": "Probe: called the patient.",
        "reason": "Probe: reading typed in error.",
        "assigned_to": "",
    }


@register(_alert_model(), kwargs=("alert_id",), valid_data=alert_action_data)
def make_alert_in(clinic: Clinic):
    """An open critical alert, raised through the pipeline from a synthetic finding."""
    from safety.findings import Finding
    from safety.services import alerts_raise

    patient = make_patient_in(clinic)
    finding = Finding(
        rule_id="spo2_low",
        patient_id=patient.pk,
        dedup_key=f"spo2_low:probe:{next(_serial)}",
        evidence={"kind": "vital_reading", "values": {"spo2": "89"}},
        occurred_at=datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC),
    )
    return alerts_raise(clinic=clinic, findings=[finding])[0]


# --- taper plans (taper) ---------------------------------------------------------------------------------
def _taper_models():
    from taper import models

    return models


def taper_action_data(clinic: Clinic | None = None) -> dict[str, Any]:
    """A body valid for the plan actions (hold until resumed, change pace, resume, close, approve)."""
    data = {
        "from_date": "2026-01-20",
        "length": "open",
        "reason": "Walker probe",
        "rate_percent": "10",
        "interval_days": "14",
        "outcome": "stopped",
        "note": "",
        # API: POST /taper-plans/{id}/transition/ (activating an already active plan changes nothing).
        "action": "activate",
    }
    if clinic is not None:
        data.update(_taper_create_data(clinic))
    return data


def _taper_create_data(clinic: Clinic) -> dict[str, Any]:
    """The API's plan-create body: the newest patient of `clinic` without an open plan (read only)."""
    open_statuses = ["draft", "proposed", "approved", "active"]
    with tenant_context(clinic):
        patient = (
            Patient.objects.exclude(taper_plans__status__in=open_statuses).order_by("-created_at").first()
        )
    return {
        "patient": str(patient.pk) if patient else "",
        "regimen": [{"drug": "diazepam", "dose_mg": "10", "time_of_day": "08:00"}],
        "start_date": (clinic_date() + datetime.timedelta(days=7)).isoformat(),  # not in the past
        "table": "ashton",
        "strategy": "direct",
    }


@register(_taper_models().TaperPlan, kwargs=("plan_id",), valid_data=taper_action_data)
def make_taper_plan_in(clinic: Clinic):
    """An active plan (created, approved and started by a psychiatrist through the services)."""
    from taper import services
    from tests.conftest import make_member
    from tests.taper.factories import create_plan

    psychiatrist = make_member(
        clinic, Role.PSYCHIATRIST, email=f"taper-psych{next(_serial)}@{clinic.slug}.example.org"
    )
    patient = make_patient_in(clinic)
    with tenant_context(clinic):
        data = services.PlanInput(
            regimen=[{"drug": "diazepam", "dose_mg": "10", "time_of_day": "08:00"}],
            start_date=datetime.date(2026, 1, 5),
            rate_percent=10,
            interval_days=14,
        )
        return create_plan(patient, psychiatrist, data, status="active")


@register(_taper_models().TaperPlanVersion, kwargs=("version_id",))
def make_taper_version_in(clinic: Clinic):
    plan = make_taper_plan_in(clinic)
    with tenant_context(clinic):
        return _taper_models().TaperPlanVersion.objects.get(pk=plan.current_version_id)


def _short_active_plan_in(clinic: Clinic):
    """An active plan of a few steps (down to a maintenance dose), and the psychiatrist who made it."""
    from taper import services
    from tests.conftest import make_member
    from tests.taper.factories import create_plan

    psychiatrist = make_member(
        clinic, Role.PSYCHIATRIST, email=f"taper-psych{next(_serial)}@{clinic.slug}.example.org"
    )
    patient = make_patient_in(clinic)
    with tenant_context(clinic):
        data = services.PlanInput(
            regimen=[{"drug": "diazepam", "dose_mg": "10", "time_of_day": "08:00"}],
            start_date=datetime.date(2026, 1, 5),
            rate_percent=20,
            interval_days=14,
            target_de_mg=5,
        )
        return create_plan(patient, psychiatrist, data, status="active"), psychiatrist


@register(_taper_models().TaperStep, kwargs=())
def make_taper_step_in(clinic: Clinic):
    plan, _ = _short_active_plan_in(clinic)
    with tenant_context(clinic):
        steps = _taper_models().TaperStep.objects.filter(version_id=plan.current_version_id)
        return steps.order_by("index").first()


def dose_record_data(clinic: Clinic) -> dict[str, Any]:
    """The API's dose-record body: the first day of the newest active plan of `clinic`, taken as planned."""
    models = _taper_models()
    with tenant_context(clinic):
        plan = models.TaperPlan.objects.filter(status="active").order_by("-created_at").first()
        first = models.TaperStep.objects.filter(version_id=plan.current_version_id).order_by("index").first()
    return {"plan": str(plan.pk), "day": first.start.isoformat(), "as_planned": True, "note": "Walker probe"}


@register(_taper_models().DoseRecord, kwargs=(), valid_data=dose_record_data)
def make_dose_record_in(clinic: Clinic):
    from taper import services

    plan, psychiatrist = _short_active_plan_in(clinic)
    with tenant_context(clinic):
        return services.dose_record(
            actor=psychiatrist, plan=plan, day=datetime.date(2026, 1, 6), source="nurse", as_planned=True
        )


# --- prescribers, medications and PDMP fills (prescribers; API: /prescribers/, /medications/, …) ----------
def _prescriber_models():
    from prescribers import models

    return models


def _serial_npi() -> str:
    """A made-up NPI with a valid check digit (Luhn over 80840 + the first nine digits), unique per call."""
    from stdnum import luhn

    first_nine = f"1{next(_serial) % 10**8:08d}"
    return first_nine + luhn.calc_check_digit("80840" + first_nine)


def prescriber_data() -> dict[str, Any]:
    """Valid to create (no NPI, so never a duplicate) and to PATCH any prescriber."""
    return {
        "first_name": "Walker",
        "last_name": f"Prescriber{next(_serial)}",
        "credentials": "MD",
        "is_active": "1",
    }


@register(_prescriber_models().Prescriber, kwargs=("prescriber_id",), valid_data=prescriber_data)
def make_prescriber_in(clinic: Clinic):
    from tests.prescribers.factories import make_prescriber

    return make_prescriber(clinic, npi=_serial_npi(), last_name=f"Probe{next(_serial)}")


def medication_data(clinic: Clinic) -> dict[str, Any]:
    """Valid to create a medication (API), to PATCH the clinic's first one (same patient) and to stop it."""
    medication = _first_in(clinic, _prescriber_models().Medication)
    return {
        "patient": str(medication.patient_id) if medication else _latest_patient_id(clinic),
        "drug_text": "Sertraline 50 mg tablet",
        "strength": "50",
        "strength_unit": "mg",
        "dose": "1",
        "dose_unit": "tablet",
        "doses_per_day": "1",
        "start_on": (clinic_date() - datetime.timedelta(days=20)).isoformat(),
        "stopped_on": clinic_date().isoformat(),
        "reason": "Walker probe",
    }


@register(_prescriber_models().Medication, kwargs=("med_id",), valid_data=medication_data)
def make_prescribed_medication_in(clinic: Clinic):
    """An active opioid order (started three days ago, so a stop today is valid)."""
    from tests.prescribers.factories import make_medication

    return make_medication(clinic, make_patient_in(clinic))


@register(_prescriber_models().Dispensation, kwargs=())
def make_dispensation_in(clinic: Clinic):
    from tests.prescribers.factories import make_dispensation

    return make_dispensation(clinic, make_patient_in(clinic))


def pdmp_import_data(clinic: Clinic) -> dict[str, Any]:
    """A valid import request for the clinic's latest patient (the example report, OR raw-data policy)."""
    import base64

    from prescribers.pdmp.samples import example

    data = example("csv", latest_fill_on=clinic_date() - datetime.timedelta(days=3))
    return {
        "patient": _latest_patient_id(clinic),
        "state": "OR",
        "format": "csv",
        "content": base64.b64encode(data).decode(),
        "identity_confirmed": True,
    }


@register(_prescriber_models().PdmpImport, kwargs=("import_id",), valid_data=pdmp_import_data)
def make_pdmp_import_in(clinic: Clinic):
    """A stored report with one fill, and the clinic's OR policy (raw data) so a new import is valid."""
    from prescribers.services import state_policy_set
    from tests.prescribers.factories import make_dispensation

    with tenant_context(clinic):
        state_policy_set(actor=None, state="OR", storage="raw")
    # With a kept PDF too, so the report's PDF route has something to serve.
    return make_dispensation(
        clinic, make_patient_in(clinic), import_fields={"pdf": b"%PDF-1.4 walker probe"}
    ).pdmp_import


@register(
    _prescriber_models().PatientPrescriber,
    kwargs=("of_record_id",),
    valid_data=lambda: {"until": clinic_date().isoformat()},
)
def make_prescriber_of_record_in(clinic: Clinic):
    from prescribers.services import prescriber_of_record_set

    patient = make_patient_in(clinic)
    prescriber = make_prescriber_in(clinic)
    with tenant_context(clinic):
        return prescriber_of_record_set(
            actor=None,
            patient=patient,
            prescriber=prescriber,
            role="other",
            since=clinic_date() - datetime.timedelta(days=10),
        )


@register(
    _prescriber_models().CoordinationTask,
    kwargs=("task_id",),
    valid_data=lambda: {"status": "done", "outcome": "Walker probe: prescriber agreed."},
)
def make_coordination_task_in(clinic: Clinic):
    from prescribers.services import coordination_task_create

    patient = make_patient_in(clinic)
    with tenant_context(clinic):
        return coordination_task_create(
            actor=None, patient=patient, title="Call the prescriber", due_on=clinic_date()
        )


# --- scheduling (programs, rooms, series, occurrences, bookings, enrolments) ------------------------------
def _scheduling_models():
    from scheduling import models

    return models


def _facilitator_in(clinic: Clinic):
    from tests.conftest import make_member

    return make_member(clinic, Role.CLINICIAN, email=f"facilitator{next(_serial)}@{clinic.slug}.example.org")


@register(
    _scheduling_models().Program,
    kwargs=("program_id",),
    valid_data=lambda: {
        "name": f"Probe program {next(_serial)}",
        "level": "iop",
        "hours_min": "9",
        "hours_below": "20",
    },
)
def make_program_in(clinic: Clinic):
    from scheduling.services import program_save

    with tenant_context(clinic):
        fields = {"name": f"IOP track {next(_serial)}", "level": "iop", "hours_min": 9, "hours_below": 20}
        return program_save(actor=None, fields=fields)


@register(
    _scheduling_models().Room, kwargs=("room_id",), valid_data=lambda: {"name": f"Probe room {next(_serial)}"}
)
def make_room_in(clinic: Clinic):
    from scheduling.services import room_save

    with tenant_context(clinic):
        return room_save(actor=None, fields={"name": f"Room {next(_serial)}", "capacity": 10})


def series_data(clinic: Clinic) -> dict[str, Any]:
    """The API's series-create body: a Sunday-night group of a clinician of `clinic`, a slot no factory uses
    (their series run 07:00-17:00), so it never clashes (read only)."""
    with tenant_context(clinic):
        kind = _scheduling_models().SessionType.objects.filter(code="dbt_skills").first()
        today = clinic_today()
    member = Membership.objects.active().filter(clinic=clinic, roles__contains=["clinician"]).order_by("pk")
    first = member.first()
    return {
        "session_type": str(kind.pk) if kind else "",
        "title": f"Probe group {next(_serial)}",
        "facilitator": first.user_id if first else "",
        "weekdays": [6],
        "start_time": "21:00",
        "minutes": 30,
        "starts_on": today.isoformat(),
        "capacity": 6,
    }


@register(_scheduling_models().SessionSeries, kwargs=("series_id",), valid_data=series_data)
def make_series_in(clinic: Clinic):
    """A weekly group of a program that began a week ago, so it has past and future occurrences."""
    from tests.scheduling.factories import make_series

    return make_series(
        clinic,
        _facilitator_in(clinic),
        program=make_program_in(clinic),
        start_time=datetime.time(7 + next(_serial) % 10, 0),
        minutes=45,
    )


def occurrence_data() -> dict[str, Any]:
    """Valid to cancel an occurrence (API `reason`) and to move it (to 03:00 more than a year ahead, a time
    nothing is scheduled at)."""
    day = clinic_date() + datetime.timedelta(days=400)
    return {"reason": "Walker probe: facilitator ill", "starts_at": f"{day}T03:00:00-05:00", "minutes": 45}


@register(_scheduling_models().Occurrence, kwargs=("occurrence_id",), valid_data=occurrence_data)
def make_occurrence_in(clinic: Clinic):
    """A group session that has started (attendance can be taken), with one patient booked."""
    from scheduling.services import booking_add

    series = make_series_in(clinic)
    with tenant_context(clinic):
        occurrence = (
            _scheduling_models()
            .Occurrence.objects.filter(series=series, local_date__lt=clinic_date())
            .latest("starts_at")
        )
        booking_add(actor=None, occurrence=occurrence, patient=make_patient_in(clinic))
        return occurrence


def booking_data(clinic: Clinic) -> dict[str, Any]:
    """Valid to book (API: the clinic's last scheduled session, far ahead, and a patient not in it), to
    cancel a booking and to record its attendance (read only)."""
    models = _scheduling_models()
    with tenant_context(clinic):
        occurrence = models.Occurrence.objects.filter(status="scheduled").order_by("-starts_at").first()
        taken = models.Booking.objects.filter(occurrence=occurrence).values("patient_id")
        patient = Patient.objects.exclude(pk__in=taken).order_by("-created_at").first()
    return {
        "occurrence": str(occurrence.pk) if occurrence else "",
        "patient": str(patient.pk) if patient else "",
        "reason": "Walker probe",
        "attendance": "present",
        "note_line": "Walker probe: took part in the skills practice.",
    }


@register(_scheduling_models().Booking, kwargs=("booking_id",), valid_data=booking_data)
def make_booking_in(clinic: Clinic):
    occurrence = make_occurrence_in(clinic)
    with tenant_context(clinic):
        return occurrence.bookings.get()


def enrolment_data(clinic: Clinic) -> dict[str, Any]:
    """Valid to enrol (API: the newest patient not enrolled, the newest active program) and to end an
    enrolment (on the clinic's today, or the day the newest open one started if that is later; read only)."""
    models = _scheduling_models()
    with tenant_context(clinic):
        enrolled = models.Enrolment.objects.filter(ended_on__isnull=True)
        patient = (
            Patient.objects.exclude(pk__in=enrolled.values("patient_id")).order_by("-created_at").first()
        )
        program = models.Program.objects.filter(is_active=True).order_by("-created_at").first()
        latest = enrolled.order_by("-starts_on").first()
        ended_on = max(clinic_today(), latest.starts_on) if latest else clinic_today()
    return {
        "patient": str(patient.pk) if patient else "",
        "program": str(program.pk) if program else "",
        "ended_on": ended_on.isoformat(),
        "reason": "Walker probe",
    }


@register(_scheduling_models().Enrolment, kwargs=("enrolment_id",), valid_data=enrolment_data)
def make_enrolment_in(clinic: Clinic):
    from scheduling.services import enrolment_create

    program = make_program_in(clinic)
    patient = make_patient_in(clinic)
    with tenant_context(clinic):
        return enrolment_create(actor=None, patient=patient, program=program, starts_on=clinic_date())


@register(_scheduling_models().Availability, kwargs=("availability_id",))
def make_availability_in(clinic: Clinic):
    """A facilitator's Monday morning window (remove takes no body)."""
    from scheduling.availability import availability_add

    facilitator = _facilitator_in(clinic)
    with tenant_context(clinic):
        return availability_add(
            actor=None,
            staff=facilitator,
            weekday=0,
            start_time=datetime.time(9, 0),
            end_time=datetime.time(12, 0),
        )


def calendar_feed_data(clinic: Clinic) -> dict[str, Any]:
    """The API's feed-create body: a feed for the clinic's first active staff member (read only)."""
    first = Membership.objects.active().filter(clinic=clinic).order_by("pk").first()
    return {"user": first.user_id if first else ""}


@register(_scheduling_models().CalendarFeed, kwargs=(), valid_data=calendar_feed_data)
def make_calendar_feed_in(clinic: Clinic):
    from scheduling.feeds import feed_create

    facilitator = _facilitator_in(clinic)
    with tenant_context(clinic):
        return feed_create(actor=None, user=facilitator)[0]
