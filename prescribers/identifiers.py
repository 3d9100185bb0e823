"""Prescriber and pharmacy identifiers: NPI and DEA check digits. Pure: no Django import.

NPI: 10 digits, first 1 or 2; the last is a Luhn check digit over "80840" + the first nine (CMS,
"Requirements for NPI Check Digit"), so `luhn.is_valid("80840" + npi)`. python-stdnum has no NPI module but
its `luhn` is the same algorithm; django-npi-field is not used (it rejects valid NPIs whose check digit
is 0). DEA: two letters and seven digits; (d1+d3+d5) + 2·(d2+d4+d6) ends in d7 (DEA registration record
layout; example AP5836727). Source: ../shared/reference/next-capabilities.md §1.
"""

from __future__ import annotations

import re

from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumError

NPI_PATTERN = re.compile(r"^[12]\d{9}$")
DEA_PATTERN = re.compile(r"^[A-Z][A-Z9]\d{7}$")
NCPDP_PATTERN = re.compile(r"^\d{7}$")


def clean(value: str | None) -> str:
    return re.sub(r"[\s-]", "", value or "").upper()


def npi_problem(value: str) -> str | None:
    """Why `value` is not a valid NPI, in plain words, or None when it is one."""
    npi = clean(value)
    if not NPI_PATTERN.match(npi):
        return "An NPI is 10 digits and starts with 1 or 2."
    try:
        luhn.validate("80840" + npi)
    except StdnumError:
        return "This NPI's check digit is wrong; check for a mistyped digit."
    return None


DEA_SUFFIXED = re.compile(r"^\s*([A-Za-z][A-Za-z9]\d{7})\s*-\s*\w+\s*$")


def dea_problem(value: str) -> str | None:
    """Why `value` is not a valid DEA registration number, or None. A "-001AB" supervised suffix is
    ignored: it is cut before `clean`, which would otherwise remove the dash and keep the suffix."""
    suffixed = DEA_SUFFIXED.match(value or "")
    dea = clean(suffixed.group(1) if suffixed else value)
    if not DEA_PATTERN.match(dea):
        return "A DEA number is two letters and seven digits (e.g. AB1234563)."
    digits = [int(c) for c in dea[2:]]
    check = (digits[0] + digits[2] + digits[4] + 2 * (digits[1] + digits[3] + digits[5])) % 10
    if check != digits[6]:
        return "This DEA number's check digit is wrong; check for a mistyped character."
    return None


def ncpdp_problem(value: str) -> str | None:
    return None if NCPDP_PATTERN.match(clean(value)) else "An NCPDP provider id is 7 digits."


def is_npi(value: str) -> bool:
    return npi_problem(value) is None


def is_dea(value: str) -> bool:
    return dea_problem(value) is None
