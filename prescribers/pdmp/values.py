"""Field checks both PDMP parsers share: NDC, counts, payment method, prescriber and pharmacy identifiers.
Pure. Each answers (value, problem message); the message is plain words a clinician can act on, and the
parser adds where and which field.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from prescribers import identifiers

from .records import PAYMENT_METHODS, PartyRef, plain

MAX_DAYS_SUPPLY = 365
MAX_QUANTITY = Decimal(100_000)
MAX_FILL_NUMBER = 99

DAYS_MESSAGE = f"must be a whole number of days between 1 and {MAX_DAYS_SUPPLY}"
QUANTITY_MESSAGE = "must be a number greater than 0 (the amount dispensed)"

_NDC_DASHED = re.compile(r"^(\d{4,5})-(\d{3,4})-(\d{1,2})$")
_PAYMENT_WORDS = {
    "private pay": "01",
    "private": "01",
    "cash": "01",
    "self pay": "01",
    "medicaid": "02",
    "medicare": "03",
    "commercial": "04",
    "commercial insurance": "04",
    "insurance": "04",
    "military": "05",
    "va": "05",
    "military/va": "05",
    "military or va": "05",
    "tricare": "05",
    "workers comp": "06",
    "workers' comp": "06",
    "workers compensation": "06",
    "workers' compensation": "06",
    "worker's compensation": "06",
    "indian nations": "07",
    "ihs": "07",
    "other": "99",
}

# Quantity units as PDMPs send them (ASAP DSP11 01 each / 02 mL / 03 g, UCUM, NCPDP words).
_UNITS = {
    "each": "each",
    "ea": "each",
    "01": "each",
    "{tbl}": "each",
    "{cap}": "each",
    "{patch}": "each",
    "{film}": "each",
    "tab": "each",
    "tabs": "each",
    "tablet": "each",
    "tablets": "each",
    "cap": "each",
    "caps": "each",
    "capsule": "each",
    "capsules": "each",
    "patch": "each",
    "patches": "each",
    "film": "each",
    "films": "each",
    "unit": "each",
    "units": "each",
    "ml": "mL",
    "02": "mL",
    "milliliter": "mL",
    "milliliters": "mL",
    "g": "g",
    "gm": "g",
    "03": "g",
    "gram": "g",
    "grams": "g",
}


def quantity_unit(raw: str) -> str:
    """The canonical unit ("each", "mL", "g"), or the report's own word, lower case, when unknown."""
    text = (raw or "").strip()
    return _UNITS.get(text.lower(), text.lower())


def ndc(raw: str) -> tuple[str, str | None, bool]:
    """(11-digit NDC or "", problem, ambiguous). Dashed 10-digit forms (4-4-2, 5-3-2, 5-4-1) are padded to
    5-4-2; an undashed 10-digit NDC could be any of the three, so it answers "" with ambiguous=True."""
    text = re.sub(r"\s", "", raw or "")
    if not text:
        return "", None, False
    dashed = _NDC_DASHED.match(text)
    if dashed:
        labeler, product, package = dashed.groups()
        if len(labeler) + len(product) + len(package) not in (10, 11):
            return "", "An NDC is 11 digits (5-4-2) or 10 digits with dashes (4-4-2, 5-3-2 or 5-4-1).", False
        return labeler.zfill(5) + product.zfill(4) + package.zfill(2), None, False
    if re.fullmatch(r"\d{11}", text):
        return text, None, False
    if re.fullmatch(r"\d{10}", text):
        return "", None, True
    return "", "An NDC is 11 digits (5-4-2) or 10 digits with dashes (4-4-2, 5-3-2 or 5-4-1).", False


def positive_quantity(value: Decimal) -> str | None:
    if not value.is_finite() or value <= 0 or value > MAX_QUANTITY:
        return QUANTITY_MESSAGE
    return None


def whole(value: Decimal, low: int, high: int) -> int | None:
    """`value` as an int when it is a whole number in [low, high], else None."""
    if not value.is_finite() or value != value.to_integral_value() or not low <= value <= high:
        return None
    return int(value)


def decimal(text: str) -> Decimal | None:
    """A plain decimal number written in a text cell ("60", "0.5"); no thousands separators or exponents."""
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text.strip()):
        return None
    try:
        return plain(Decimal(text.strip()))
    except InvalidOperation:  # pragma: no cover - the pattern already excludes it
        return None


def payment(raw: str) -> tuple[str, str | None]:
    """(two-digit ASAP/PMIX code or "", problem). Takes the code ("02", "2") or its name ("Medicaid")."""
    text = " ".join((raw or "").strip().lower().split())
    if not text:
        return "", None
    if text.isdigit() and len(text) <= 2:
        code = text.zfill(2)
        if code in PAYMENT_METHODS:
            return code, None
    elif text in _PAYMENT_WORDS:
        return _PAYMENT_WORDS[text], None
    accepted = ", ".join(f"{code} {label}" for code, label in PAYMENT_METHODS.items())
    return "", f"is not a payment method Stepdown knows ({raw!r}); use one of: {accepted}"


_DEA_SUFFIXED = re.compile(r"^\s*([A-Za-z][A-Za-z9]\d{7})\s*-\s*\w+\s*$")


def dea_clean(raw: str) -> str:
    """A DEA number without its "-001AB" supervised suffix (PRE03 carries that), cleaned. The suffix is
    cut here because identifiers.clean removes the dash before dea_problem looks for it."""
    suffixed = _DEA_SUFFIXED.match(raw or "")
    return identifiers.clean(suffixed.group(1) if suffixed else raw)


def party_problems(party: PartyRef) -> list[tuple[str, str]]:
    """(kind, message) for each identifier of `party` that fails its check; kind is "npi", "dea" or
    "ncpdp" and each parser names the field its own way (CSV: prescriber_npi; FHIR: identifier (NPI))."""
    found = []
    if party.npi and (message := identifiers.npi_problem(party.npi)):
        found.append(("npi", _with_value(message, party.npi)))
    if party.dea and (message := identifiers.dea_problem(party.dea)):
        found.append(("dea", _with_value(message, party.dea)))
    if party.ncpdp and (message := identifiers.ncpdp_problem(party.ncpdp)):
        found.append(("ncpdp", _with_value(message, party.ncpdp)))
    return found


def _with_value(message: str, value: str) -> str:
    """ "This NPI's check digit is wrong; …" + the value the report gave, so the user can find it."""
    return f"{message.rstrip('.')} (the report gives {value})."


def party(name: str, npi: str = "", dea: str = "", ncpdp: str = "", state_license: str = "") -> PartyRef:
    return PartyRef(
        name=" ".join((name or "").split()),
        npi=identifiers.clean(npi),
        dea=dea_clean(dea),
        ncpdp=identifiers.clean(ncpdp),
        state_license=identifiers.clean(state_license),
    )


def written_after_filled(written: dt.date | None, filled: dt.date) -> str | None:
    if written is not None and written > filled:
        return f"the prescription is dated {written.isoformat()}, after it was filled on {filled.isoformat()}"
    return None
