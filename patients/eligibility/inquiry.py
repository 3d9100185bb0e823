"""Build an X12 270 (005010X279A1) eligibility inquiry from plain data.

:class:`EligibilityInquiry` validates its fields when created (raising :class:`InquiryError` naming the
field);
:func:`build_270` turns it into a complete ISA…IEA interchange that :func:`~.x12.validate.validate_270`
accepts.
The output is deterministic given the inquiry (with its control numbers) and the ``timestamp`` passed in.

When the patient is the subscriber, TRN, DMG, DTP and EQ go in the subscriber loops (2000C/2100C/2110C).
When the
patient is a dependent without a member id of their own, the subscriber is still identified in 2100C and the
patient's TRN/NM1/DMG/INS/DTP/EQ go in 2000D/2100D/2110D (TR3: use the dependent loops only when the patient
cannot be identified as a subscriber).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from .x12 import spec_data as spec
from .x12.tokens import Separators, render

DEFAULT_SEPARATORS = Separators(element="*", component=":", repetition="^", segment="~")
DEFAULT_SERVICE_TYPES: tuple[str, ...] = ("30",)
# Service types Stepdown's IOP/PHP programme asks about (clinical.md §8b): substance abuse, drug addiction,
# substance abuse facility outpatient, partial hospitalisation.
IOP_INQUIRY_SERVICE_TYPES: tuple[str, ...] = ("AI", "AK", "CJ", "BB")

_MEMBER_ID = re.compile(r"^[A-Za-z0-9-]{2,80}$")
MEMBER_ID_PATTERN = _MEMBER_ID.pattern  # public: the app's forms and models validate member ids with it
_CONTROL_ID = re.compile(r"^[A-Za-z0-9]{1,15}$")
_TRACE = re.compile(r"^[A-Za-z0-9-]{1,50}$")


class InquiryError(ValueError):
    """An inquiry field is invalid. ``field`` names it."""

    def __init__(self, field_name: str, message: str):
        self.field = field_name
        super().__init__(f"{field_name}: {message}")


def npi_is_valid(npi: str) -> bool:
    """NPI check digit: Luhn over the 9 leading digits prefixed with 80840 (the NPI's ISO card-issuer
    prefix)."""
    if not (isinstance(npi, str) and len(npi) == 10 and npi.isdigit()):
        return False
    digits = [int(c) for c in "80840" + npi[:9]]
    total = 0
    for i, d in enumerate(reversed(digits)):  # rightmost payload digit is doubled
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


def npi_check_digit(first_nine: str) -> str:
    """The check digit that makes ``first_nine`` + digit a valid NPI (for tests and fixtures)."""
    for d in "0123456789":
        if npi_is_valid(first_nine + d):
            return d
    raise ValueError(first_nine)  # pragma: no cover - one digit always fits


@dataclass(frozen=True)
class Dependent:
    """The patient when they are not the subscriber (2000D)."""

    relationship: str  # INS02: 01 spouse, 19 child, 34 other adult
    first_name: str
    last_name: str
    date_of_birth: dt.date
    gender: str | None = None

    def __post_init__(self) -> None:
        if self.relationship not in spec.DEPENDENT_RELATIONSHIPS:
            raise InquiryError(
                "dependent.relationship",
                f"{self.relationship!r} is not one of {', '.join(spec.DEPENDENT_RELATIONSHIPS)} "
                "(spouse, child, other adult)",
            )
        _name("dependent.first_name", self.first_name, 35)
        _name("dependent.last_name", self.last_name, 60)
        _dob("dependent.date_of_birth", self.date_of_birth)
        _gender("dependent.gender", self.gender)


def _name(field_name: str, value: str, max_len: int) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InquiryError(field_name, "is required")
    if len(value) > max_len:
        raise InquiryError(field_name, f"is longer than {max_len} characters")
    if any(ord(c) < 32 for c in value):
        raise InquiryError(field_name, "contains control characters")


def _dob(field_name: str, value: dt.date) -> None:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise InquiryError(field_name, "must be a date")
    if value.year < 1900:
        raise InquiryError(field_name, "is before 1900")


def _gender(field_name: str, value: str | None) -> None:
    if value is not None and value not in spec.GENDER:
        raise InquiryError(field_name, f"{value!r} is not F, M or U")


@dataclass(frozen=True)
class EligibilityInquiry:
    # Envelope: who sends (the clinic or its submitter id) and who receives (clearinghouse/payer).
    submitter_id: str
    receiver_id: str
    # 2100A information source (payer) and 2100B information receiver (the clinic as a provider organisation).
    payer_name: str
    payer_id: str
    provider_name: str
    provider_npi: str
    # 2100C subscriber.
    subscriber_first_name: str
    subscriber_last_name: str
    member_id: str
    subscriber_date_of_birth: dt.date
    subscriber_gender: str | None = None
    group_number: str | None = None
    dependent: Dependent | None = None
    service_types: tuple[str, ...] = DEFAULT_SERVICE_TYPES
    date_of_service: dt.date | None = None
    # Control numbers (the caller keeps them unique; see build_270).
    interchange_control_number: int = 1
    group_control_number: int = 1
    transaction_control_number: str = "0001"
    trace_number: str = "1"
    # TRN03: "1" + the clinic's EIN, or "9" + an assigned id; 10 characters.
    trace_originator: str = "9999999999"
    submitter_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"
    usage_indicator: str = "T"  # ISA15: T test, P production
    provider_taxonomy: str | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name, value in (("submitter_id", self.submitter_id), ("receiver_id", self.receiver_id)):
            if not isinstance(value, str) or not _CONTROL_ID.match(value):
                raise InquiryError(name, "must be 1-15 letters or digits")
        for name, value in (
            ("submitter_qualifier", self.submitter_qualifier),
            ("receiver_qualifier", self.receiver_qualifier),
        ):
            if value not in spec.ISA.element(5).codes:
                raise InquiryError(name, f"{value!r} is not an interchange id qualifier")
        _name("payer_name", self.payer_name, 60)
        if not isinstance(self.payer_id, str) or not re.match(r"^[A-Za-z0-9-]{2,80}$", self.payer_id):
            raise InquiryError("payer_id", "must be 2-80 letters, digits or dashes")
        _name("provider_name", self.provider_name, 60)
        if not npi_is_valid(self.provider_npi):
            raise InquiryError(
                "provider_npi",
                f"{self.provider_npi!r} is not a valid NPI (10 digits, Luhn check with prefix 80840)",
            )
        _name("subscriber_first_name", self.subscriber_first_name, 35)
        _name("subscriber_last_name", self.subscriber_last_name, 60)
        if not isinstance(self.member_id, str) or not _MEMBER_ID.match(self.member_id):
            raise InquiryError("member_id", "must be 2-80 characters: letters, digits or dashes only")
        _dob("subscriber_date_of_birth", self.subscriber_date_of_birth)
        _gender("subscriber_gender", self.subscriber_gender)
        if self.group_number is not None and not re.match(r"^[A-Za-z0-9-]{1,50}$", self.group_number):
            raise InquiryError("group_number", "must be 1-50 letters, digits or dashes")
        if isinstance(self.service_types, str) or not self.service_types:
            raise InquiryError("service_types", "must be a non-empty list of service type codes")
        if len(self.service_types) > 99:
            raise InquiryError("service_types", "at most 99 service types fit in EQ01")
        for code in self.service_types:
            if code not in spec.SERVICE_TYPES:
                raise InquiryError("service_types", f"{code!r} is not an X12 service type code")
        if len(set(self.service_types)) != len(self.service_types):
            raise InquiryError("service_types", "lists a service type twice")
        if self.date_of_service is not None:
            if not isinstance(self.date_of_service, dt.date) or isinstance(self.date_of_service, dt.datetime):
                raise InquiryError("date_of_service", "must be a date")
            patient_dob = self.dependent.date_of_birth if self.dependent else self.subscriber_date_of_birth
            if patient_dob > self.date_of_service:
                raise InquiryError("date_of_service", "is before the patient's date of birth")
        if (
            not isinstance(self.interchange_control_number, int)
            or not 0 < self.interchange_control_number <= 999_999_999
        ):
            raise InquiryError("interchange_control_number", "must be 1-999999999")
        if not isinstance(self.group_control_number, int) or not 0 < self.group_control_number <= 999_999_999:
            raise InquiryError("group_control_number", "must be 1-999999999")
        if not re.match(r"^[A-Za-z0-9]{4,9}$", self.transaction_control_number or ""):
            raise InquiryError("transaction_control_number", "must be 4-9 letters or digits")
        if not isinstance(self.trace_number, str) or not _TRACE.match(self.trace_number):
            raise InquiryError("trace_number", "must be 1-50 letters, digits or dashes")
        if not re.match(r"^[A-Za-z0-9]{10}$", self.trace_originator or ""):
            raise InquiryError("trace_originator", "must be 10 letters or digits ('1' + EIN or '9' + an id)")
        if self.usage_indicator not in ("P", "T"):
            raise InquiryError("usage_indicator", "must be P (production) or T (test)")
        if self.provider_taxonomy is not None and not re.match(r"^[A-Za-z0-9]{10}$", self.provider_taxonomy):
            raise InquiryError("provider_taxonomy", "must be a 10-character taxonomy code")


def _clean(value: str, seps: Separators, field_name: str) -> str:
    bad = [c for c in seps.all if c in value]
    if bad:
        raise InquiryError(field_name, f"contains the X12 separator {bad[0]!r}; it cannot be sent")
    return value


def build_270(
    inquiry: EligibilityInquiry,
    *,
    separators: Separators = DEFAULT_SEPARATORS,
    timestamp: dt.datetime | None = None,
    newline: bool = False,
) -> str:
    """The complete 270 interchange for ``inquiry``. ``timestamp`` defaults to now (UTC)."""
    if separators.repetition is None:
        raise InquiryError("separators", "a 5010 interchange needs a repetition separator")
    seps = separators
    ts = timestamp or dt.datetime.now(dt.UTC)
    q = inquiry

    def c(value: str, name: str) -> str:
        return _clean(value, seps, name)

    isa = (
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        q.submitter_qualifier,
        q.submitter_id.ljust(15),
        q.receiver_qualifier,
        q.receiver_id.ljust(15),
        ts.strftime("%y%m%d"),
        ts.strftime("%H%M"),
        seps.repetition,
        spec.INTERCHANGE_VERSION,
        f"{q.interchange_control_number:09d}",
        "0",
        q.usage_indicator,
        seps.component,
    )
    body: list[tuple[str, ...]] = [
        ("ST", "270", q.transaction_control_number, spec.IMPLEMENTATION_GUIDE),
        ("BHT", "0022", "13", q.trace_number, ts.strftime("%Y%m%d"), ts.strftime("%H%M")),
        ("HL", "1", "", "20", "1"),
        ("NM1", "PR", "2", c(q.payer_name, "payer_name"), "", "", "", "", "PI", q.payer_id),
        ("HL", "2", "1", "21", "1"),
        ("NM1", "1P", "2", c(q.provider_name, "provider_name"), "", "", "", "", "XX", q.provider_npi),
    ]
    if q.provider_taxonomy:
        body.append(("PRV", "PE", "PXC", q.provider_taxonomy))
    patient_is_dependent = q.dependent is not None
    body.append(("HL", "3", "2", "22", "1" if patient_is_dependent else "0"))
    trn = ("TRN", "1", q.trace_number, q.trace_originator)
    eq = ("EQ", seps.repetition.join(q.service_types))
    dtp = ("DTP", "291", "D8", q.date_of_service.strftime("%Y%m%d")) if q.date_of_service else None
    if not patient_is_dependent:
        body.append(trn)
    body.append(
        (
            "NM1",
            "IL",
            "1",
            c(q.subscriber_last_name, "subscriber_last_name"),
            c(q.subscriber_first_name, "subscriber_first_name"),
            "",
            "",
            "",
            "MI",
            q.member_id,
        )
    )
    if q.group_number:
        body.append(("REF", "6P", q.group_number))
    dmg = ["DMG", "D8", q.subscriber_date_of_birth.strftime("%Y%m%d")]
    if q.subscriber_gender:
        dmg.append(q.subscriber_gender)
    body.append(tuple(dmg))
    if not patient_is_dependent:
        if dtp:
            body.append(dtp)
        body.append(eq)
    else:
        d = q.dependent
        body.append(("HL", "4", "3", "23", "0"))
        body.append(trn)
        body.append(
            ("NM1", "03", "1", c(d.last_name, "dependent.last_name"), c(d.first_name, "dependent.first_name"))
        )
        ddmg = ["DMG", "D8", d.date_of_birth.strftime("%Y%m%d")]
        if d.gender:
            ddmg.append(d.gender)
        body.append(tuple(ddmg))
        body.append(("INS", "N", d.relationship))
        if dtp:
            body.append(dtp)
        body.append(eq)
    segments: list[tuple[str, ...]] = [
        isa,
        (
            "GS",
            "HS",
            q.submitter_id,
            q.receiver_id,
            ts.strftime("%Y%m%d"),
            ts.strftime("%H%M"),
            str(q.group_control_number),
            "X",
            spec.IMPLEMENTATION_GUIDE,
        ),
        *body,
        ("SE", str(len(body) + 1), q.transaction_control_number),
        ("GE", "1", str(q.group_control_number)),
        ("IEA", "1", f"{q.interchange_control_number:09d}"),
    ]
    return render([_trim(s) for s in segments], seps, newline=newline)


def _trim(segment: tuple[str, ...]) -> tuple[str, ...]:
    """Drop trailing empty elements (X12: no trailing element separators), except in the fixed-width ISA."""
    if segment[0] == "ISA":
        return segment
    items = list(segment)
    while len(items) > 1 and items[-1] == "":
        items.pop()
    return tuple(items)
