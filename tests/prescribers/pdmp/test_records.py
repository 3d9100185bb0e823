"""The canonical record: party keys, daily amounts, supply ends, what the fingerprint does and does not
cover; and the parsers stay pure."""

import ast
import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from prescribers.pdmp import records, values
from prescribers.pdmp.records import Collector, DispensationRecord, ImportProblem, PartyRef

PACKAGE = Path(records.__file__).resolve().parent


def record(**changes) -> DispensationRecord:
    base = DispensationRecord(
        where="line 2",
        filled_on=dt.date(2026, 9, 2),
        written_on=None,
        drug_text="alprazolam 1 MG Oral Tablet",
        ndc="",
        rxnorm="197321",
        ingredient="alprazolam",
        drug_class="benzodiazepine",
        strength=Decimal(1),
        strength_unit="mg",
        form="tablet",
        quantity=Decimal(60),
        quantity_unit="each",
        days_supply=30,
        fill_number=0,
        refills_authorized=None,
        rx_number="7000101",
        prescriber=PartyRef(name="Dana Whitfield", npi="1234567893"),
        pharmacy=PartyRef(name="Riverside", ncpdp="3812345"),
        payment_method="",
        reported_mme=None,
        reported_lme=None,
        source_id="",
    )
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(
    ("party", "key"),
    [
        (PartyRef(name="A", npi="1234567893", dea="BW3141594", ncpdp="3812345"), "npi:1234567893"),
        (PartyRef(name="A", dea="BW3141594", ncpdp="3812345"), "dea:BW3141594"),
        (PartyRef(name="A", ncpdp="3812345"), "ncpdp:3812345"),
        (PartyRef(name="  Dr. Dana   WHITFIELD, M.D. "), "name:dr dana whitfield m d"),
        (PartyRef(name="José Núñez"), "name:jose nunez"),
        (PartyRef(state_license="MD12345"), ""),
        (PartyRef(), ""),
    ],
)
def test_a_party_is_keyed_by_its_strongest_identifier(party, key):
    assert party.key == key


@pytest.mark.parametrize(
    ("changes", "amount", "unit"),
    [
        ({}, Decimal(2), "mg/day"),
        ({"quantity": Decimal(100)}, Decimal("3.3333"), "mg/day"),
        ({"quantity_unit": ""}, Decimal(2), "mg/day"),
        ({"quantity_unit": "mL"}, None, ""),
        ({"form": ""}, None, ""),
        ({"strength": None, "strength_unit": ""}, None, ""),
        (
            {"strength": Decimal(10), "strength_unit": "mg/mL", "form": "solution", "quantity_unit": "mL"},
            Decimal(20),
            "mg/day",
        ),
        ({"strength": Decimal(10), "strength_unit": "mg/mL", "form": "solution"}, None, ""),
        (
            {"strength": Decimal(25), "strength_unit": "mcg/h", "form": "patch", "quantity": Decimal(10)},
            Decimal(25),
            "mcg/h",
        ),
    ],
)
def test_daily_amount(changes, amount, unit):
    changed = record(**changes)
    assert (changed.daily_amount, changed.daily_unit) == (amount, unit)


def test_supply_end_counts_the_fill_day():
    assert record().supply_end == dt.date(2026, 10, 1)
    assert record(days_supply=1).supply_end == dt.date(2026, 9, 2)


def test_the_fingerprint_ignores_where_the_record_sat_and_how_parties_are_named():
    same = [
        record(where="entry 9 (MedicationDispense/x)", source_id="MedicationDispense/x"),
        record(drug_text="ALPRAZOLAM 1MG TAB"),  # keyed by RxNorm, not text
        record(prescriber=PartyRef(name="Whitfield, Dana", npi="1234567893", dea="BW3141594")),
        record(quantity=Decimal("60.000"), payment_method="01", reported_lme=Decimal(4)),
        record(rx_number=" 7000101 "),
    ]
    assert {r.fingerprint() for r in same} == {record().fingerprint()}


def test_the_drug_key_is_the_most_specific_code():
    assert record(ndc="00093015001").drug_key() == "ndc:00093015001"
    assert record().drug_key() == "rxnorm:197321"
    assert record(rxnorm="", drug_text="Alprazolam  1 mg, tablet").drug_key() == "text:alprazolam 1 mg tablet"


def test_a_problem_reads_as_where_field_message():
    assert str(ImportProblem("line 4", "days_supply", "must be a whole number")) == (
        "line 4, days_supply: must be a whole number"
    )
    assert str(ImportProblem("report", "", "is empty")) == "report: is empty"


def test_the_collector_dedupes_and_caps_problems_and_notes():
    out = Collector()
    for _ in range(3):
        out.problem("line 2", "quantity", "is empty")
    for i in range(records.PROBLEM_LIMIT + 5):
        out.problem(f"line {i + 3}", "quantity", "is empty")
    for i in range(records.NOTE_LIMIT + 2):
        out.note(f"note {i}")
    report = out.report("csv", [record()])
    assert len(report.problems) == records.PROBLEM_LIMIT + 1
    assert report.problems[-1].message == "and 6 more problems not listed here"
    assert report.notes[-1] == "and 2 more notes"
    assert report.records == () and not report.ok


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0093-0150-01", ("00093015001", None, False)),
        ("00093-150-01", ("00093015001", None, False)),
        ("00093-0150-1", ("00093015001", None, False)),
        ("00093-0150-01", ("00093015001", None, False)),
        ("00093015001", ("00093015001", None, False)),
        ("0093015001", ("", None, True)),
        ("", ("", None, False)),
    ],
)
def test_ndc_normalisation(raw, expected):
    assert values.ndc(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "0093-0150-011", "abcde-fghi-jk", "000930150011"])
def test_malformed_ndcs_are_problems(raw):
    assert values.ndc(raw)[1] is not None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("01", "01"),
        ("2", "02"),
        ("Medicaid", "02"),
        ("cash", "01"),
        ("Workers' Comp", "06"),
        ("99", "99"),
        ("", ""),
    ],
)
def test_payment_methods(raw, code):
    assert values.payment(raw) == (code, None)


def test_a_supervised_dea_suffix_is_cut_before_the_check():
    party = values.party("Dana Whitfield", dea="BW3141594-001AB")
    assert party.dea == "BW3141594"
    assert values.party_problems(party) == []


FRAMEWORKS = ("django", "rest_framework", "celery", "django_scopes", "allauth")
ALLOWED_APP_IMPORTS = ("prescribers.drugs", "prescribers.identifiers", "prescribers.pdmp")


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_the_pdmp_modules_are_pure(path):
    """No framework, and of the app only the drug table, the identifier checks and this package (the
    integrator may add prescribers/pdmp/*.py to PURE_MODULES in tests/architecture/test_layers.py)."""
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                imported.add("prescribers.pdmp")
            elif node.module:
                imported |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
    assert not {m for m in imported if m.split(".")[0] in FRAMEWORKS}
    app = {m for m in imported if m.split(".")[0] in ("prescribers", "patients", "taper", "clinic", "safety")}
    assert all(m.startswith(ALLOWED_APP_IMPORTS) or m == "prescribers" for m in app), app
