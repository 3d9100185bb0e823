"""PDMP import: preview writes nothing; commit is all or nothing, honours the state's storage policy, adds a
fill once, checks the patient's identity, registers the report's prescribers and pharmacies."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from prescribers import pdmp_import, services
from prescribers.models import Dispensation, PdmpImport, Pharmacy, Prescriber
from prescribers.pdmp.samples import example
from tests.conftest import make_patient
from tests.dates import clinic_date

pytestmark = pytest.mark.django_db

TODAY = clinic_date()
FHIR = example("fhir", latest_fill_on=TODAY - dt.timedelta(days=5))
CSV = example("csv", latest_fill_on=TODAY - dt.timedelta(days=5))


@pytest.fixture
def casey(clinic_a):
    patient = make_patient(
        clinic_a, first_name="Casey", last_name="Sample", date_of_birth=dt.date(1984, 5, 12)
    )
    with tenant_context(clinic_a):
        services.state_policy_set(actor=None, state="OR", storage="raw")
        services.state_policy_set(actor=None, state="WA", storage="pdf")
        services.state_policy_set(actor=None, state="ID", storage="display")
    return patient


def _commit(clinic, patient, data=FHIR, **changes):
    values = {"state": "OR", "format": "fhir", "data": data} | changes
    with tenant_context(clinic):
        return pdmp_import.commit(actor=None, patient=patient, **values)


def test_preview_shows_the_fills_and_writes_nothing(clinic_a, casey):
    with tenant_context(clinic_a):
        preview = pdmp_import.preview(patient=casey, state="OR", format="fhir", data=FHIR)
        assert len(preview.new) == 5 and not preview.on_file and not preview.identity_warnings
        assert preview.keeps_fills
        assert not Dispensation.objects.exists() and not PdmpImport.objects.exists()


def test_commit_stores_the_fills_registers_the_parties_and_audits(clinic_a, casey):
    row = _commit(clinic_a, casey)
    with tenant_context(clinic_a):
        fills = list(Dispensation.objects.order_by("filled_on"))
        assert (row.fill_count, row.new_fill_count, len(fills)) == (5, 5, 5)
        assert {f.drug_class for f in fills} == {"benzodiazepine", "opioid", "gabapentinoid"}
        oxy = next(f for f in fills if f.ingredient == "oxycodone")
        assert oxy.daily_amount == 40 and oxy.reported_mme == 60 and oxy.pharmacy.npi == "1888012345"
        assert Prescriber.objects.count() == 3 and Pharmacy.objects.count() == 3
        assert row.raw.startswith("{")
        events = AuditEvent.objects.filter(patient_id=casey.pk, object_type__icontains="dispensation")
        assert events.count() == 5


def test_the_same_fills_from_the_csv_add_nothing(clinic_a, casey):
    _commit(clinic_a, casey)
    row = _commit(clinic_a, casey, data=CSV, format="csv")
    assert (row.fill_count, row.new_fill_count) == (5, 0)
    with tenant_context(clinic_a):
        assert Dispensation.objects.count() == 5


def test_the_same_report_twice_is_refused_with_a_message(clinic_a, casey):
    _commit(clinic_a, casey)
    with pytest.raises(ValidationError) as error:
        _commit(clinic_a, casey)
    assert "already imported" in str(error.value)


def test_a_malformed_report_is_refused_whole(clinic_a, casey):
    broken = CSV.replace(b",120,each,30,", b",120,each,-3,")
    with pytest.raises(ValidationError) as error:
        _commit(clinic_a, casey, data=broken, format="csv")
    assert "Nothing was imported" in str(error.value) and "days_supply" in str(error.value)
    with tenant_context(clinic_a):
        assert not Dispensation.objects.exists() and not PdmpImport.objects.exists()


def test_another_name_and_birth_date_need_a_confirmation(clinic_a, patient_a):
    with tenant_context(clinic_a):
        services.state_policy_set(actor=None, state="OR", storage="raw")
    with pytest.raises(ValidationError) as error:
        _commit(clinic_a, patient_a)
    assert "identity_confirmed" in error.value.message_dict
    assert _commit(clinic_a, patient_a, identity_confirmed=True).new_fill_count == 5


def test_a_state_without_a_policy_is_refused(clinic_a, casey):
    with pytest.raises(ValidationError) as error:
        _commit(clinic_a, casey, state="TX")
    assert "TX" in error.value.message_dict["state"][0]


def test_a_pdf_only_state_keeps_no_fills_from_a_data_file(clinic_a, casey):
    row = _commit(clinic_a, casey, state="WA")
    assert row.format == PdmpImport.Format.VIEWED and row.raw == "" and row.new_fill_count == 0
    with tenant_context(clinic_a):
        assert not Dispensation.objects.exists()
    pdf = _commit(clinic_a, casey, state="WA", format="pdf", data=b"%PDF-1.7 synthetic report")
    assert pdf.format == "pdf" and bytes(pdf.pdf).startswith(b"%PDF")


def test_a_display_only_state_records_the_review_and_keeps_nothing(clinic_a, casey):
    row = _commit(clinic_a, casey, state="ID")
    assert (
        row.format == PdmpImport.Format.VIEWED and not row.raw and row.pdf is None and not row.report_sha256
    )
    with tenant_context(clinic_a):
        assert not Dispensation.objects.exists()


@pytest.mark.parametrize(
    ("data", "format", "field"),
    [
        (b"", "fhir", "file"),
        (b"not a pdf", "pdf", "file"),
        (b"{\x00}", "fhir", "file"),
        (FHIR, "xml", "format"),
    ],
)
def test_unreadable_files_are_refused_with_the_field_named(clinic_a, casey, data, format, field):
    with pytest.raises(ValidationError) as error:
        _commit(clinic_a, casey, data=data, format=format)
    assert field in error.value.message_dict
