"""Each malformed CSV report gives exactly the expected problems (line, column, message); the layout's
tolerances (case, BOM, US dates, unknown columns, blank lines) do not."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from prescribers.pdmp import csv_report
from prescribers.pdmp.records import PROBLEM_LIMIT, ImportProblem

from . import CSV_PATH, csv_lines

HEADER = csv_lines()[0].split(",")


def table(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def with_cell(line: int, column: str, value: str) -> bytes:
    """The example with one cell changed (line 1 = header, as in problems)."""
    rows = list(csv.reader(io.StringIO(CSV_PATH.read_text())))
    rows[line - 1][HEADER.index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def renamed(old: str, new: str) -> bytes:
    lines = csv_lines()
    lines[0] = ",".join(new if c == old else c for c in lines[0].split(","))
    return table(lines)


def dropped(column: str) -> bytes:
    rows = list(csv.reader(io.StringIO(CSV_PATH.read_text())))
    index = rows[0].index(column)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([r[:index] + r[index + 1 :] for r in rows])
    return out.getvalue().encode()


CASES = [
    (
        "missing required column",
        dropped("days_supply"),
        [("line 1", "days_supply", "is a required column and is missing")],
    ),
    (
        "typo in a required column",
        renamed("days_supply", "days_suply"),
        [
            (
                "line 1",
                "days_supply",
                "is a required column and is missing (the header has 'days_suply': is that it?)",
            )
        ],
    ),
    (
        "neither prescriber identifier column",
        dropped("prescriber_npi").replace(b",prescriber_dea,", b",prescriber_dae,"),
        [
            (
                "line 1",
                "prescriber_npi",
                "the file needs a prescriber_npi or a prescriber_dea column (the header has "
                "'prescriber_dae': is "
                "that one of them?)",
            )
        ],
    ),
    (
        "typo in an optional column",
        renamed("refills_authorized", "refils_authorized"),
        [
            (
                "line 1",
                "refils_authorized",
                "is not a column Stepdown knows; did you mean 'refills_authorized'?",
            )
        ],
    ),
    (
        "a column named twice",
        renamed("lme", "mme"),
        [("line 1", "mme", "appears twice in the header")],
    ),
    (
        "semicolon-separated",
        table([";".join(HEADER), "2026-09-02;alprazolam 1 MG"]),
        [("line 1", "", "the columns seem separated by ';' or tabs; Stepdown reads comma-separated files")],
    ),
    (
        "missing quantity",
        with_cell(3, "quantity", ""),
        [("line 3", "quantity", "is empty; this column is required")],
    ),
    (
        "negative days",
        with_cell(4, "days_supply", "-5"),
        [("line 4", "days_supply", "must be a whole number of days between 1 and 365; the file gives '-5'")],
    ),
    (
        "fractional days",
        with_cell(4, "days_supply", "7.5"),
        [("line 4", "days_supply", "must be a whole number of days between 1 and 365; the file gives '7.5'")],
    ),
    (
        "bad date",
        with_cell(2, "fill_date", "31/09/2026"),
        [
            (
                "line 2",
                "fill_date",
                "must be a date written YYYY-MM-DD or MM/DD/YYYY; the file gives '31/09/2026'",
            )
        ],
    ),
    (
        "impossible date",
        with_cell(2, "written_date", "2026-02-30"),
        [
            (
                "line 2",
                "written_date",
                "must be a date written YYYY-MM-DD or MM/DD/YYYY; the file gives '2026-02-30'",
            )
        ],
    ),
    (
        "quantity with a thousands separator",
        with_cell(2, "quantity", "1,000"),
        [
            (
                "line 2",
                "quantity",
                "must be a number greater than 0 (the amount dispensed); the file gives '1,000'",
            )
        ],
    ),
    (
        "bad prescriber NPI check digit",
        with_cell(3, "prescriber_npi", "1987654321"),
        [
            (
                "line 3",
                "prescriber_npi",
                "This NPI's check digit is wrong; check for a mistyped digit (the report gives 1987654321).",
            )
        ],
    ),
    (
        "bad prescriber DEA check digit",
        with_cell(3, "prescriber_dea", "ME2718282"),
        [
            (
                "line 3",
                "prescriber_dea",
                "This DEA number's check digit is wrong; check for a mistyped character (the report gives "
                "ME2718282).",
            )
        ],
    ),
    (
        "NCPDP id that lost its leading zero",
        with_cell(2, "pharmacy_ncpdp", "381234"),
        [
            (
                "line 2",
                "pharmacy_ncpdp",
                "An NCPDP provider id is 7 digits (the report gives 381234). A spreadsheet may have "
                "dropped a "
                "leading zero: format the column as text.",
            )
        ],
    ),
    (
        "no prescriber identifier in a row",
        with_cell(2, "prescriber_npi", "").replace(b"BW3141594", b""),
        [
            (
                "line 2",
                "prescriber_npi",
                "is empty and so is prescriber_dea; give at least one so the prescriber can be counted",
            )
        ],
    ),
    (
        "unknown payment method",
        with_cell(2, "payment_method", "barter"),
        [
            (
                "line 2",
                "payment_method",
                "is not a payment method Stepdown knows ('barter'); use one of: 01 Private pay (cash, "
                "charge, "
                "credit card), 02 Medicaid, 03 Medicare, 04 Commercial insurance, 05 Military "
                "installations or VA, "
                "06 Workers' compensation, 07 Indian Nations, 99 Other",
            )
        ],
    ),
    (
        "a row with a value too many",
        table([*csv_lines()[:2], csv_lines()[2] + ",extra"]),
        [
            (
                "line 3",
                "",
                "has 24 values but the header names 23 columns; a missing or extra comma shifts every "
                "value after it",
            )
        ],
    ),
    (
        "two patients",
        with_cell(4, "patient_birth_date", "1984-12-05"),
        [
            (
                "line 4",
                "patient_birth_date",
                "is 1984-12-05 but an earlier line gives 1984-05-12; one report is one patient",
            )
        ],
    ),
    (
        "written after it was filled",
        with_cell(2, "written_date", "2026-09-03"),
        [
            (
                "line 2",
                "written_date",
                "the prescription is dated 2026-09-03, after it was filled on 2026-09-02",
            )
        ],
    ),
    (
        "bad encoding (Latin-1)",
        CSV_PATH.read_text().replace("Casey Sample", "Casey Sämple").encode("latin-1"),
        [
            (
                "report",
                "file",
                "is not UTF-8 text (byte 455 is 0xe4); save it as CSV UTF-8 and upload it again",
            )
        ],
    ),
    (
        "an encoded lone surrogate (CESU-8)",
        CSV_PATH.read_bytes().replace(b"Casey", b"Ca\xed\xa0\x80sey", 1),
        [
            (
                "report",
                "file",
                "is not UTF-8 text (byte 450 is 0xed); save it as CSV UTF-8 and upload it again",
            )
        ],
    ),
    (
        "UTF-16",
        CSV_PATH.read_text().encode("utf-16"),
        [("report", "file", "is UTF-16 text; save it as CSV UTF-8 and upload it again")],
    ),
    (
        "a spreadsheet",
        b"PK\x03\x04\x14\x00\x06\x00",
        [("report", "file", "is a spreadsheet (.xlsx), not CSV; save it as CSV UTF-8 and upload that")],
    ),
    ("empty file", b"", [("report", "file", "is empty")]),
    (
        "unterminated quote",
        table([*csv_lines()[:2], '2026-10-01,"alprazolam 1 MG Oral Tablet']),
        [("line 3", "", "cannot be read as CSV (unexpected end of data)")],
    ),
    (
        "NUL bytes",
        CSV_PATH.read_bytes().replace(b"Casey", b"Ca\x00sey", 1),
        [("report", "file", "contains NUL characters, so it is not a CSV text file")],
    ),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_csv_gives_the_expected_problems(data, expected):
    report = csv_report.parse(data)
    assert [(p.where, p.field, p.message) for p in report.problems] == expected
    assert report.records == ()


def test_header_case_bom_us_dates_blank_lines_and_unknown_columns_are_tolerated():
    lines = csv_lines()
    lines[0] = lines[0].upper().replace("FILL_DATE", "Fill Date") + ",Notes"
    lines[1] = lines[1].replace("2026-09-02", "9/2/2026") + ",reviewed"
    lines = [lines[0], lines[1], "", *[line + "," for line in lines[2:]]]
    report = csv_report.parse(b"\xef\xbb\xbf" + table(lines))
    assert report.problems == ()
    assert report.notes == ("Ignored columns Stepdown does not read: notes.",)
    assert report.records[0].filled_on == dt.date(2026, 9, 2)
    assert [r.where for r in report.records] == ["line 2", "line 4", "line 5", "line 6", "line 7"]
    example = csv_report.parse(CSV_PATH.read_bytes())
    assert sorted(r.fingerprint() for r in report.records) == sorted(r.fingerprint() for r in example.records)


def test_optional_columns_can_be_absent():
    minimal = table(
        [
            "fill_date,drug,quantity,days_supply,prescriber_name,prescriber_dea,pharmacy_name,pharmacy_ncpdp",
            "2026-09-02,Xanax 1 mg tablet,60,30,Dana Whitfield,BW3141594,Riverside Pharmacy,3812345",
            '2026-09-03,"fentanyl 25 MCG/HR",10,30,Dana Whitfield,BW3141594-001AB,Riverside,3812345',
        ]
    )
    report = csv_report.parse(minimal)
    assert report.problems == ()
    xanax, fentanyl = report.records
    assert (xanax.ingredient, xanax.strength, xanax.form, xanax.daily_amount) == (
        "alprazolam",
        Decimal(1),
        "tablet",
        Decimal(2),
    )
    assert xanax.prescriber.key == "dea:BW3141594"
    assert xanax.pharmacy.key == "ncpdp:3812345"
    # A supervised DEA suffix (PRE03) is cut before the check, so the same prescriber counts once.
    assert fentanyl.prescriber.key == xanax.prescriber.key
    assert (fentanyl.strength, fentanyl.strength_unit, fentanyl.daily_amount, fentanyl.daily_unit) == (
        Decimal(25),
        "mcg/h",
        Decimal(25),
        "mcg/h",
    )
    assert (report.patient_name, report.patient_birth_date) == ("", None)


def test_strength_columns_fill_in_what_the_text_lacks_and_must_agree_with_it():
    head = "fill_date,drug,strength,strength_unit,quantity,quantity_unit,days_supply,"
    head += "prescriber_name,prescriber_npi,"
    head += "pharmacy_name,pharmacy_npi"
    tail = "Dana Whitfield,1234567893,Riverside,1666012343"
    report = csv_report.parse(
        table(
            [
                head,
                f"2026-09-02,methadone oral concentrate,10,mg/mL,300,mL,30,{tail}",
                f"2026-09-02,alprazolam 1 MG Oral Tablet,1,MG,60,each,30,{tail}",
                f"2026-09-02,fentanyl patch,0.025,mg/hr,10,each,30,{tail}",
            ]
        )
    )
    assert report.problems == ()
    methadone, alprazolam, fentanyl = report.records
    assert (methadone.strength, methadone.strength_unit, methadone.form) == (Decimal(10), "mg/mL", "solution")
    assert methadone.daily_amount == Decimal(100)
    assert alprazolam.daily_amount == Decimal(2)
    assert (fentanyl.strength, fentanyl.strength_unit) == (Decimal(25), "mcg/h")
    wrong = csv_report.parse(table([head, f"2026-09-02,alprazolam 1 MG Oral Tablet,2,mg,60,each,30,{tail}"]))
    assert wrong.problems == (
        ImportProblem("line 2", "strength", "says 2 mg but the drug text says 1 mg; correct one of them"),
    )
    odd = csv_report.parse(table([head, f"2026-09-02,albuterol inhaler,90,mcg/actuat,1,each,30,{tail}"]))
    assert odd.problems == (
        ImportProblem(
            "line 2",
            "strength_unit",
            "must be one of mg, mcg, g, mg/mL, mcg/h (or mcg/hr, mg/hr); the file gives 'mcg/actuat'",
        ),
    )


def test_ndc_forms_are_normalised_and_an_undashed_ten_digit_one_is_left_out_with_a_note():
    head = "fill_date,drug,ndc,quantity,days_supply,prescriber_name,prescriber_npi,pharmacy_name,pharmacy_npi"
    tail = "Dana Whitfield,1234567893,Riverside,1666012343"
    report = csv_report.parse(
        table(
            [
                head,
                f"2026-09-02,drug a,0093-0150-01,60,30,{tail}",
                f"2026-09-03,drug b,00093-150-01,60,30,{tail}",
                f"2026-09-04,drug c,00093-0150-1,60,30,{tail}",
                f"2026-09-05,drug d,00093015001,60,30,{tail}",
                f"2026-09-06,drug e,0093015001,60,30,{tail}",
            ]
        )
    )
    assert report.problems == ()
    assert [r.ndc for r in report.records] == ["00093015001"] * 4 + [""]
    assert report.notes == (
        "line 6: the NDC 0093015001 has 10 digits without dashes, so its 11-digit form is ambiguous; it was "
        "left out. Write it with its dashes (e.g. 0093-0150-01).",
    )


def test_csv_problems_stop_at_the_limit():
    lines = csv_lines()
    bad = lines[1].replace(",60,each,30,", ",60,each,0,")
    report = csv_report.parse(table([lines[0], *[bad] * (PROBLEM_LIMIT + 7)]))
    assert len(report.problems) == PROBLEM_LIMIT + 1
    assert report.problems[-1].message == "and 7 more problems not listed here"


def test_too_many_rows_is_a_problem():
    lines = csv_lines()
    report = csv_report.parse(table([lines[0], *lines[1:] * 3]), max_rows=10)
    assert [(p.where, p.field, p.message) for p in report.problems] == [
        (
            "line 12",
            "",
            "the file has more than 10 dispensations; Stepdown reads at most 10 in one report",
        )
    ]
