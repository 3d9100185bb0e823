"""NPI and DEA check digits (prescribers/identifiers.py). Pure."""

import pytest

from prescribers import identifiers


@pytest.mark.parametrize("value", ["1234567893", "1000003990", "1234-567-893"])
def test_valid_npis(value):
    assert identifiers.npi_problem(value) is None


@pytest.mark.parametrize("value", ["1234567890", "9941339100", "123456789", "12345678931"])
def test_invalid_npis(value):
    assert identifiers.npi_problem(value) is not None


@pytest.mark.parametrize(
    "value", ["AP5836727", "BW3141594", "bw3141594", "BW3141594-001AB", "BW3141594 - 001AB"]
)
def test_valid_dea_numbers_with_or_without_a_supervised_suffix(value):
    assert identifiers.dea_problem(value) is None


@pytest.mark.parametrize("value", ["AP5836728", "BW3141595-001AB", "B3141594", "BW314159", ""])
def test_invalid_dea_numbers(value):
    assert identifiers.dea_problem(value) is not None
