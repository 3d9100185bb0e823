"""The coded data the record accepts: the ICD-10-CM subset and the benzodiazepine names (pure)."""

from __future__ import annotations

import pytest

from patients import codes

F13_REQUIRED = [
    "F13.10",
    "F13.11",
    "F13.120",
    "F13.121",
    "F13.129",
    "F13.130",
    "F13.131",
    "F13.132",
    "F13.139",
    "F13.14",
    "F13.150",
    "F13.151",
    "F13.159",
    "F13.180",
    "F13.181",
    "F13.182",
    "F13.188",
    "F13.19",
    "F13.20",
    "F13.21",
    "F13.220",
    "F13.221",
    "F13.229",
    "F13.230",
    "F13.231",
    "F13.232",
    "F13.239",
    "F13.24",
    "F13.250",
    "F13.251",
    "F13.259",
    "F13.26",
    "F13.27",
    "F13.280",
    "F13.281",
    "F13.282",
    "F13.288",
    "F13.29",
    "F13.90",
    "F13.91",
    "F13.920",
    "F13.921",
    "F13.929",
    "F13.930",
    "F13.931",
    "F13.932",
    "F13.939",
    "F13.94",
    "F13.950",
    "F13.951",
    "F13.959",
    "F13.96",
    "F13.97",
    "F13.980",
    "F13.981",
    "F13.982",
    "F13.988",
    "F13.99",
]
CO_OCCURRING_REQUIRED = [
    "F10.10",
    "F10.20",
    "F10.21",
    "F11.10",
    "F11.20",
    "F11.21",
    "F12.10",
    "F12.20",
    "F14.10",
    "F14.20",
    "F15.10",
    "F15.20",
    "F17.210",
    "F32.0",
    "F32.1",
    "F32.2",
    "F32.3",
    "F32.4",
    "F32.5",
    "F32.9",
    "F32.A",
    "F33.0",
    "F33.1",
    "F33.2",
    "F33.3",
    "F33.9",
    "F41.0",
    "F41.1",
    "F41.9",
    "F40.10",
    "F43.10",
    "F43.12",
    "F42.2",
    "F51.01",
    "G47.00",
    "F90.0",
    "F90.2",
    "F31.9",
    "F60.3",
]


@pytest.mark.parametrize("code", F13_REQUIRED + CO_OCCURRING_REQUIRED)
def test_every_required_code_is_in_the_table_with_a_description(code):
    entry = codes.lookup(code)
    assert entry is not None, code
    assert entry.code == code and len(entry.description) > 5


def test_every_f13_description_names_the_sedative_family():
    for code in F13_REQUIRED:
        assert "hypnotic" in codes.lookup(code).description, code


def test_unverified_entries_are_marked_and_the_source_is_named():
    assert "CMS ICD-10-CM" in codes.ICD10_SOURCE and "FY2025" in codes.ICD10_SOURCE
    assert all(codes.lookup(code).verified for code in F13_REQUIRED)
    assert not codes.lookup("G47.00").verified  # typed from the tabular list, not re-checked


@pytest.mark.parametrize(
    ("typed", "normal"),
    [("f13.20", "F13.20"), (" F1320 ", "F13.20"), ("f32a", "F32.A"), ("F13.239", "F13.239"), ("F41", "F41")],
)
def test_codes_are_normalised_before_lookup(typed, normal):
    assert codes.normalise_code(typed) == normal


@pytest.mark.parametrize("unknown", ["F13.77", "F13", "F13.2", "Z99.99", "hello", ""])
def test_unknown_and_non_billable_codes_are_refused_with_their_name(unknown):
    assert codes.lookup(unknown) is None
    message = codes.unknown_code_message(unknown)
    assert (codes.normalise_code(unknown) or "(blank)") in message


@pytest.mark.parametrize(
    ("name", "benzo"),
    [
        ("Alprazolam", True),
        ("Xanax XR", True),
        ("clonazepam ODT 0.5 mg", True),
        ("Ativan", True),
        ("Zolpidem", False),  # a Z-drug, not a benzodiazepine
        ("Sertraline", False),
        ("Buspirone", False),
    ],
)
def test_benzodiazepine_flag_follows_generic_and_brand_names(name, benzo):
    assert codes.is_benzodiazepine(name) is benzo
