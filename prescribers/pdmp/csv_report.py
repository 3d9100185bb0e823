"""Read a PDMP report exported as CSV in Stepdown's layout. Pure: no Django.

State PDMP exports differ, so Stepdown defines one layout; a state's export is mapped to it (renamed
columns) before upload. One row is one dispensation. prescribers/pdmp/examples/pdmp_report.csv is the
example: the same fills as examples/pdmp_history_bundle.json, and the two give the same fingerprints.

File: UTF-8 (a byte-order mark is allowed; any other encoding is refused, so a spreadsheet must be saved
as "CSV UTF-8"), comma-delimited, double quotes around cells holding commas, line 1 the header. Header
names are case-insensitive; spaces and hyphens in them read as "_" ("Fill Date" = fill_date). Dates are
YYYY-MM-DD or MM/DD/YYYY. Numbers are plain (60, 0.5): no thousands separators.

Required columns (a row must fill each):
    fill_date           the date the pharmacy filled the prescription (ASAP DSP05)
    drug                the drug as the report names it ("alprazolam 1 MG Oral Tablet")
    quantity            the amount dispensed (> 0)
    days_supply         whole days, 1-365
    prescriber_name
    prescriber_npi or prescriber_dea      at least one of the two columns, and one filled in each row
    pharmacy_name
    pharmacy_npi or pharmacy_ncpdp        likewise

Optional columns:
    written_date        the date the prescription was written (ASAP DSP03)
    ndc                 11 digits, or 10 with dashes (4-4-2, 5-3-2, 5-4-1); padded to 11
    rxnorm              the RxNorm code (digits)
    strength, strength_unit   when the drug text lacks them; unit mg, mcg, g, mg/mL, mcg/h (or mcg/hr,
                        mg/hr). Given with a drug text that names another strength, the row is a problem.
    quantity_unit       each (tablets, capsules, patches …), mL or g; also ASAP codes 01/02/03
    fill_number         0 for the first fill, 1 for the first refill … (ASAP DSP06)
    refills_authorized  (ASAP DSP04)
    rx_number           the pharmacy's prescription number (ASAP DSP02)
    payment_method      ASAP DSP16 code (01 private pay, 02 Medicaid, 03 Medicare, 04 commercial,
                        05 military/VA, 06 workers' comp, 07 Indian Nations, 99 other) or its name
    mme, lme            the PDMP's morphine / lorazepam milligram equivalents, when it reports them
    prescriber_dea, prescriber_state_license, pharmacy_dea
    patient_name, patient_birth_date      for the preview's identity check; every row must agree

A CSV lists dispensations only: leave voided ones out (there is no status column). A column Stepdown
does not know is ignored with a note, unless its name is close to a known one ("presciber_npi"), which is a
problem naming the expected column. A problem names the line (1 = header) and the column.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import re
from decimal import Decimal

from . import products, values
from .records import Collector, DispensationRecord, ParsedReport, PartyRef, normalise_name

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 5000

REQUIRED = ("fill_date", "drug", "quantity", "days_supply", "prescriber_name", "pharmacy_name")
ONE_OF = (("prescriber_npi", "prescriber_dea"), ("pharmacy_npi", "pharmacy_ncpdp"))
OPTIONAL = (
    "prescriber_dea",
    "prescriber_state_license",
    "pharmacy_ncpdp",
    "pharmacy_dea",
    "written_date",
    "ndc",
    "rxnorm",
    "strength",
    "strength_unit",
    "quantity_unit",
    "fill_number",
    "refills_authorized",
    "rx_number",
    "payment_method",
    "mme",
    "lme",
    "patient_name",
    "patient_birth_date",
)
KNOWN = frozenset({*REQUIRED, *(c for group in ONE_OF for c in group), *OPTIONAL})

_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_UNIT = re.compile(r"^(mcg|µg|ug|mg|g)(?:/(\d+(?:\.\d+)?)?\s?([a-z]+))?$")
DATE_MESSAGE = "must be a date written YYYY-MM-DD or MM/DD/YYYY"
UNITS_MESSAGE = "must be one of mg, mcg, g, mg/mL, mcg/h (or mcg/hr, mg/hr)"


def parse(data: bytes, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS) -> ParsedReport:
    out = Collector()
    text = _decode(data, out, max_bytes)
    if text is None:
        return out.report("csv", [])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        out.problem("line 1", "", f"cannot be read as CSV ({exc})")
        return out.report("csv", [])
    if not header or not any(cell.strip() for cell in header):
        out.problem("line 1", "", "must be the header naming the columns; the file starts with an empty line")
        return out.report("csv", [])
    columns = _header(header, out)
    if out.failed:
        return out.report("csv", [])
    rows = _Rows(out, columns, len(header))
    line_end = reader.line_num
    try:
        for row in reader:
            line, line_end = line_end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if rows.count >= max_rows:
                out.problem(
                    f"line {line}",
                    "",
                    f"the file has more than {max_rows} dispensations; Stepdown reads at most {max_rows} "
                    "in one report",
                )
                break
            rows.read(line, row)
    except csv.Error as exc:
        out.problem(f"line {reader.line_num}", "", f"cannot be read as CSV ({exc})")
    if rows.count == 0 and not out.failed:
        out.note("The file lists no dispensations.")
    return out.report(
        "csv",
        rows.records,
        patient_name=rows.patient_name,
        patient_birth_date=rows.patient_birth_date,
    )


def _decode(data: bytes, out: Collector, max_bytes: int) -> str | None:
    if not isinstance(data, bytes | bytearray | memoryview):
        out.problem("report", "file", "was not received as bytes")
        return None
    data = bytes(data)
    if len(data) > max_bytes:
        out.problem(
            "report",
            "file",
            f"is larger than {max_bytes // (1024 * 1024)} MB; ask the PDMP for a shorter range",
        )
        return None
    if not data.strip():
        out.problem("report", "file", "is empty")
        return None
    if data.startswith(b"PK\x03\x04"):
        out.problem(
            "report", "file", "is a spreadsheet (.xlsx), not CSV; save it as CSV UTF-8 and upload that"
        )
        return None
    if data.startswith(b"%PDF"):
        out.problem("report", "file", "is a PDF; Stepdown reads CSV or FHIR JSON reports")
        return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        out.problem("report", "file", "is UTF-16 text; save it as CSV UTF-8 and upload it again")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        out.problem(
            "report",
            "file",
            f"is not UTF-8 text (byte {exc.start + 1} is 0x{data[exc.start]:02x}); save it as CSV UTF-8 "
            "and upload it again",
        )
        return None
    if "\x00" in text:
        out.problem("report", "file", "contains NUL characters, so it is not a CSV text file")
        return None
    return text


def _column_name(cell: str) -> str:
    return re.sub(r"[\s\-]+", "_", cell.strip().lower())


def _header(header: list[str], out: Collector) -> dict[str, int]:
    """Column name → index; problems for duplicates, missing required columns and likely typos."""
    columns: dict[str, int] = {}
    unknown: list[str] = []
    unnamed = 0
    for index, cell in enumerate(header):
        name = _column_name(cell)
        if not name:
            unnamed += 1
        elif name in columns:
            out.problem("line 1", name, "appears twice in the header")
        elif name in KNOWN:
            columns[name] = index
        else:
            unknown.append(name)
            columns[name] = index
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        out.problem(
            "line 1", "", "the columns seem separated by ';' or tabs; Stepdown reads comma-separated files"
        )
        return columns
    explained: set[str] = set()
    for name in REQUIRED:
        if name not in columns:
            typo = _close(name, unknown)
            hint = f" (the header has {typo!r}: is that it?)" if typo else ""
            explained |= {typo} if typo else set()
            out.problem("line 1", name, f"is a required column and is missing{hint}")
    for group in ONE_OF:
        if not any(name in columns for name in group):
            typos = [t for name in group if (t := _close(name, unknown))]
            explained |= set(typos)
            hint = f" (the header has {typos[0]!r}: is that one of them?)" if typos else ""
            out.problem("line 1", group[0], f"the file needs a {group[0]} or a {group[1]} column{hint}")
    ignored = []
    for name in unknown:
        if name in explained:
            continue
        if typo := _close(name, sorted(KNOWN)):
            out.problem("line 1", name, f"is not a column Stepdown knows; did you mean {typo!r}?")
        else:
            ignored.append(name)
    if ignored:
        out.note(f"Ignored columns Stepdown does not read: {', '.join(ignored)}.")
    if unnamed:
        out.note(f"Ignored {unnamed} column(s) with no name in the header.")
    return {name: index for name, index in columns.items() if name in KNOWN}


def _close(name: str, candidates: list[str]) -> str:
    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.8)
    return match[0] if match else ""


def parse_date(text: str) -> dt.date | None:
    iso, us = _ISO.match(text), _US.match(text)
    try:
        if iso:
            return dt.date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        if us:
            return dt.date(int(us.group(3)), int(us.group(1)), int(us.group(2)))
    except ValueError:
        return None
    return None


class _Rows:
    def __init__(self, out: Collector, columns: dict[str, int], width: int) -> None:
        self.out = out
        self.columns = columns
        self.width = width
        self.records: list[DispensationRecord] = []
        self.count = 0
        self.patient_name = ""
        self.patient_birth_date: dt.date | None = None
        self._patient_line = 0

    def read(self, line: int, row: list[str]) -> None:
        self.count += 1
        where = f"line {line}"
        if len(row) != self.width:
            self.out.problem(
                where,
                "",
                f"has {len(row)} values but the header names {self.width} columns; a missing or extra comma "
                "shifts every value after it",
            )
            return
        cells = {name: row[index].strip() for name, index in self.columns.items()}
        before = len(self.out.problems) + self.out.more_problems
        row_reader = _Row(self.out, where, cells)
        record = row_reader.record()
        self._patient(where, row_reader)
        if record is not None and len(self.out.problems) + self.out.more_problems == before:
            self.records.append(record)

    def _patient(self, where: str, row: _Row) -> None:
        name = " ".join(row.cells.get("patient_name", "").split())
        born = row.date("patient_birth_date")
        if name and not self.patient_name:
            self.patient_name = name
        elif name and normalise_name(name) != normalise_name(self.patient_name):
            self.out.problem(
                where,
                "patient_name",
                f"is {name!r} but an earlier line names {self.patient_name!r}; one report is one patient",
            )
        if born and not self.patient_birth_date:
            self.patient_birth_date = born
        elif born and born != self.patient_birth_date:
            self.out.problem(
                where,
                "patient_birth_date",
                f"is {born.isoformat()} but an earlier line gives {self.patient_birth_date.isoformat()}; "
                "one report is one patient",
            )


class _Row:
    def __init__(self, out: Collector, where: str, cells: dict[str, str]) -> None:
        self.out = out
        self.where = where
        self.cells = cells

    def problem(self, column: str, message: str) -> None:
        self.out.problem(self.where, column, message)

    def gives(self, column: str) -> str:
        return f"the file gives {self.cells[column]!r}"

    def required(self, column: str) -> str:
        value = self.cells.get(column, "")
        if not value:
            self.problem(column, "is empty; this column is required")
        return value

    def date(self, column: str, *, required: bool = False) -> dt.date | None:
        text = self.required(column) if required else self.cells.get(column, "")
        if not text:
            return None
        day = parse_date(text)
        if day is None:
            self.problem(column, f"{DATE_MESSAGE}; {self.gives(column)}")
        return day

    def whole(self, column: str, low: int, high: int, message: str, *, required: bool = False) -> int | None:
        text = self.required(column) if required else self.cells.get(column, "")
        if not text:
            return None
        number = values.decimal(text)
        result = values.whole(number, low, high) if number is not None else None
        if result is None:
            self.problem(column, f"{message}; {self.gives(column)}")
        return result

    def amount(self, column: str) -> Decimal | None:
        text = self.cells.get(column, "")
        if not text:
            return None
        number = values.decimal(text)
        if number is None or number < 0:
            self.problem(column, f"must be a number of 0 or more; {self.gives(column)}")
            return None
        return number

    def record(self) -> DispensationRecord | None:
        filled = self.date("fill_date", required=True)
        written = self.date("written_date")
        drug = " ".join(self.required("drug").split())
        quantity = self._quantity()
        days = self.whole("days_supply", 1, values.MAX_DAYS_SUPPLY, values.DAYS_MESSAGE, required=True)
        ndc = self._ndc()
        rxnorm = self.cells.get("rxnorm", "")
        if rxnorm and not rxnorm.isdigit():
            self.problem("rxnorm", f"an RxNorm code is digits; {self.gives('rxnorm')}")
        fill_number = self.whole(
            "fill_number",
            0,
            values.MAX_FILL_NUMBER,
            "must be a whole number: 0 for the first fill, 1 for the first refill",
        )
        refills = self.whole(
            "refills_authorized", 0, values.MAX_FILL_NUMBER, "must be a whole number of refills (0 or more)"
        )
        payment, problem = values.payment(self.cells.get("payment_method", ""))
        if problem:
            self.problem("payment_method", problem)
        mme, lme = self.amount("mme"), self.amount("lme")
        prescriber = self._party("prescriber", ("npi", "dea"))
        pharmacy = self._party("pharmacy", ("npi", "ncpdp"))
        if filled and (message := values.written_after_filled(written, filled)):
            self.problem("written_date", message)
        described = products.describe(drug, rxnorm=rxnorm)
        strength, strength_unit = self._strength(described)
        if filled is None or quantity is None or days is None or not drug:
            return None
        return DispensationRecord(
            where=self.where,
            filled_on=filled,
            written_on=written,
            drug_text=drug,
            ndc=ndc,
            rxnorm=rxnorm,
            ingredient=described.ingredient,
            drug_class=described.drug_class,
            strength=strength,
            strength_unit=strength_unit,
            form=described.form,
            quantity=quantity,
            quantity_unit=values.quantity_unit(self.cells.get("quantity_unit", "")),
            days_supply=days,
            fill_number=fill_number,
            refills_authorized=refills,
            rx_number=self.cells.get("rx_number", ""),
            prescriber=prescriber,
            pharmacy=pharmacy,
            payment_method=payment,
            reported_mme=mme,
            reported_lme=lme,
            source_id="",
        )

    def _quantity(self) -> Decimal | None:
        text = self.required("quantity")
        if not text:
            return None
        number = values.decimal(text)
        if number is None or values.positive_quantity(number):
            self.problem("quantity", f"{values.QUANTITY_MESSAGE}; {self.gives('quantity')}")
            return None
        return number

    def _ndc(self) -> str:
        raw = self.cells.get("ndc", "")
        ndc, problem, ambiguous = values.ndc(raw)
        if problem:
            self.problem("ndc", f"{problem} The file gives {raw!r}.")
        if ambiguous:
            self.out.note(
                f"{self.where}: the NDC {raw} has 10 digits without dashes, so its 11-digit form is "
                "ambiguous; it was left out. Write it with its dashes (e.g. 0093-0150-01)."
            )
        return ndc

    def _strength(self, described: products.Described) -> tuple[Decimal | None, products.StrengthUnit]:
        text, unit_text = self.cells.get("strength", ""), self.cells.get("strength_unit", "")
        if not text and not unit_text:
            return described.strength, described.strength_unit
        if not text or not unit_text:
            missing = "strength" if not text else "strength_unit"
            self.problem(missing, "is empty; give strength and strength_unit together")
            return None, ""
        number = values.decimal(text)
        unit = _UNIT.match(unit_text.lower().replace(" ", ""))
        if number is None or number <= 0:
            self.problem("strength", f"must be a number greater than 0; {self.gives('strength')}")
            return None, ""
        converted = (
            products.convert(
                number, unit.group(1), Decimal(unit.group(2)) if unit.group(2) else None, unit.group(3) or ""
            )
            if unit
            else None
        )
        if converted is None:
            self.problem("strength_unit", f"{UNITS_MESSAGE}; {self.gives('strength_unit')}")
            return None, ""
        if described.strength is not None and (described.strength, described.strength_unit) != converted:
            self.problem(
                "strength",
                f"says {converted[0]} {converted[1]} but the drug text says {described.strength} "
                f"{described.strength_unit}; correct one of them",
            )
            return None, ""
        return converted

    def _party(self, role: str, ids: tuple[str, str]) -> PartyRef:
        name = self.required(f"{role}_name")
        given = {
            kind: self.cells.get(f"{role}_{kind}", "") for kind in ("npi", "dea", "ncpdp", "state_license")
        }
        if not any(given[kind] for kind in ids):
            self.problem(
                f"{role}_{ids[0]}",
                f"is empty and so is {role}_{ids[1]}; give at least one so the {role} can be counted",
            )
        party = values.party(name, given["npi"], given["dea"], given["ncpdp"], given["state_license"])
        for kind, message in values.party_problems(party):
            if kind == "ncpdp" and party.ncpdp.isdigit() and len(party.ncpdp) < 7:
                message += " A spreadsheet may have dropped a leading zero: format the column as text."
            self.problem(f"{role}_{kind}", message)
        return party
