"""Each malformed FHIR report gives exactly the expected problems (where, field, message), and a report
with any problem carries no records. Cases start from the example bundle and change one thing."""

from collections.abc import Callable

import pytest

from prescribers.pdmp import fhir_bundle
from prescribers.pdmp.records import PROBLEM_LIMIT, ImportProblem

from . import bundle, encode, resource

CLONAZEPAM = "entry 3 (MedicationDispense/dispense-clonazepam-0)"
GABAPENTIN = "entry 4 (MedicationDispense/dispense-gabapentin-0)"
OXYCODONE = "entry 7 (MedicationDispense/dispense-oxycodone-0)"
ELLERY = "entry 9 (Practitioner/prac-ellery)"


def changed(change: Callable[[dict], object]) -> bytes:
    doc = bundle()
    change(doc)
    return encode(doc)


def clonazepam(doc: dict) -> dict:
    return resource(doc, "dispense-clonazepam-0")


def set_path(doc: dict, rid: str, path: str, value) -> None:
    target = resource(doc, rid)
    *parents, last = path.split(".")
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    target[int(last) if last.isdigit() else last] = value


def _outcome(severity: str, text: str) -> bytes:
    return encode(
        {
            "resourceType": "Parameters",
            "parameter": [
                {
                    "name": "outcome",
                    "resource": {
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": severity, "code": "exception", "diagnostics": text}],
                    },
                }
            ],
        }
    )


CASES: list[tuple[str, bytes, list[tuple[str, str, str]]]] = [
    (
        "missing quantity",
        changed(lambda d: clonazepam(d).pop("quantity")),
        [(CLONAZEPAM, "quantity.value", "is missing; the amount dispensed is required")],
    ),
    (
        "quantity is text",
        changed(lambda d: set_path(d, "dispense-clonazepam-0", "quantity.value", "60")),
        [
            (
                CLONAZEPAM,
                "quantity.value",
                'must be a number greater than 0 (the amount dispensed); the report gives "60"',
            )
        ],
    ),
    (
        "negative days",
        changed(lambda d: set_path(d, "dispense-clonazepam-0", "daysSupply.value", -5)),
        [
            (
                CLONAZEPAM,
                "daysSupply.value",
                "must be a whole number of days between 1 and 365; the report gives -5",
            )
        ],
    ),
    (
        "fractional days",
        changed(lambda d: set_path(d, "dispense-clonazepam-0", "daysSupply.value", 7.5)),
        [
            (
                CLONAZEPAM,
                "daysSupply.value",
                "must be a whole number of days between 1 and 365; the report gives 7.5",
            )
        ],
    ),
    (
        "missing days supply",
        changed(lambda d: clonazepam(d).pop("daysSupply")),
        [(CLONAZEPAM, "daysSupply.value", "is missing; the number of days the fill lasts is required")],
    ),
    (
        "impossible fill date",
        changed(lambda d: clonazepam(d).update(whenPrepared="2026-02-30")),
        [(CLONAZEPAM, "whenPrepared", "is not a real date; the report gives '2026-02-30'")],
    ),
    (
        "partial fill date",
        changed(lambda d: clonazepam(d).update(whenPrepared="2026-09")),
        [(CLONAZEPAM, "whenPrepared", "must be a full date (YYYY-MM-DD); the report gives only '2026-09'")],
    ),
    (
        "no fill date",
        changed(lambda d: [clonazepam(d).pop(k) for k in ("whenPrepared", "whenHandedOver")]),
        [(CLONAZEPAM, "whenPrepared", "is missing; the date the prescription was filled is required")],
    ),
    (
        "prescriber NPI with a bad check digit",
        changed(lambda d: set_path(d, "prac-ellery", "identifier.0.value", "1987654321")),
        [
            (
                ELLERY,
                "identifier (prescriber NPI)",
                "This NPI's check digit is wrong; check for a mistyped digit (the report gives 1987654321).",
            )
        ],
    ),
    (
        "prescriber DEA with a bad check digit",
        changed(lambda d: set_path(d, "prac-ellery", "identifier.1.value", "ME2718282")),
        [
            (
                ELLERY,
                "identifier (prescriber DEA)",
                "This DEA number's check digit is wrong; check for a mistyped character (the report gives "
                "ME2718282).",
            )
        ],
    ),
    (
        "pharmacy NCPDP id of six digits",
        changed(
            lambda d: set_path(d, "dispense-oxycodone-0", "performer.0.actor.identifier.value", "383456")
        ),
        [
            (
                OXYCODONE,
                "identifier (pharmacy NCPDP)",
                "An NCPDP provider id is 7 digits (the report gives 383456).",
            ),
            (
                OXYCODONE,
                "performer.actor.identifier",
                "gives NCPDP 383456, but the resource it points to has 3834567",
            ),
        ],
    ),
    (
        "unknown medication reference",
        changed(
            lambda d: set_path(d, "dispense-gabapentin-0", "medicationReference.reference", "Medication/nope")
        ),
        [(GABAPENTIN, "medicationReference", "points to 'Medication/nope', which is not in the report")],
    ),
    (
        "medication reference to the wrong kind of resource",
        changed(
            lambda d: set_path(
                d, "dispense-gabapentin-0", "medicationReference.reference", "Organization/pharmacy-hillcrest"
            )
        ),
        [(GABAPENTIN, "medicationReference", "points to an Organization, not a Medication")],
    ),
    (
        "no medication",
        changed(lambda d: clonazepam(d).pop("medicationCodeableConcept")),
        [(CLONAZEPAM, "medication[x]", "is missing; the report must say which drug was dispensed")],
    ),
    (
        "malformed NDC",
        changed(
            lambda d: clonazepam(d)["medicationCodeableConcept"]["coding"].append(
                {"system": "http://hl7.org/fhir/sid/ndc", "code": "12345"}
            )
        ),
        [
            (
                CLONAZEPAM,
                "medicationCodeableConcept.coding (NDC)",
                "An NDC is 11 digits (5-4-2) or 10 digits with dashes (4-4-2, 5-3-2 or 5-4-1). "
                "The report gives '12345'.",
            )
        ],
    ),
    (
        "unresolvable authorizing prescription",
        changed(
            lambda d: set_path(d, "dispense-clonazepam-0", "authorizingPrescription.0.reference", "#gone")
        ),
        [(CLONAZEPAM, "authorizingPrescription", "points to '#gone', which is not in the report")],
    ),
    (
        "written after it was filled",
        changed(lambda d: resource(d, "rx-clonazepam").update(authoredOn="2026-09-21")),
        [
            (
                CLONAZEPAM,
                "authorizingPrescription.authoredOn",
                "the prescription is dated 2026-09-21, after it was filled on 2026-09-20",
            )
        ],
    ),
    (
        "no pharmacy",
        changed(lambda d: clonazepam(d).pop("performer")),
        [(CLONAZEPAM, "performer.actor", "is missing; the pharmacy that dispensed is required")],
    ),
    (
        "fill number that is not a count",
        changed(lambda d: clonazepam(d)["extension"][0].update({"valueUnsignedInt": -1})),
        [
            (
                CLONAZEPAM,
                "extension (rx-fill-number)",
                "must be a whole number from 0 (the first fill) to 99; the report gives -1",
            )
        ],
    ),
    (
        "unknown payment code",
        changed(lambda d: clonazepam(d)["extension"][1]["valueCoding"].update(code="42")),
        [
            (
                CLONAZEPAM,
                "extension (method-of-payment)",
                "is not a payment method Stepdown knows ('42'); use one of: 01 Private pay (cash, charge, "
                "credit "
                "card), 02 Medicaid, 03 Medicare, 04 Commercial insurance, 05 Military installations or VA, "
                "06 Workers' compensation, 07 Indian Nations, 99 Other",
            )
        ],
    ),
    (
        "unknown status",
        changed(lambda d: clonazepam(d).update(status="unknown")),
        [
            (
                CLONAZEPAM,
                "status",
                "is 'unknown'; Stepdown imports only dispensations the PDMP reports as completed, and cannot "
                "tell whether this one was dispensed",
            )
        ],
    ),
    (
        "missing status",
        changed(lambda d: clonazepam(d).pop("status")),
        [
            (
                CLONAZEPAM,
                "status",
                "is missing; Stepdown imports only dispensations the PDMP reports as completed, and cannot "
                "tell whether this one was dispensed",
            )
        ],
    ),
    (
        "two birth dates",
        changed(
            lambda d: d["entry"].append(
                {
                    "resource": {
                        "resourceType": "Patient",
                        "id": "p2",
                        "name": [{"text": "Casey Sample"}],
                        "birthDate": "1984-12-05",
                    }
                }
            )
        ),
        [
            (
                "entry 19 (Patient/p2)",
                "birthDate",
                "is 1984-12-05 but another patient record in the report gives 1984-05-12; the report may "
                "mix two "
                "people, so check it with the PDMP",
            )
        ],
    ),
    (
        "two entries with one fullUrl",
        changed(lambda d: d["entry"][2].update(fullUrl=d["entry"][1]["fullUrl"])),
        [
            (
                "entry 3 (MedicationDispense/dispense-clonazepam-0)",
                "fullUrl",
                "urn:uuid:5e1f0c2a-0000-4000-8000-000000000050 is used by "
                "entry 2 (MedicationDispense/dispense-alprazolam-0) too",
            )
        ],
    ),
    (
        "wrong resourceType",
        encode({"resourceType": "Patient", "id": "x"}),
        [
            (
                "report",
                "resourceType",
                "is 'Patient'; expected the PDMP history Bundle (type collection) or the Parameters "
                "resource that "
                "$pdmp-history returns",
            )
        ],
    ),
    (
        "wrong Bundle type",
        changed(lambda d: d.update(type="transaction")),
        [
            (
                "report",
                "Bundle.type",
                "is 'transaction'; a PDMP history is a 'collection' Bundle (pdmp-history-data)",
            )
        ],
    ),
    (
        "invalid JSON",
        b'{"resourceType": "Bundle", "type": "collection",',
        [
            (
                "report",
                "file",
                "is not valid JSON (Expecting property name enclosed in double quotes at line 1, column 49)",
            )
        ],
    ),
    (
        "JSON that is not an object",
        b"[1, 2, 3]",
        [("report", "file", "is JSON but not a FHIR resource (expected an object with resourceType)")],
    ),
    (
        "100,000-deep arrays",
        b"[" * 100_000 + b"]" * 100_000,
        [("report", "file", "is nested more than 64 levels deep; no PDMP report is")],
    ),
    (
        "100,000-deep objects",
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        [("report", "file", "is nested more than 64 levels deep; no PDMP report is")],
    ),
    (
        "lone surrogate in a string",
        changed(lambda d: clonazepam(d)["medicationCodeableConcept"].update(text="clonazepam \ud800")),
        [
            (
                "report",
                "entry[2].resource.medicationCodeableConcept.text",
                "contains a damaged character (an unpaired UTF-16 surrogate such as \\ud800); "
                "ask the PDMP for the report again",
            )
        ],
    ),
    (
        "NaN",
        b'{"resourceType": "Bundle", "type": "collection", "total": NaN}',
        [("report", "file", "contains NaN, which is not a number JSON allows")],
    ),
    (
        "duplicate key",
        b'{"resourceType": "Bundle", "type": "collection", "type": "searchset"}',
        [("report", "type", "appears twice in one JSON object, so the report is ambiguous")],
    ),
    (
        "not UTF-8",
        '{"resourceType": "Bundle", "type": "collection", "id": "café"}'.encode("latin-1"),
        [("report", "file", "is not UTF-8 text (byte 60 cannot be read); FHIR JSON is UTF-8")],
    ),
    ("empty file", b"", [("report", "file", "is empty")]),
    ("only whitespace", b" \n\t ", [("report", "file", "is empty")]),
    (
        "the PDMP reports an error",
        _outcome("error", "An unexpected system error occurred during processing. Please resubmit."),
        [
            (
                "report",
                "outcome",
                "the PDMP reported an error: An unexpected system error occurred during processing. Please "
                "resubmit.",
            )
        ],
    ),
    (
        "only a link to the report",
        encode(
            {
                "resourceType": "Parameters",
                "parameter": [{"name": "pdmp-history-link", "valueUrl": "https://pdmp.example.org/report/1"}],
            }
        ),
        [
            (
                "report",
                "pdmp-history-data",
                "the response carries only a link to the PDMP's report, no dispensations to import",
            )
        ],
    ),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_reports_give_the_expected_problems(data, expected):
    report = fhir_bundle.parse(data)
    assert [(p.where, p.field, p.message) for p in report.problems] == expected
    assert not report.ok
    assert report.records == ()


def test_a_report_over_max_bytes_is_refused_before_it_is_read():
    report = fhir_bundle.parse(b" " * (10 * 1024 * 1024 + 1))
    assert report.problems == (
        ImportProblem(
            "report",
            "file",
            "is larger than 10 MB (10,485,761 bytes), the most Stepdown reads in one report; ask the PDMP "
            "for a "
            "shorter date range",
        ),
    )
    small = fhir_bundle.parse(encode(bundle()), max_bytes=1000)
    assert small.problems[0].message.startswith("is larger than 1,000 bytes (")


def test_a_report_over_max_entries_is_refused():
    report = fhir_bundle.parse(encode(bundle()), max_entries=5)
    assert [(p.where, p.field, p.message) for p in report.problems] == [
        (
            "report",
            "Bundle.entry",
            "has 18 entries; Stepdown reads at most 5 in one report. Ask the PDMP for a shorter date range.",
        )
    ]


def test_a_recursion_error_from_json_loads_becomes_a_problem(monkeypatch):
    # With the depth pre-check lifted, json.loads itself recurses on 100,000 levels and raises
    # RecursionError; the parser still answers with a problem.
    monkeypatch.setattr(fhir_bundle, "MAX_DEPTH", 10**9)
    report = fhir_bundle.parse(b"[" * 100_000 + b"]" * 100_000)
    assert [(p.where, p.field, p.message) for p in report.problems] == [
        ("report", "file", "is nested too deeply to read")
    ]


def test_every_problem_is_reported_not_just_the_first():
    doc = bundle()
    clonazepam(doc).pop("quantity")
    resource(doc, "dispense-oxycodone-0")["daysSupply"]["value"] = 0
    resource(doc, "prac-ellery")["identifier"][0]["value"] = "1987654321"
    report = fhir_bundle.parse(encode(doc))
    assert [(p.where, p.field) for p in report.problems] == [
        (CLONAZEPAM, "quantity.value"),
        (ELLERY, "identifier (prescriber NPI)"),
        (OXYCODONE, "daysSupply.value"),
    ]


def test_problems_stop_at_the_limit_with_one_and_n_more():
    doc = bundle()
    template = clonazepam(doc)
    for i in range(PROBLEM_LIMIT + 50):
        copy = {**template, "id": f"bad-{i}", "daysSupply": {"value": 0}}
        doc["entry"].append({"fullUrl": f"urn:uuid:bad-{i}", "resource": copy})
    report = fhir_bundle.parse(encode(doc))
    assert len(report.problems) == PROBLEM_LIMIT + 1
    assert report.problems[-1] == ImportProblem("report", "", "and 50 more problems not listed here")
