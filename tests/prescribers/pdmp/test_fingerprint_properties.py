"""Hypothesis properties of the fingerprint: the same fills give the same fingerprints in any entry order and
in either format; changing any field of the natural key changes the fingerprint; changing anything else
does not. `test_the_key_property_fails_for_a_fingerprint_that_ignores_quantity` shows the property can fail.

PDMP_HYPOTHESIS_EXAMPLES raises the number of examples.
"""

import csv
import dataclasses
import datetime as dt
import io
import json
import os
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from stdnum import luhn

from prescribers.pdmp import csv_report, fhir_bundle
from prescribers.pdmp.records import DispensationRecord, PartyRef

PROPS = settings(
    max_examples=int(os.environ.get("PDMP_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

IG = "http://hl7.org/fhir/us/pdmp/StructureDefinition/"
DRUGS = [
    ("alprazolam 1 MG Oral Tablet", "197321", ""),
    ("clonazepam 0.5 MG Oral Tablet", "197527", "00093083201"),
    ("gabapentin 300 MG Oral Capsule", "310431", ""),
    ("acetaminophen 325 MG / oxycodone hydrochloride 10 MG Oral Tablet", "1049214", ""),
    ("Xanax 1 mg tablet", "", ""),
    ("methadone hydrochloride 10 MG/ML Oral Solution", "", "00054355344"),
]


def npi(base: int) -> str:
    nine = str(100_000_000 + base)
    return nine + luhn.calc_check_digit("80840" + nine)


def dea(letters: str, base: int) -> str:
    d = [int(c) for c in f"{base:06d}"]
    return f"{letters}{base:06d}{(d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10}"


PRESCRIBERS = [(f"Prescriber {i}", npi(100 + i), dea("BP", 314_000 + i)) for i in range(4)]
PHARMACIES = [(f"Pharmacy {i}", npi(200 + i), f"38{i:05d}") for i in range(4)]


@st.composite
def fills(draw):
    return {
        "filled_on": draw(st.dates(dt.date(2020, 1, 1), dt.date(2027, 12, 31))),
        "drug": draw(st.sampled_from(DRUGS)),
        "quantity": draw(st.decimals(Decimal("0.5"), Decimal(1000), places=1)),
        "days": draw(st.integers(1, 365)),
        "prescriber": draw(st.integers(0, len(PRESCRIBERS) - 1)),
        "pharmacy": draw(st.integers(0, len(PHARMACIES) - 1)),
        "rx_number": draw(st.text("0123456789ABC", min_size=1, max_size=9)),
        "fill_number": draw(st.none() | st.integers(0, 11)),
    }


def bundle_of(items: list[dict], order: list[int]) -> bytes:
    """A PDMP history bundle holding `items`, its entries in `order` (a permutation of all of them)."""
    entries = []
    for i, (name, number, dea_number) in enumerate(PRESCRIBERS):
        entries.append(
            {
                "fullUrl": f"urn:uuid:prac-{i}",
                "resource": {
                    "resourceType": "Practitioner",
                    "id": f"prac-{i}",
                    "identifier": [
                        {"system": "http://hl7.org/fhir/sid/us-npi", "value": number},
                        {
                            "system": "http://terminology.hl7.org/NamingSystem/usdeanumber",
                            "value": dea_number,
                        },
                    ],
                    "name": [{"text": name}],
                },
            }
        )
    for i, (name, number, ncpdp) in enumerate(PHARMACIES):
        entries.append(
            {
                "fullUrl": f"urn:uuid:pharm-{i}",
                "resource": {
                    "resourceType": "Organization",
                    "id": f"pharm-{i}",
                    "identifier": [
                        {"system": "http://hl7.org/fhir/sid/us-npi", "value": number},
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/NCPDPProviderIdentificationNumber",
                            "value": ncpdp,
                        },
                    ],
                    "name": name,
                },
            }
        )
    for i, item in enumerate(items):
        text, rxnorm, ndc = item["drug"]
        codings = (
            [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": rxnorm}] if rxnorm else []
        )
        codings += [{"system": "http://hl7.org/fhir/sid/ndc", "code": ndc}] if ndc else []
        extension = (
            []
            if item["fill_number"] is None
            else [{"url": IG + "pdmp-extension-rx-fill-number", "valueUnsignedInt": item["fill_number"]}]
        )
        entries.append(
            {
                "fullUrl": f"urn:uuid:rx-{i}",
                "resource": {
                    "resourceType": "MedicationRequest",
                    "id": f"rx-{i}",
                    "status": "active",
                    "intent": "order",
                    "requester": {"reference": f"Practitioner/prac-{item['prescriber']}"},
                },
            }
        )
        entries.append(
            {
                "fullUrl": f"urn:uuid:md-{i}",
                "resource": {
                    "resourceType": "MedicationDispense",
                    "id": f"md-{i}",
                    "extension": extension,
                    "identifier": [{"value": item["rx_number"]}],
                    "status": "completed",
                    "medicationCodeableConcept": {"coding": codings, "text": text},
                    "performer": [{"actor": {"reference": f"urn:uuid:pharm-{item['pharmacy']}"}}],
                    "authorizingPrescription": [{"reference": f"urn:uuid:rx-{i}"}],
                    # A one-place decimal survives float: JSON writes 60.5, the parser reads Decimal("60.5").
                    "quantity": {"value": float(item["quantity"]), "unit": "each"},
                    "daysSupply": {"value": item["days"]},
                    "whenPrepared": item["filled_on"].isoformat(),
                },
            }
        )
    entries.append({"resource": {"resourceType": "Patient", "id": "p", "birthDate": "1984-05-12"}})
    assert sorted(order) == list(range(len(entries)))
    return json.dumps(
        {"resourceType": "Bundle", "type": "collection", "entry": [entries[i] for i in order]}
    ).encode()


def csv_of(items: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "fill_date",
            "drug",
            "rxnorm",
            "ndc",
            "quantity",
            "days_supply",
            "fill_number",
            "rx_number",
            "prescriber_name",
            "prescriber_npi",
            "prescriber_dea",
            "pharmacy_name",
            "pharmacy_npi",
            "pharmacy_ncpdp",
        ]
    )
    for item in items:
        text, rxnorm, ndc = item["drug"]
        writer.writerow(
            [
                item["filled_on"].strftime("%m/%d/%Y"),
                text,
                rxnorm,
                ndc,
                item["quantity"],
                item["days"],
                "" if item["fill_number"] is None else item["fill_number"],
                item["rx_number"],
                *PRESCRIBERS[item["prescriber"]],
                *PHARMACIES[item["pharmacy"]],
            ]
        )
    return out.getvalue().encode()


@st.composite
def reports(draw):
    items = draw(st.lists(fills(), min_size=1, max_size=6))
    size = len(PRESCRIBERS) + len(PHARMACIES) + 2 * len(items) + 1
    first, second = draw(st.permutations(range(size))), draw(st.permutations(range(size)))
    return items, list(first), list(second)


def fingerprints(report) -> list[str]:
    assert report.problems == ()
    return sorted(r.fingerprint() for r in report.records)


@PROPS
@given(reports())
def test_the_same_fills_give_the_same_fingerprints_in_any_order_and_either_format(report):
    items, first, second = report
    one = fhir_bundle.parse(bundle_of(items, first))
    other = fhir_bundle.parse(bundle_of(items, second))
    assert len(one.records) == len(items)
    assert fingerprints(one) == fingerprints(other)
    rows = csv_report.parse(csv_of(items[::-1]))
    assert fingerprints(rows) == fingerprints(one)


def records_of(item: dict) -> DispensationRecord:
    text, rxnorm, ndc = item["drug"]
    name, number, dea_number = PRESCRIBERS[item["prescriber"]]
    pharmacy, pharmacy_npi, ncpdp = PHARMACIES[item["pharmacy"]]
    return DispensationRecord(
        where="line 2",
        filled_on=item["filled_on"],
        written_on=None,
        drug_text=text,
        ndc=ndc,
        rxnorm=rxnorm,
        ingredient=None,
        drug_class=None,
        strength=None,
        strength_unit="",
        form="",
        quantity=item["quantity"],
        quantity_unit="each",
        days_supply=item["days"],
        fill_number=item["fill_number"],
        refills_authorized=None,
        rx_number=item["rx_number"],
        prescriber=PartyRef(name=name, npi=number, dea=dea_number),
        pharmacy=PartyRef(name=pharmacy, npi=pharmacy_npi, ncpdp=ncpdp),
        payment_method="",
        reported_mme=None,
        reported_lme=None,
        source_id="",
    )


def other_party(party: PartyRef, which: int) -> PartyRef:
    return dataclasses.replace(party, npi=npi(900 + which))


KEY_CHANGES = {
    "filled_on": lambda r, v: dataclasses.replace(r, filled_on=r.filled_on + dt.timedelta(days=v % 400 + 1)),
    "drug": lambda r, v: (
        dataclasses.replace(r, ndc=f"{v % 10**11:011d}")
        if r.ndc
        else (
            dataclasses.replace(r, rxnorm=str(v + 1))
            if r.rxnorm
            else dataclasses.replace(r, drug_text=r.drug_text + f" {v}")
        )
    ),
    "quantity": lambda r, v: dataclasses.replace(r, quantity=r.quantity + Decimal(v % 50 + 1) / 10),
    "days_supply": lambda r, v: dataclasses.replace(r, days_supply=r.days_supply % 365 + 1),
    "prescriber": lambda r, v: dataclasses.replace(r, prescriber=other_party(r.prescriber, v % 50)),
    "pharmacy": lambda r, v: dataclasses.replace(r, pharmacy=other_party(r.pharmacy, v % 50)),
    "rx_number": lambda r, v: dataclasses.replace(r, rx_number=r.rx_number + "X"),
    "fill_number": lambda r, v: (
        dataclasses.replace(r, fill_number=None if r.fill_number == 0 else 0)
        if r.fill_number is not None
        else dataclasses.replace(r, fill_number=v % 5)
    ),
}

OTHER_CHANGES = {
    "where": lambda r: dataclasses.replace(r, where="entry 40 (MedicationDispense/x)"),
    "source_id": lambda r: dataclasses.replace(r, source_id="MedicationDispense/x"),
    "prescriber name": lambda r: dataclasses.replace(
        r, prescriber=dataclasses.replace(r.prescriber, name="Dr X")
    ),
    "pharmacy name": lambda r: dataclasses.replace(r, pharmacy=dataclasses.replace(r.pharmacy, name="Y")),
    "payment": lambda r: dataclasses.replace(r, payment_method="02"),
    "mme": lambda r: dataclasses.replace(r, reported_mme=Decimal(90)),
    "written": lambda r: dataclasses.replace(r, written_on=r.filled_on),
    "quantity zeros": lambda r: dataclasses.replace(r, quantity=r.quantity.quantize(Decimal("0.001"))),
}


def check_key_fields(item: dict, field: str, nudge: int) -> None:
    original = records_of(item)
    changed = KEY_CHANGES[field](original, nudge)
    assume(changed != original)
    assert changed.fingerprint() != original.fingerprint(), f"changing {field} kept the fingerprint"


@PROPS
@given(fills(), st.sampled_from(sorted(KEY_CHANGES)), st.integers(0, 10**6))
def test_changing_any_key_field_changes_the_fingerprint(item, field, nudge):
    check_key_fields(item, field, nudge)


@PROPS
@given(fills(), st.sampled_from(sorted(OTHER_CHANGES)))
def test_changing_anything_else_keeps_the_fingerprint(item, field):
    original = records_of(item)
    assert OTHER_CHANGES[field](original).fingerprint() == original.fingerprint()


def test_the_key_property_fails_for_a_fingerprint_that_ignores_quantity(monkeypatch):
    """The property has teeth: with quantity left out of the natural key it goes red."""
    real = DispensationRecord.natural_key

    def without_quantity(self):
        key = real(self)
        return key[:3] + key[4:]

    monkeypatch.setattr(DispensationRecord, "natural_key", without_quantity)

    @settings(max_examples=200, deadline=None, database=None, derandomize=True)
    @given(fills(), st.integers(0, 10**6))
    def quantity_changes_the_fingerprint(item, nudge):
        check_key_fields(item, "quantity", nudge)

    with pytest.raises(AssertionError, match="changing quantity kept the fingerprint"):
        quantity_changes_the_fingerprint()
