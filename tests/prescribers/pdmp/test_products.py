"""Strength, unit and form from drug texts as RxNorm and PDMP reports write them; None where reading one
would be a guess."""

from decimal import Decimal

import pytest

from prescribers.pdmp import products

D = Decimal

TABLE = [
    # text, ingredient, strength, unit, form
    ("oxycodone hydrochloride 10 MG Oral Tablet", "oxycodone", D(10), "mg", "tablet"),
    ("Oxycodone Hydrochloride 5 MG / Acetaminophen 325 MG Oral Tablet", "oxycodone", D(5), "mg", "tablet"),
    ("acetaminophen 325 MG / oxycodone hydrochloride 10 MG Oral Tablet", "oxycodone", D(10), "mg", "tablet"),
    ("Acetaminophen 300 mg / Codeine 30 mg oral tablet", "codeine", D(30), "mg", "tablet"),
    ("hydrocodone bitartrate 10 MG / acetaminophen 325 MG Oral Tablet", "hydrocodone", D(10), "mg", "tablet"),
    ("fentanyl 0.025 MG/HR Transdermal System", "fentanyl", D(25), "mcg/h", "patch"),
    ("fentanyl 25 MCG/HR", "fentanyl", D(25), "mcg/h", ""),
    ("7 DAY buprenorphine 0.005 MG/HR Transdermal System", "buprenorphine", D(5), "mcg/h", "patch"),
    ("methadone hydrochloride 10 MG/ML Oral Solution", "methadone", D(10), "mg/mL", "solution"),
    ("oxycodone hydrochloride 5 MG/5ML Oral Solution", "oxycodone", D(1), "mg/mL", "solution"),
    ("lorazepam 2 MG/ML Injectable Solution", "lorazepam", D(2), "mg/mL", "injection"),
    ("Xanax 1 mg tablet", "alprazolam", D(1), "mg", "tablet"),
    ("alprazolam 0.5mg", "alprazolam", D("0.5"), "mg", ""),
    ("24 HR alprazolam 1 MG Extended Release Oral Tablet", "alprazolam", D(1), "mg", "tablet"),
    ("clonazepam 0.5 MG Disintegrating Oral Tablet", "clonazepam", D("0.5"), "mg", "tablet"),
    ("gabapentin 300 MG Oral Capsule", "gabapentin", D(300), "mg", "capsule"),
    ("buprenorphine 8 MG / naloxone 2 MG Sublingual Film", "buprenorphine", D(8), "mg", "film"),
    ("fentanyl 100 MCG Buccal Tablet", "fentanyl", D("0.1"), "mg", "tablet"),
    ("OXYCODONE HCL 10 MG EXTENDED-RELEASE TAB", "oxycodone", D(10), "mg", "tablet"),
    ("diazepam 5 MG/5ML Oral Solution", "diazepam", D(1), "mg/mL", "solution"),
    ("Klonopin 2 mg tabs", "clonazepam", D(2), "mg", "tablet"),
    # Not derivable without guessing: the strength stays None.
    ("Percocet 10/325 mg tab", "oxycodone", None, "", "tablet"),
    ("oxycodone-apap 10-325", "oxycodone", None, "", ""),
    ("Oxycodone and Acetaminophen Tablets 5 mg/325 mg", "oxycodone", None, "", "tablet"),
    ("Tylenol with codeine 300 mg", "codeine", None, "", ""),
    ("alprazolam 0.5 mg 1 mg", "alprazolam", None, "", ""),
    ("rotigotine 2 MG/24HR Transdermal System", None, None, "", "patch"),
    ("albuterol 0.09 MG/ACTUAT Metered Dose Inhaler", None, None, "", ""),
    ("lorazepam", "lorazepam", None, "", ""),
    ("", None, None, "", ""),
]


@pytest.mark.parametrize(
    ("text", "ingredient", "strength", "unit", "form"), TABLE, ids=[t[0] or "empty" for t in TABLE]
)
def test_drug_texts(text, ingredient, strength, unit, form):
    described = products.describe(text)
    assert (described.ingredient, described.strength, described.strength_unit, described.form) == (
        ingredient,
        strength,
        unit,
        form,
    )


def test_the_table_has_at_least_fifteen_texts():
    assert len(TABLE) >= 15


def test_an_rxnorm_display_fills_in_what_a_report_shorthand_lacks():
    described = products.describe(
        "OXYCOD/APAP", alternatives=("acetaminophen 325 MG / oxycodone hydrochloride 10 MG Oral Tablet",)
    )
    assert (described.ingredient, described.strength, described.strength_unit, described.form) == (
        "oxycodone",
        D(10),
        "mg",
        "tablet",
    )


def test_a_strength_is_read_for_the_named_ingredient_only():
    text = "buprenorphine 8 MG / naloxone 2 MG Sublingual Film"
    assert products.parse(text, ingredient="naloxone").strength == D(2)
    assert products.parse(text, ingredient="buprenorphine").strength == D(8)
    assert products.parse(text, ingredient="alprazolam").strength is None


@pytest.mark.parametrize(
    ("number", "mass", "per_number", "per", "expected"),
    [
        (D(5), "MG", None, "", (D(5), "mg")),
        (D(500), "mcg", None, "", (D("0.5"), "mg")),
        (D(1), "g", None, "", (D(1000), "mg")),
        (D(10), "mg", D(5), "ml", (D(2), "mg/mL")),
        (D("0.012"), "mg", None, "hr", (D(12), "mcg/h")),
        (D(2), "mg", D(24), "hr", None),
        (D(1), "mg", None, "actuat", None),
        (D(1), "unt", None, "", None),
    ],
)
def test_units_convert_only_exactly(number, mass, per_number, per, expected):
    assert products.convert(number, mass, per_number, per) == expected
