"""Prescriber registry, medication entry and prescribers of record: validation, duplicates, audit."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from prescribers import services
from prescribers.models import CoordinationTask, Medication, PatientPrescriber, Prescriber
from prescribers.selectors import current_mme, medication_list
from tests.conftest import make_patient
from tests.dates import clinic_date
from tests.prescribers.factories import DEAS, NPIS, make_medication, make_prescriber, medication_fields

pytestmark = pytest.mark.django_db


def test_npi_and_dea_check_digits_are_enforced(clinic_a):
    with tenant_context(clinic_a), pytest.raises(ValidationError) as error:
        services.prescriber_create(
            actor=None,
            fields={"first_name": "A", "last_name": "B", "npi": "1234567890", "dea": "AP5836728"},
        )
    assert "check digit" in error.value.message_dict["npi"][0]
    assert "check digit" in error.value.message_dict["dea"][0]


def test_an_npi_ending_in_zero_is_valid(clinic_a):
    prescriber = make_prescriber(clinic_a, npi="1000003990")
    assert prescriber.npi == "1000003990"


def test_duplicates_are_found_by_npi_and_by_dea(clinic_a, clinic_b):
    make_prescriber(clinic_a, npi=NPIS[0], dea=DEAS[0])
    with tenant_context(clinic_a), pytest.raises(ValidationError) as error:
        services.prescriber_create(
            actor=None, fields={"first_name": "Other", "last_name": "Person", "npi": NPIS[0], "dea": DEAS[0]}
        )
    assert "already has this NPI" in error.value.message_dict["npi"][0]
    assert "already has this DEA" in error.value.message_dict["dea"][0]
    # Another clinic keeps its own registry.
    assert make_prescriber(clinic_b, npi=NPIS[0]).clinic_id == clinic_b.pk


def test_a_medication_is_classified_and_audited_and_its_mme_computed(clinic_a, patient_a):
    medication = make_medication(clinic_a, patient_a)
    assert (medication.ingredient, medication.drug_class) == ("oxycodone", "opioid")
    with tenant_context(clinic_a):
        lines = medication_list(patient_a)
        assert AuditEvent.objects.filter(object_id=str(medication.pk), action="create").exists()
    (line,) = lines
    assert line.mme_per_day == Decimal("60.00")  # 10 mg x 4 a day x 1.5
    assert current_mme(lines, clinic_date()).total == Decimal("60.00")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"strength": Decimal("0")}, "strength"),
        ({"dose_unit": "patch"}, "dose_unit"),
        ({"doses_per_day": Decimal("30")}, "doses_per_day"),
        ({"days_supply": 0}, "days_supply"),
        ({"start_on": datetime.date(1, 1, 1)}, "start_on"),
        ({"end_on": clinic_date() - datetime.timedelta(days=10)}, "end_on"),
        ({"drug_text": "  "}, "drug_text"),
    ],
)
def test_bad_medication_input_is_refused_with_the_field_named(clinic_a, patient_a, changes, field):
    with tenant_context(clinic_a), pytest.raises(ValidationError) as error:
        services.medication_create(actor=None, patient=patient_a, fields=medication_fields(**changes))
    assert field in error.value.message_dict
    with tenant_context(clinic_a):
        assert not Medication.objects.exists()


def test_an_unknown_drug_stays_unclassified(clinic_a, patient_a):
    medication = make_medication(clinic_a, patient_a, drug_text="Lisinopril 10 mg", dose_unit="tablet")
    assert medication.drug_class == ""
    with tenant_context(clinic_a):
        assert medication_list(patient_a)[0].class_label == "Not classified"


def test_naming_the_benzodiazepine_prescriber_of_record_opens_one_task_per_other_prescriber(
    clinic_a, patient_a
):
    ours = make_prescriber(clinic_a, npi=NPIS[0], last_name="Ours", in_program=True)
    outside = make_prescriber(clinic_a, npi=NPIS[1], last_name="Outside")
    make_medication(
        clinic_a,
        patient_a,
        drug_text="Alprazolam 1 mg tablet",
        strength=Decimal("1"),
        prescriber=outside,
        doses_per_day=Decimal("2"),
    )
    with tenant_context(clinic_a):
        services.prescriber_of_record_set(
            actor=None, patient=patient_a, prescriber=ours, role=PatientPrescriber.Role.BENZODIAZEPINE
        )
        (task,) = CoordinationTask.objects.all()
        assert task.prescriber_id == outside.pk and "Outside" in task.title and "alprazolam" in task.title
        # Running it again opens nothing more.
        assert services.consolidation_tasks_open(actor=None, patient=patient_a, today=clinic_date()) == []
        with pytest.raises(ValidationError):
            services.prescriber_of_record_set(
                actor=None, patient=patient_a, prescriber=ours, role=PatientPrescriber.Role.BENZODIAZEPINE
            )


def test_a_new_benzodiazepine_prescriber_of_record_ends_the_previous_one(clinic_a, patient_a):
    first = make_prescriber(clinic_a, npi=NPIS[0])
    second = make_prescriber(clinic_a, npi=NPIS[1], last_name="Second")
    with tenant_context(clinic_a):
        services.prescriber_of_record_set(actor=None, patient=patient_a, prescriber=first, role="benzo")
        services.prescriber_of_record_set(actor=None, patient=patient_a, prescriber=second, role="benzo")
        current = PatientPrescriber.objects.filter(until__isnull=True)
        assert [link.prescriber_id for link in current] == [second.pk]


def test_stopping_a_medication_needs_a_reason_and_ends_it(clinic_a, patient_a):
    medication = make_medication(clinic_a, patient_a)
    today = clinic_date()
    with tenant_context(clinic_a):
        with pytest.raises(ValidationError) as error:
            services.medication_stop(actor=None, medication=medication, stopped_on=today, reason="")
        assert "reason" in error.value.message_dict
        stopped = services.medication_stop(
            actor=None, medication=medication, stopped_on=today, reason="Consolidated"
        )
        assert stopped.end_on == today and stopped.status == "stopped"
        with pytest.raises(ValidationError):
            services.medication_stop(actor=None, medication=medication, stopped_on=today, reason="again")


def test_an_ehr_medication_is_upserted_by_its_identifier(clinic_a, patient_a):
    with tenant_context(clinic_a):
        first, created = services.medication_upsert_from_ehr(
            actor=None,
            patient=patient_a,
            system="urn:ehr:orders",
            external_id="42",
            fields=medication_fields(),
        )
        again, created_again = services.medication_upsert_from_ehr(
            actor=None,
            patient=patient_a,
            system="urn:ehr:orders",
            external_id="42",
            fields=medication_fields(doses_per_day=Decimal("3")),
        )
        assert created and not created_again and first.pk == again.pk
        assert Medication.objects.get().doses_per_day == Decimal("3")


def test_another_patients_ehr_identifier_is_refused_as_identifier_in_use(clinic_a, patient_a):
    other = make_patient(clinic_a, first_name="Other")
    with tenant_context(clinic_a):
        services.medication_upsert_from_ehr(
            actor=None, patient=other, system="urn:ehr:orders", external_id="7", fields=medication_fields()
        )
        with pytest.raises(services.IdentifierInUse) as error:
            services.medication_upsert_from_ehr(
                actor=None, patient=patient_a, system="urn:ehr:orders", external_id="7", fields={}
            )
        assert isinstance(error.value, ValidationError)  # still a field error for forms and the API
        assert "another patient" in error.value.message_dict["identifier"][0]


def test_an_ehr_identifier_created_concurrently_for_another_patient_is_refused(
    clinic_a, patient_a, monkeypatch
):
    """The race branch: the lookup missed, the insert hit the unique constraint, and the row the other request
    made belongs to another patient: refused, never updated."""
    other = make_patient(clinic_a, first_name="Other")
    with tenant_context(clinic_a):
        theirs, _ = services.medication_upsert_from_ehr(
            actor=None, patient=other, system="urn:ehr:orders", external_id="8", fields=medication_fields()
        )
        real, calls = services._ehr_medication, []

        def first_misses(*args):
            calls.append(args)
            return None if len(calls) == 1 else real(*args)

        monkeypatch.setattr(services, "_ehr_medication", first_misses)
        with pytest.raises(services.IdentifierInUse):
            services.medication_upsert_from_ehr(
                actor=None,
                patient=patient_a,
                system="urn:ehr:orders",
                external_id="8",
                fields=medication_fields(dose=Decimal("2")),
            )
        assert len(calls) == 2
        assert Medication.objects.get(pk=theirs.pk).dose == Decimal("1")


def test_a_duplicate_npi_that_slips_past_the_check_is_still_a_field_error(clinic_a, monkeypatch):
    make_prescriber(clinic_a, npi=NPIS[0])
    monkeypatch.setattr(services, "_identifier_errors", lambda prescriber: {})  # as if saved concurrently
    with tenant_context(clinic_a):
        with pytest.raises(ValidationError) as error:
            services.prescriber_create(
                actor=None, fields={"first_name": "Twin", "last_name": "Person", "npi": NPIS[0]}
            )
        assert "just saved with this NPI" in error.value.message_dict["npi"][0]
        assert Prescriber.objects.count() == 1  # and the transaction is still usable


def test_line_of_is_the_medication_lists_line_and_reads_nothing_more(clinic_a, patient_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from prescribers.models import Dispensation
    from prescribers.selectors import line_of, medication_lines
    from tests.prescribers.factories import make_dispensation

    prescriber = make_prescriber(clinic_a, npi=NPIS[0])
    make_medication(clinic_a, patient_a, prescriber=prescriber)
    make_dispensation(clinic_a, patient_a, prescriber=prescriber)
    with tenant_context(clinic_a):
        expected = {(line.kind, line.id): line for line in medication_lines([patient_a.pk])[patient_a.pk]}
        rows = [
            *Medication.objects.select_related("prescriber", "pharmacy"),
            *Dispensation.objects.select_related("prescriber", "pharmacy", "pdmp_import"),
        ]
        with CaptureQueriesContext(connection) as queries:
            lines = [line_of(row) for row in rows]
    assert len(queries) == 0
    assert {(line.kind, line.id): line for line in lines} == expected


def test_a_line_does_not_repeat_a_strength_the_drug_text_already_names(clinic_a, patient_a):
    make_medication(clinic_a, patient_a, drug_text="Alprazolam 1 mg tablet", strength=Decimal("1"))
    make_medication(clinic_a, patient_a, drug_text="Oxycodone tablet", strength=Decimal("5"))
    make_medication(clinic_a, patient_a, drug_text="Alprazolam 0.1 mg", strength=Decimal("1"))
    with tenant_context(clinic_a):
        texts = sorted(line.drug_text for line in medication_list(patient_a))
    assert texts == ["Alprazolam 0.1 mg 1 mg", "Alprazolam 1 mg tablet", "Oxycodone tablet 5 mg"]
