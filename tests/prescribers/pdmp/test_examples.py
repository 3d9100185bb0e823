"""The example reports (prescribers/pdmp/examples) parse to exactly these records, in either format and in
either FHIR envelope, and parse the same way every time."""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from prescribers.pdmp import csv_report, fhir_bundle
from prescribers.pdmp.records import DispensationRecord, PartyRef

from . import BUNDLE_PATH, CSV_PATH, bundle, encode

WHITFIELD = PartyRef(name="Dana Whitfield, MD", npi="1234567893", dea="BW3141594")
ELLERY = PartyRef(name="Morgan Ellery, NP", npi="1987654328", dea="ME2718281")
OKAFOR = PartyRef(name="Riley Okafor, DO", npi="1555012347", dea="BO1618036")
RIVERSIDE = PartyRef(name="Riverside Pharmacy", npi="1666012343", dea="FR4242424", ncpdp="3812345")
HILLCREST = PartyRef(name="Hillcrest Drug", npi="1777012349", dea="FH5151511", ncpdp="3823456")
NORTHGATE = PartyRef(name="Northgate Pharmacy", npi="1888012345", dea="FN6060608", ncpdp="3834567")

ALPRAZOLAM = dict(
    drug_text="alprazolam 1 MG Oral Tablet",
    rxnorm="197321",
    ingredient="alprazolam",
    drug_class="benzodiazepine",
    strength=Decimal(1),
    form="tablet",
    quantity=Decimal(60),
    days_supply=30,
    written_on=dt.date(2026, 8, 31),
    refills_authorized=2,
    rx_number="7000101",
    prescriber=WHITFIELD,
    pharmacy=RIVERSIDE,
    payment_method="04",
)


def expected(where: str, source_id: str, **values) -> DispensationRecord:
    base = dict(
        where=where,
        ndc="",
        strength_unit="mg",
        quantity_unit="each",
        reported_mme=None,
        reported_lme=None,
        source_id=source_id,
    )
    return DispensationRecord(**{**base, **values})


FHIR_RECORDS = (
    expected(
        "entry 2 (MedicationDispense/dispense-alprazolam-0)",
        "MedicationDispense/dispense-alprazolam-0",
        filled_on=dt.date(2026, 9, 2),
        fill_number=0,
        **ALPRAZOLAM,
    ),
    expected(
        "entry 3 (MedicationDispense/dispense-clonazepam-0)",
        "MedicationDispense/dispense-clonazepam-0",
        filled_on=dt.date(2026, 9, 20),
        written_on=dt.date(2026, 9, 18),
        drug_text="clonazepam 0.5 MG Oral Tablet",
        rxnorm="197527",
        ingredient="clonazepam",
        drug_class="benzodiazepine",
        strength=Decimal("0.5"),
        form="tablet",
        quantity=Decimal(60),
        days_supply=30,
        fill_number=0,
        refills_authorized=0,
        rx_number="8100455",
        prescriber=ELLERY,
        pharmacy=HILLCREST,
        payment_method="01",
    ),
    expected(
        "entry 4 (MedicationDispense/dispense-gabapentin-0)",
        "MedicationDispense/dispense-gabapentin-0",
        filled_on=dt.date(2026, 9, 20),
        written_on=dt.date(2026, 9, 18),
        drug_text="gabapentin 300 MG Oral Capsule",
        rxnorm="310431",
        ingredient="gabapentin",
        drug_class="gabapentinoid",
        strength=Decimal(300),
        form="capsule",
        quantity=Decimal(90),
        days_supply=30,
        fill_number=0,
        refills_authorized=3,
        rx_number="8100460",
        prescriber=ELLERY,
        pharmacy=HILLCREST,
        payment_method="04",
    ),
    expected(
        "entry 5 (MedicationDispense/dispense-alprazolam-1)",
        "MedicationDispense/dispense-alprazolam-1",
        filled_on=dt.date(2026, 10, 1),
        fill_number=1,
        **ALPRAZOLAM,
    ),
    expected(
        "entry 7 (MedicationDispense/dispense-oxycodone-0)",
        "MedicationDispense/dispense-oxycodone-0",
        filled_on=dt.date(2026, 10, 9),
        written_on=dt.date(2026, 10, 8),
        drug_text="acetaminophen 325 MG / oxycodone hydrochloride 10 MG Oral Tablet",
        rxnorm="1049214",
        ingredient="oxycodone",
        drug_class="opioid",
        strength=Decimal(10),
        form="tablet",
        quantity=Decimal(120),
        days_supply=30,
        fill_number=0,
        refills_authorized=0,
        rx_number="9200877",
        prescriber=OKAFOR,
        pharmacy=NORTHGATE,
        payment_method="04",
        reported_mme=Decimal(60),
    ),
)


def fingerprints(report) -> list[str]:
    return sorted(r.fingerprint() for r in report.records)


def test_the_example_bundle_parses_to_exactly_these_records():
    report = fhir_bundle.parse(BUNDLE_PATH.read_bytes())
    assert report.problems == ()
    assert report.records == FHIR_RECORDS
    assert report.format == "fhir"
    assert report.patient_name == "Casey Sample"
    assert report.patient_birth_date == dt.date(1984, 5, 12)
    assert report.queried_at == dt.datetime(2026, 12, 1, 16, 5, tzinfo=dt.timezone(dt.timedelta(hours=-8)))
    assert report.transaction_id == "TXN-2026-12-01-000417"
    assert report.state == ""  # the IG carries no PDMP state: the caller asks
    assert report.notes == ("Left out 1 dispensation marked entered-in-error (voided).",)


def test_the_example_records_derive_daily_amounts_and_supply_ends():
    by_id = {r.source_id.split("/")[1]: r for r in fhir_bundle.parse(BUNDLE_PATH.read_bytes()).records}
    assert {k: (r.daily_amount, r.daily_unit) for k, r in by_id.items()} == {
        "dispense-alprazolam-0": (Decimal(2), "mg/day"),
        "dispense-clonazepam-0": (Decimal(1), "mg/day"),
        "dispense-gabapentin-0": (Decimal(900), "mg/day"),
        "dispense-alprazolam-1": (Decimal(2), "mg/day"),
        "dispense-oxycodone-0": (Decimal(40), "mg/day"),
    }
    assert by_id["dispense-alprazolam-0"].supply_end == dt.date(2026, 10, 1)
    assert by_id["dispense-clonazepam-0"].supply_end == dt.date(2026, 10, 19)
    # Clonazepam from a second prescriber overlaps both alprazolam fills: the case the demo shows.
    assert by_id["dispense-clonazepam-0"].filled_on <= by_id["dispense-alprazolam-0"].supply_end
    assert {r.prescriber.key for r in by_id.values()} == {
        "npi:1234567893",
        "npi:1987654328",
        "npi:1555012347",
    }
    assert {r.pharmacy.key for r in by_id.values()} == {"npi:1666012343", "npi:1777012349", "npi:1888012345"}


def test_the_example_csv_parses_to_the_same_records_but_for_where_they_sat():
    report = csv_report.parse(CSV_PATH.read_bytes())
    assert report.problems == ()
    assert report.notes == ()
    assert report.format == "csv"
    assert (report.patient_name, report.patient_birth_date) == ("Casey Sample", dt.date(1984, 5, 12))
    assert (report.queried_at, report.transaction_id, report.state) == (None, "", "")
    same = tuple(
        dataclasses.replace(r, where=f"line {line}", source_id="")
        for line, r in enumerate(FHIR_RECORDS, start=2)
    )
    assert report.records == same


def test_fhir_and_csv_give_the_same_fingerprints():
    fhir = fhir_bundle.parse(BUNDLE_PATH.read_bytes())
    table = csv_report.parse(CSV_PATH.read_bytes())
    assert len(fhir.records) == 5
    assert len(set(fingerprints(fhir))) == 5
    assert fingerprints(fhir) == fingerprints(table)


def test_re_parsing_is_stable():
    first = fhir_bundle.parse(BUNDLE_PATH.read_bytes())
    again = fhir_bundle.parse(BUNDLE_PATH.read_bytes())
    assert first == again
    assert csv_report.parse(CSV_PATH.read_bytes()) == csv_report.parse(CSV_PATH.read_bytes())
    # The fingerprint is a fixed function of the natural key, not of the process (no hash randomisation).
    assert FHIR_RECORDS[0].fingerprint() == first.records[0].fingerprint()
    assert len(FHIR_RECORDS[0].fingerprint()) == 64


def parameters(history: dict, *extra: dict) -> dict:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "pdmp-history-data",
                "extension": [
                    {"url": fhir_bundle.EXT_HEADER_TIMESTAMP, "valueDateTime": "2026-12-01T15:59:00-08:00"},
                    {
                        "url": fhir_bundle.EXT_ACTIVITY_PERIOD,
                        "valuePeriod": {"start": "2024-12-01", "end": "2026-12-01"},
                    },
                ],
                "resource": history,
            },
            *extra,
        ],
    }


def test_the_parameters_envelope_gives_the_same_records_and_its_notes():
    warning = {
        "name": "outcome",
        "resource": {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "warning",
                    "code": "incomplete",
                    "diagnostics": "Incomplete results: Iowa PDMP did not respond within the timeout window",
                }
            ],
        },
    }
    report = fhir_bundle.parse(encode(parameters(bundle(), warning)))
    assert report.problems == ()
    assert report.records == FHIR_RECORDS
    assert report.queried_at == dt.datetime(2026, 12, 1, 15, 59, tzinfo=dt.timezone(dt.timedelta(hours=-8)))
    assert report.notes == (
        "The PDMP searched dispensations from 2024-12-01 to 2026-12-01.",
        "The PDMP warns: Incomplete results: Iowa PDMP did not respond within the timeout window",
        "Left out 1 dispensation marked entered-in-error (voided).",
    )


def test_the_response_message_envelope_gives_the_same_records():
    message = {
        "resourceType": "Bundle",
        "type": "message",
        "timestamp": "2026-12-01T16:06:00-08:00",
        "entry": [
            {
                "fullUrl": "urn:uuid:aaaaaaaa-0000-4000-8000-000000000001",
                "resource": {
                    "resourceType": "MessageHeader",
                    "eventUri": "http://hl7.org/fhir/us/pdmp/OperationDefinition/pdmp-history",
                    "source": {"endpoint": "https://pdmp.example.org/"},
                    "response": {"identifier": "req-1", "code": "ok"},
                    "focus": [{"reference": "urn:uuid:aaaaaaaa-0000-4000-8000-000000000002"}],
                },
            },
            {"fullUrl": "urn:uuid:aaaaaaaa-0000-4000-8000-000000000002", "resource": parameters(bundle())},
        ],
    }
    report = fhir_bundle.parse(encode(message))
    assert report.problems == ()
    assert fingerprints(report) == sorted(r.fingerprint() for r in FHIR_RECORDS)


def test_a_no_data_outcome_is_an_empty_acceptable_report():
    no_data = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "outcome",
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        {
                            "severity": "information",
                            "code": "informational",
                            "details": {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/PMIXStatusCode",
                                        "code": "no-data",
                                    }
                                ]
                            },
                            "diagnostics": "No PDMP history was found for the submitted patient",
                        }
                    ],
                },
            }
        ],
    }
    report = fhir_bundle.parse(encode(no_data))
    assert report.ok and report.records == ()
    assert report.notes == (
        "The PDMP found no history for this patient: No PDMP history was found for the submitted patient",
    )


@pytest.mark.parametrize(
    ("status", "note"),
    [
        ("cancelled", "cancelled before dispensing"),
        ("declined", "declined by the pharmacy"),
        ("stopped", "stopped before dispensing"),
        ("in-progress", "in progress (not handed over)"),
        ("on-hold", "on hold (not handed over)"),
        ("preparation", "still in preparation (not handed over)"),
    ],
)
def test_dispensations_not_handed_over_are_left_out_with_a_note(status, note):
    doc = bundle()
    next(e for e in doc["entry"] if e["resource"].get("id") == "dispense-gabapentin-0")["resource"][
        "status"
    ] = status
    report = fhir_bundle.parse(encode(doc))
    assert report.ok
    assert "dispense-gabapentin-0" not in {r.source_id.split("/")[1] for r in report.records}
    assert f"Left out 1 dispensation {note}." in report.notes


def test_pdmp_alerts_and_administrations_become_notes():
    doc = bundle()
    doc["entry"] += [
        {
            "resource": {
                "resourceType": "DetectedIssue",
                "status": "final",
                "code": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/PMIXPatientAlertCatCode",
                            "code": "03",
                        }
                    ],
                    "text": "Doctor/pharmacy shopping alert",
                },
            }
        },
        {"resource": {"resourceType": "MedicationAdministration", "status": "completed"}},
    ]
    report = fhir_bundle.parse(encode(doc))
    assert report.ok and len(report.records) == 5
    assert "The PDMP raised an alert: Doctor/pharmacy shopping alert." in report.notes
    assert "Left out 1 medication administration(s): given in a clinic, not dispensed." in report.notes


def test_several_patient_records_agreeing_on_birth_date_are_one_patient_with_a_note():
    doc = bundle()
    doc["entry"].append(
        {
            "resource": {
                "resourceType": "Patient",
                "id": "ri-record",
                "name": [{"family": "Sample", "given": ["Casey", "Jo"]}],
                "birthDate": "1984-05-12",
            }
        }
    )
    report = fhir_bundle.parse(encode(doc))
    assert report.ok
    assert (report.patient_name, report.patient_birth_date) == ("Casey Sample", dt.date(1984, 5, 12))
    assert "The PDMP matched patient records under more than one name: Casey Sample; Casey Jo Sample." in (
        report.notes
    )
