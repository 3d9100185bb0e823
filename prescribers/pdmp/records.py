"""Canonical dispensation records, the one shape both PDMP parsers (FHIR, CSV) produce. Pure: no Django.

A record mirrors the HL7 PDMP IG's MedicationDispense (../shared/reference/next-capabilities.md §1): what was
dispensed, when, how much, for how many days, by whom it was prescribed and where it was filled.
`fingerprint()` hashes the natural key of a fill, not the report it came in, so importing the same
dispensation twice — from a FHIR bundle one week and a CSV export the next — is recognisable as one fill.

The parsers refuse nothing themselves: they return every problem they find (up to PROBLEM_LIMIT, then one
"and N more") and the caller refuses a report with any problem whole. A report with problems carries no
records, so no caller can import half of one by mistake.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

PROBLEM_LIMIT = 200
NOTE_LIMIT = 50
FINGERPRINT_VERSION = "stepdown-pdmp-dispensation-v1"

# ASAP DSP16 / PMIX MethodOfPaymentCode (CodeSystem http://terminology.hl7.org/CodeSystem/PMIXMethodofPayment,
# the value set of the IG's pdmp-extension-method-of-payment). Stored as the two-digit code.
PAYMENT_METHODS: dict[str, str] = {
    "01": "Private pay (cash, charge, credit card)",
    "02": "Medicaid",
    "03": "Medicare",
    "04": "Commercial insurance",
    "05": "Military installations or VA",
    "06": "Workers' compensation",
    "07": "Indian Nations",
    "99": "Other",
}

# Forms whose quantity counts units (tablets, capsules, films …): daily amount = strength * count / days.
COUNTED_FORMS = frozenset({"tablet", "capsule", "film", "lozenge", "suppository"})
LIQUID_FORMS = frozenset({"solution", "suspension"})

StrengthUnit = Literal["mg", "mcg/h", "mg/mL", ""]


def plain(value: Decimal) -> Decimal:
    """`value` without trailing zeros or an exponent: 25.000 → 25, 0.50 → 0.5, 6E+1 → 60."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def decimal_text(value: Decimal | None) -> str:
    return "" if value is None else format(plain(value), "f")


def normalise_name(name: str) -> str:
    """Case, accents, punctuation and spacing removed: "Dr. Dana  WHITFIELD" → "dr dana whitfield"."""
    folded = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode("ascii")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", folded.casefold()).split())


@dataclass(frozen=True)
class PartyRef:
    """A prescriber or a pharmacy as the report names it. Identifiers are stored cleaned (no spaces or
    dashes, upper case) and already checked by the parser."""

    name: str = ""
    npi: str = ""
    dea: str = ""
    ncpdp: str = ""
    state_license: str = ""

    @property
    def key(self) -> str:
        """What counts distinct prescribers or pharmacies: the strongest identifier the report gives, so
        one pharmacy named two ways with one NPI counts once. "" when the report names nobody: a caller
        must not count "" as a party."""
        if self.npi:
            return f"npi:{self.npi}"
        if self.dea:
            return f"dea:{self.dea}"
        if self.ncpdp:
            return f"ncpdp:{self.ncpdp}"
        name = normalise_name(self.name)
        return f"name:{name}" if name else ""


@dataclass(frozen=True)
class DispensationRecord:
    where: str
    filled_on: dt.date
    written_on: dt.date | None
    drug_text: str
    ndc: str
    rxnorm: str
    ingredient: str | None
    drug_class: str | None
    strength: Decimal | None
    strength_unit: StrengthUnit
    form: str
    quantity: Decimal
    quantity_unit: str
    days_supply: int
    fill_number: int | None
    refills_authorized: int | None
    rx_number: str
    prescriber: PartyRef
    pharmacy: PartyRef
    payment_method: str
    reported_mme: Decimal | None
    reported_lme: Decimal | None
    source_id: str

    @property
    def supply_end(self) -> dt.date:
        """The last day the fill covers (a 30-day fill on 1 Sept lasts to 30 Sept)."""
        return self.filled_on + dt.timedelta(days=self.days_supply - 1)

    @property
    def daily_amount(self) -> Decimal | None:
        """The dispensed amount per day — mg/day for counted and liquid forms, the patch rate in mcg/h for
        a patch (see `daily_unit`) — or None when strength, form or quantity unit do not allow it."""
        if self.strength is None or self.days_supply < 1:
            return None
        if self.strength_unit == "mcg/h":
            return self.strength
        if self.strength_unit == "mg" and self.form in COUNTED_FORMS and self.quantity_unit in ("each", ""):
            return _per_day(self.strength * self.quantity, self.days_supply)
        if self.strength_unit == "mg/mL" and self.form in LIQUID_FORMS and self.quantity_unit == "mL":
            return _per_day(self.strength * self.quantity, self.days_supply)
        return None

    @property
    def daily_unit(self) -> str:
        if self.daily_amount is None:
            return ""
        return "mcg/h" if self.strength_unit == "mcg/h" else "mg/day"

    @property
    def payment_label(self) -> str:
        return PAYMENT_METHODS.get(self.payment_method, "")

    def drug_key(self) -> str:
        """The most specific code the record carries: NDC, else RxNorm, else its normalised text. The same
        fill reported with different codes (NDC in one file, only RxNorm in the other) keys differently."""
        if self.ndc:
            return f"ndc:{self.ndc}"
        if self.rxnorm:
            return f"rxnorm:{self.rxnorm}"
        return f"text:{normalise_name(self.drug_text)}"

    def natural_key(self) -> tuple[str, ...]:
        return (
            FINGERPRINT_VERSION,
            self.filled_on.isoformat(),
            self.drug_key(),
            decimal_text(self.quantity),
            str(self.days_supply),
            self.prescriber.key,
            self.pharmacy.key,
            self.rx_number.strip().upper(),
            "" if self.fill_number is None else str(self.fill_number),
        )

    def fingerprint(self) -> str:
        """sha256 hex of the natural key; where the record sat in its report is not part of it."""
        return hashlib.sha256(json.dumps(self.natural_key()).encode()).hexdigest()


def _per_day(total: Decimal, days: int) -> Decimal:
    return plain((total / days).quantize(Decimal("0.0001")))


@dataclass(frozen=True)
class ImportProblem:
    where: str
    field: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.where}, {self.field}: {self.message}" if self.field else f"{self.where}: {self.message}"
        )


@dataclass(frozen=True)
class ParsedReport:
    format: Literal["fhir", "csv"]
    records: tuple[DispensationRecord, ...]
    problems: tuple[ImportProblem, ...]
    patient_name: str = ""
    patient_birth_date: dt.date | None = None
    state: str = ""
    queried_at: dt.datetime | None = None
    transaction_id: str = ""
    # What the clinician should see but that does not stop the import: skipped entries, ignored columns,
    # the PDMP's own warnings ("results incomplete: Iowa did not respond") and alerts.
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Collector:
    """Problems and notes gathered while parsing, capped so a hostile file cannot grow them without bound."""

    problems: list[ImportProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    more_problems: int = 0
    more_notes: int = 0

    def problem(self, where: str, field_name: str, message: str) -> None:
        found = ImportProblem(where, field_name, message)
        if found in self.problems:
            return
        if len(self.problems) < PROBLEM_LIMIT:
            self.problems.append(found)
        else:
            self.more_problems += 1

    def note(self, text: str) -> None:
        if text in self.notes:
            return
        if len(self.notes) < NOTE_LIMIT:
            self.notes.append(text)
        else:
            self.more_notes += 1

    @property
    def failed(self) -> bool:
        return bool(self.problems)

    def report(
        self, fmt: Literal["fhir", "csv"], records: list[DispensationRecord], **identity
    ) -> ParsedReport:
        problems = list(self.problems)
        if self.more_problems:
            problems.append(
                ImportProblem("report", "", f"and {self.more_problems} more problems not listed here")
            )
        notes = list(self.notes)
        if self.more_notes:
            notes.append(f"and {self.more_notes} more notes")
        return ParsedReport(
            format=fmt,
            records=() if problems else tuple(records),
            problems=tuple(problems),
            notes=tuple(notes),
            **identity,
        )
