from fractions import Fraction

import pytest

from taper.catalogue import EquivalenceTable, Status, diazepam_equivalent, load_catalogue
from taper.errors import TaperInputError

REFERENCE_DRUGS = {
    "alprazolam",
    "chlordiazepoxide",
    "clobazam",
    "clonazepam",
    "clorazepate",
    "diazepam",
    "estazolam",
    "flurazepam",
    "lorazepam",
    "oxazepam",
    "quazepam",
    "temazepam",
    "triazolam",
    "zolpidem",
    "zopiclone",
    "eszopiclone",
    "zaleplon",
}  # clinical.md §1a


def test_every_reference_drug_is_in_the_catalogue_with_formulations():
    cat = load_catalogue()
    assert set(cat.drugs) == REFERENCE_DRUGS
    for drug in cat.drugs.values():
        assert drug.formulations
        assert drug.half_life.half_life_class in {"short", "intermediate", "long"}


@pytest.mark.parametrize(
    ("drug", "ashton", "va_dod"),
    [
        ("alprazolam", "0.5", "1"),
        ("clonazepam", "0.5", "1"),
        ("lorazepam", "1", "2"),
        ("oxazepam", "20", "30"),
        ("temazepam", "20", "15"),
        ("triazolam", "0.5", "0.25"),
        ("quazepam", "20", "10"),
        ("chlordiazepoxide", "25", "25"),
        ("diazepam", "10", "10"),
    ],
)
def test_both_columns_of_jgim_table_7(drug, ashton, va_dod):
    d = load_catalogue().drug(drug)
    assert d.equivalence(EquivalenceTable.ASHTON).mg == Fraction(ashton)
    assert d.equivalence(EquivalenceTable.VA_DOD).mg == Fraction(va_dod)
    assert d.equivalence(EquivalenceTable.VA_DOD).status == Status.VERIFIED
    assert "1532950/18" in d.equivalence(EquivalenceTable.VA_DOD).source


def test_alprazolam_6mg_is_120mg_diazepam_by_ashton():
    # clinical.md §2b: 6 mg x (10/0.5) = 120 mg DE (ratio V, derived)
    assert diazepam_equivalent("alprazolam", "6", EquivalenceTable.ASHTON).diazepam_mg == 120
    assert diazepam_equivalent("alprazolam", "6", EquivalenceTable.VA_DOD).diazepam_mg == 60


def test_table_2_examples_of_the_10mg_de_boundary():
    # JGIM-2025 Table 2 (V): low = <=10 mg DE, e.g. <=0.5 mg clonazepam, <=2 mg lorazepam, <=1 mg alprazolam.
    # The lorazepam and alprazolam examples match the VA/DoD column; the clonazepam one matches Ashton.
    assert diazepam_equivalent("lorazepam", 2, EquivalenceTable.VA_DOD).diazepam_mg == 10
    assert diazepam_equivalent("alprazolam", 1, EquivalenceTable.VA_DOD).diazepam_mg == 10
    assert diazepam_equivalent("clonazepam", "0.5", EquivalenceTable.ASHTON).diazepam_mg == 10


def test_status_travels_with_the_value_and_secondary_values_are_marked():
    z = diazepam_equivalent("zolpidem", 10, EquivalenceTable.ASHTON)
    assert z.diazepam_mg == 5 and z.status == Status.SECONDARY
    est = diazepam_equivalent("estazolam", "1.5", EquivalenceTable.ASHTON)
    assert est.diazepam_mg == 10 and "midpoint" in est.note


def test_drug_missing_from_a_table_is_an_error_not_a_guess():
    with pytest.raises(TaperInputError) as exc:
        diazepam_equivalent("zolpidem", 10, EquivalenceTable.VA_DOD)
    assert exc.value.field == "table"


def test_unknown_drug_and_negative_dose():
    with pytest.raises(TaperInputError) as exc:
        diazepam_equivalent("bromazepamx", 1, EquivalenceTable.ASHTON)
    assert exc.value.field == "drug"
    with pytest.raises(TaperInputError):
        diazepam_equivalent("diazepam", -1, EquivalenceTable.ASHTON)


def test_formulation_facts_without_a_source_are_unverified():
    cat = load_catalogue()
    for drug in cat.drugs.values():
        for form in drug.formulations:
            if form.source is None:
                assert form.status == Status.UNVERIFIED
            if not form.is_liquid and form.split_source is None:
                assert form.split_status == Status.UNVERIFIED
    alp2 = cat.formulation("alprazolam:tablet:2mg")
    assert alp2.split.value == "quarters" and alp2.split_status == Status.VERIFIED
