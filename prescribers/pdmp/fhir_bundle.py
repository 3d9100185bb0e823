"""Read a PDMP history as the HL7 PDMP IG (STU1 1.0.0, github HL7/fhir-pdmp input/fsh) returns it from
`$pdmp-history`: the `collection` Bundle (output parameter pdmp-history-data, profile
pdmp-bundle-history-result), the Parameters resource wrapping it (profile pdmp-parameters-response), or the
`message` Bundle carrying that Parameters (pdmp-bundle-response-message). Pure: no Django.

What is read, with the IG element it comes from:
- MedicationDispense (profile pdmp-medicationdispense) → one DispensationRecord each. Fill date: whenPrepared
  (the IG's PMIX mapping: PrescriptionFilledDate; required by the profile), else whenHandedOver. Drug:
  medicationCodeableConcept, or medicationReference to a Medication in the bundle or contained. Rx number:
  MedicationDispense.identifier (PMIX PrescriptionNumberText; the FILL-typed one first). Pharmacy:
  performer.actor (reference and/or logical identifier). Prescriber, written date and refills:
  authorizingPrescription → MedicationRequest (authoredOn, dispenseRequest.numberOfRepeatsAllowed,
  requester → Practitioner or PractitionerRole.practitioner).
- The IG's extensions on MedicationDispense: rx-fill-number, mme, lme, method-of-payment (URLs below).
- Patient: name and birthDate of the first Patient, for the preview's identity check. Several Patient
  entries (one per state that matched) must agree on birthDate, else the report may mix two people.
- Parameters: the outcome's OperationOutcome (errors → problems; warnings such as "incomplete results" →
  notes; "no-data" → an empty, acceptable report) and pdmp-header-timestamp-extension → queried_at.
- Bundle.identifier → transaction_id and Bundle.timestamp → queried_at when the Parameters give none
  (FHIR core: the IG defines no gateway transaction id). The IG carries no PDMP state: `state` stays ""
  and the caller asks the user.

MedicationDispense.status (FHIR R4 medicationdispense-status, required binding):
- completed → imported.
- entered-in-error (voided), cancelled, declined, stopped (not dispensed), preparation, in-progress, on-hold
  (not handed over yet) → left out, and a note says how many, so nothing disappears silently.
- unknown, a missing status or any other value → a problem: whether the medicine was dispensed is not known.

Where: problems and records name entries 1-based with their id, "entry 3 (MedicationDispense/abc)";
"report" is the file as a whole.

Defences: input over `max_bytes` is refused before decoding; nesting deeper than MAX_DEPTH is refused
before json.loads (and a RecursionError from it is still caught); NaN/Infinity, duplicate keys and lone
UTF-16 surrogates ("\\ud800", which would break any later UTF-8 write) are problems; more than
`max_entries` entries is a problem. No walk here recurses on the input.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from decimal import Decimal
from typing import Any

from . import products, values
from .records import Collector, DispensationRecord, ParsedReport, PartyRef, normalise_name, plain

MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 64
MAX_ENTRIES = 5000

IG = "http://hl7.org/fhir/us/pdmp/StructureDefinition/"
EXT_FILL_NUMBER = IG + "pdmp-extension-rx-fill-number"
EXT_MME = IG + "pdmp-extension-mme"
EXT_LME = IG + "pdmp-extension-lme"
EXT_PAYMENT = IG + "pdmp-extension-method-of-payment"
EXT_HEADER_TIMESTAMP = IG + "pdmp-header-timestamp-extension"
EXT_ACTIVITY_PERIOD = IG + "pdmp-activity-period-extension"

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NDC = "http://hl7.org/fhir/sid/ndc"
NPI = "http://hl7.org/fhir/sid/us-npi"
# The IG writes DEA as terminology.hl7.org/NamingSystem/usdeanumber (its PMIX/SCRIPT mappings and
# pdmp-organization-pharmacy); many EHRs send the DEA OID instead. Compared case-insensitively
# (terminology.hl7.org spells it USDEANumber).
DEA_SYSTEMS = frozenset(
    {"http://terminology.hl7.org/namingsystem/usdeanumber", "urn:oid:2.16.840.1.113883.4.814"}
)
# The IG uses CodeSystem/…; NamingSystem/… is the same id under its NamingSystem name.
NCPDP_SYSTEMS = frozenset(
    {
        "http://terminology.hl7.org/codesystem/ncpdpprovideridentificationnumber",
        "http://terminology.hl7.org/namingsystem/ncpdpprovideridentificationnumber",
    }
)
PAYMENT_SYSTEMS = frozenset(
    {
        "http://terminology.hl7.org/CodeSystem/PMIXMethodofPayment",
        "http://hl7.org/fhir/us/pdmp/CodeSystem/temporary-pmix-method-of-payment",
    }
)
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"

SKIPPED_STATUSES = {
    "entered-in-error": "marked entered-in-error (voided)",
    "cancelled": "cancelled before dispensing",
    "declined": "declined by the pharmacy",
    "stopped": "stopped before dispensing",
    "preparation": "still in preparation (not handed over)",
    "in-progress": "in progress (not handed over)",
    "on-hold": "on hold (not handed over)",
}

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET = re.compile(r"[\[\]{}]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(T.+)?$")
_RELATIVE = re.compile(r"([A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")

Json = dict[str, Any]


def parse(data: bytes, *, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> ParsedReport:
    out = Collector()
    doc = load(data, out, max_bytes=max_bytes)
    if doc is None:
        return out.report("fhir", [])
    reader = _Reader(out, max_entries)
    reader.read(doc)
    return out.report(
        "fhir",
        reader.records,
        patient_name=reader.patient_name,
        patient_birth_date=reader.birth_date,
        queried_at=reader.queried_at,
        transaction_id=reader.transaction_id,
    )


def load(data: bytes, out: Collector, *, max_bytes: int = MAX_BYTES) -> Any:
    """The JSON document, or None with the reason recorded in `out`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        out.problem("report", "file", "was not received as bytes")
        return None
    data = bytes(data)
    if len(data) > max_bytes:
        out.problem(
            "report",
            "file",
            f"is larger than {_size(max_bytes)} ({len(data):,} bytes), the most Stepdown reads in one "
            "report; ask the PDMP for a shorter date range",
        )
        return None
    if not data.strip():
        out.problem("report", "file", "is empty")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        out.problem(
            "report", "file", f"is not UTF-8 text (byte {exc.start + 1} cannot be read); FHIR JSON is UTF-8"
        )
        return None
    depth = _depth(text)
    if depth > MAX_DEPTH:
        out.problem("report", "file", f"is nested more than {MAX_DEPTH} levels deep; no PDMP report is")
        return None
    duplicates: list[str] = []
    try:
        doc = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=lambda pairs: _object(pairs, duplicates),
        )
    except json.JSONDecodeError as exc:
        out.problem(
            "report", "file", f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        )
        return None
    except RecursionError:
        out.problem("report", "file", "is nested too deeply to read")
        return None
    except ValueError as exc:
        out.problem("report", "file", str(exc))
        return None
    for key in sorted(set(duplicates))[:10]:
        out.problem("report", key, "appears twice in one JSON object, so the report is ambiguous")
    for path in _surrogates(doc):
        out.problem(
            "report",
            path,
            "contains a damaged character (an unpaired UTF-16 surrogate such as \\ud800); "
            "ask the PDMP for the report again",
        )
    if out.failed:
        return None
    if not isinstance(doc, dict):
        out.problem(
            "report", "file", "is JSON but not a FHIR resource (expected an object with resourceType)"
        )
        return None
    return doc


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects, strings excluded, counted without recursion; stops as
    soon as MAX_DEPTH is passed."""
    depth = deepest = 0
    for m in _BRACKET.finditer(_STRING.sub('""', text)):
        if m.group() in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        else:
            depth -= 1
    return deepest


def _reject_constant(name: str) -> Any:
    raise ValueError(f"contains {name}, which is not a number JSON allows")


def _object(pairs: list[tuple[str, Any]], duplicates: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            duplicates.append(key)
        result[key] = value
    return result


def _surrogates(doc: Any, limit: int = 5) -> list[str]:
    """JSON paths of strings (and keys) holding a lone surrogate; iterative, depth already bounded."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack and len(found) < limit:
        path, value = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                found.append(path or "(document)")
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else key
                if _SURROGATE.search(key):
                    found.append(path or "(document)")
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return sorted(found)


def shown(value: Any) -> str:
    """A JSON value as the report wrote it, for a problem message: 7.5, "7.5", true, null."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return json.dumps(value, default=str)[:80]


def _a(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "AEIOU" else f"a {kind}"


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _number(value: Any) -> Decimal | None:
    """A JSON number as Decimal (bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    return Decimal(value)


def fhir_date(value: Any) -> tuple[dt.date | None, str | None]:
    """A FHIR date or dateTime as the calendar date written (the pharmacy's local date), or a problem."""
    text = _text(value)
    m = _DATE.match(text)
    if not m:
        return None, f"must be a date (YYYY-MM-DD); the report gives {shown(value)}"
    if m.group(3) is None:
        return None, f"must be a full date (YYYY-MM-DD); the report gives only {text!r}"
    try:
        day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if m.group(4):
            dt.datetime.fromisoformat(text)
    except ValueError:
        return None, f"is not a real date; the report gives {text!r}"
    return day, None


def fhir_instant(value: Any) -> dt.datetime | None:
    """A dateTime with a time zone, or None (a bare date or a local time cannot be placed in time)."""
    text = _text(value)
    if "T" not in text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _codes(identifier: Json) -> set[str]:
    kind = identifier.get("type")
    codings = _list(kind.get("coding")) if isinstance(kind, dict) else []
    return {c.get("code") for c in codings if isinstance(c, dict) and isinstance(c.get("code"), str)}


def _human_name(names: Any) -> str:
    candidates = [n for n in _list(names) if isinstance(n, dict)]
    if not candidates:
        return _text(names)
    name = next((n for n in candidates if n.get("use") == "official"), candidates[0])
    if _text(name.get("text")):
        return " ".join(name["text"].split())
    parts = [_text(g) for g in _list(name.get("given"))] + [_text(name.get("family"))]
    full = " ".join(p for p in parts if p)
    suffixes = [_text(s) for s in _list(name.get("suffix")) if _text(s)]
    return ", ".join([full, *suffixes]) if full else ""


class _Reader:
    def __init__(self, out: Collector, max_entries: int) -> None:
        self.out = out
        self.max_entries = max_entries
        self.records: list[DispensationRecord] = []
        self.patient_name = ""
        self.birth_date: dt.date | None = None
        self.queried_at: dt.datetime | None = None
        self.transaction_id = ""
        self.index: dict[str, tuple[str, Json]] = {}
        self.skipped: Counter[str] = Counter()
        self.without_prescriber = 0
        self.administrations = 0
        self.no_data = False

    # -- envelopes ---------------------------------------------------------------------------------------

    def read(self, doc: Json) -> None:
        kind = doc.get("resourceType")
        if kind == "Parameters":
            self._parameters(doc)
        elif kind == "Bundle" and doc.get("type") == "message":
            self._message(doc)
        elif kind == "Bundle":
            self._history(doc)
        else:
            self.out.problem(
                "report",
                "resourceType",
                f"is {kind!r}; expected the PDMP history Bundle (type collection) or the Parameters resource "
                "that $pdmp-history returns",
            )
        self._summarise()

    def _message(self, bundle: Json) -> None:
        resources = [e.get("resource") for e in _list(bundle.get("entry")) if isinstance(e, dict)]
        header = next(
            (r for r in resources if isinstance(r, dict) and r.get("resourceType") == "MessageHeader"), None
        )
        response = header.get("response") if isinstance(header, dict) else None
        if isinstance(response, dict) and response.get("code") not in (None, "ok"):
            self.out.problem(
                "report", "MessageHeader.response.code", f"the PDMP answered {response.get('code')!r}"
            )
        identifier = bundle.get("identifier")
        if isinstance(identifier, dict):
            self.transaction_id = _text(identifier.get("value"))
        self.queried_at = fhir_instant(bundle.get("timestamp"))
        parameters = [r for r in resources if isinstance(r, dict) and r.get("resourceType") == "Parameters"]
        if len(parameters) != 1:
            self.out.problem(
                "report", "Bundle.entry", "a PDMP response message carries exactly one Parameters resource"
            )
            return
        self._parameters(parameters[0])

    def _parameters(self, doc: Json) -> None:
        params = doc.get("parameter")
        if not isinstance(params, list) or not params:
            self.out.problem(
                "report", "Parameters.parameter", "is missing; the response holds no PDMP history"
            )
            return
        history: Json | None = None
        link = prestaged = False
        for i, param in enumerate(params, start=1):
            if not isinstance(param, dict):
                self.out.problem(f"parameter {i}", "", "is not a FHIR parameter")
                continue
            name = param.get("name")
            if name == "pdmp-history-data":
                if history is not None:
                    self.out.problem(
                        f"parameter {i}",
                        "pdmp-history-data",
                        "appears twice; one response carries one history",
                    )
                    continue
                history = param.get("resource")
                if not isinstance(history, dict):
                    target = param.get("valueReference")
                    where = f" ({target.get('reference')})" if isinstance(target, dict) else ""
                    self.out.problem(
                        f"parameter {i}",
                        "pdmp-history-data",
                        f"does not hold the history bundle itself{where}; "
                        "ask for the response with the bundle inline",
                    )
                    history = {}
                self._parameter_extensions(param)
            elif name == "outcome":
                self._outcome(f"parameter {i}", param.get("resource"))
            elif name == "pdmp-history-link":
                link = True
                if _text(param.get("valueUrl")):
                    self.out.note(f"The PDMP also offers its own report at {param['valueUrl']}.")
            elif name == "pre-stage-retrieval-key":
                prestaged = True
        if history is None:
            if self.out.failed or self.no_data:
                return
            if prestaged:
                message = "the PDMP has only pre-staged the report; retrieve it with the retrieval key first"
            elif link:
                message = "the response carries only a link to the PDMP's report, no dispensations to import"
            else:
                message = "is missing; the response holds no PDMP history"
            self.out.problem("report", "pdmp-history-data", message)
            return
        if history:
            if history.get("resourceType") != "Bundle":
                self.out.problem(
                    "report",
                    "pdmp-history-data",
                    f"holds a {history.get('resourceType')!r}, not the history Bundle",
                )
                return
            self._history(history)

    def _parameter_extensions(self, param: Json) -> None:
        for ext in _list(param.get("extension")):
            if not isinstance(ext, dict):
                continue
            if ext.get("url") == EXT_HEADER_TIMESTAMP:
                self.queried_at = fhir_instant(ext.get("valueDateTime")) or self.queried_at
            elif ext.get("url") == EXT_ACTIVITY_PERIOD and isinstance(ext.get("valuePeriod"), dict):
                period = ext["valuePeriod"]
                start, end = _text(period.get("start")), _text(period.get("end"))
                if start or end:
                    self.out.note(f"The PDMP searched dispensations from {start or '?'} to {end or '?'}.")

    def _outcome(self, where: str, outcome: Any) -> None:
        if not isinstance(outcome, dict) or outcome.get("resourceType") != "OperationOutcome":
            self.out.problem(where, "outcome", "is not an OperationOutcome")
            return
        for issue in _list(outcome.get("issue")):
            if not isinstance(issue, dict):
                continue
            details = issue.get("details") if isinstance(issue.get("details"), dict) else {}
            codes = {c.get("code") for c in _list(details.get("coding")) if isinstance(c, dict)}
            said = _text(issue.get("diagnostics")) or _text(details.get("text")) or _text(issue.get("code"))
            severity = issue.get("severity")
            if severity in ("fatal", "error"):
                self.out.problem(
                    "report", "outcome", f"the PDMP reported an error: {said or 'no details given'}"
                )
            elif severity == "warning":
                self.out.note(f"The PDMP warns: {said}")
            elif "no-data" in codes:
                self.no_data = True
                self.out.note(f"The PDMP found no history for this patient{': ' + said if said else '.'}")
            elif said:
                self.out.note(f"The PDMP says: {said}")

    # -- the history bundle ------------------------------------------------------------------------------

    def _history(self, bundle: Json) -> None:
        if bundle.get("type") not in ("collection", "searchset"):
            self.out.problem(
                "report",
                "Bundle.type",
                f"is {bundle.get('type')!r}; a PDMP history is a 'collection' Bundle (pdmp-history-data)",
            )
            return
        identifier = bundle.get("identifier")
        if isinstance(identifier, dict) and _text(identifier.get("value")):
            self.transaction_id = _text(identifier.get("value"))
        self.queried_at = self.queried_at or fhir_instant(bundle.get("timestamp"))
        entries = bundle.get("entry")
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            self.out.problem("report", "Bundle.entry", "must be a list of entries")
            return
        if len(entries) > self.max_entries:
            self.out.problem(
                "report",
                "Bundle.entry",
                f"has {len(entries)} entries; Stepdown reads at most {self.max_entries} in one report. "
                "Ask the PDMP for a shorter date range.",
            )
            return
        located: list[tuple[int, str, Json, str]] = []
        for i, entry in enumerate(entries, start=1):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                self.out.problem(f"entry {i}", "resource", "is missing")
                continue
            kind = resource.get("resourceType")
            if not isinstance(kind, str) or not kind:
                self.out.problem(f"entry {i}", "resourceType", "is missing")
                continue
            rid = _text(resource.get("id"))
            where = f"entry {i} ({kind}/{rid})" if rid else f"entry {i} ({kind})"
            full_url = _text(entry.get("fullUrl"))
            for key in {full_url, f"{kind}/{rid}" if rid else ""} - {""}:
                if key in self.index and self.index[key][1] is not resource:
                    self.out.problem(where, "fullUrl", f"{key} is used by {self.index[key][0]} too")
                self.index[key] = (where, resource)
            located.append((i, where, resource, full_url))
        for _i, where, resource, full_url in located:
            kind = resource["resourceType"]
            if kind == "Patient":
                self._patient(where, resource)
            elif kind == "MedicationDispense":
                self._dispense(where, resource, full_url)
            elif kind == "MedicationAdministration":
                self.administrations += 1
            elif kind == "DetectedIssue":
                self._alert(resource)

    def _patient(self, where: str, patient: Json) -> None:
        name = _human_name(patient.get("name"))
        born = None
        if "birthDate" in patient:
            born, problem = fhir_date(patient.get("birthDate"))
            if problem:
                self.out.problem(where, "birthDate", problem)
        if born and self.birth_date and born != self.birth_date:
            self.out.problem(
                where,
                "birthDate",
                f"is {born.isoformat()} but another patient record in the report gives "
                f"{self.birth_date.isoformat()}; the report may mix two people, so check it with the PDMP",
            )
        if name and self.patient_name and normalise_name(name) != normalise_name(self.patient_name):
            self.out.note(
                f"The PDMP matched patient records under more than one name: {self.patient_name}; {name}."
            )
        self.patient_name = self.patient_name or name
        self.birth_date = self.birth_date or born

    def _alert(self, issue: Json) -> None:
        code = issue.get("code") if isinstance(issue.get("code"), dict) else {}
        codings = [c for c in _list(code.get("coding")) if isinstance(c, dict)]
        said = _text(code.get("text")) or next(
            (_text(c.get("display")) for c in codings if _text(c.get("display"))), ""
        )
        self.out.note(f"The PDMP raised an alert: {said or 'no description given'}.")

    def _summarise(self) -> None:
        for status, count in sorted(self.skipped.items()):
            plural = "dispensation" if count == 1 else "dispensations"
            self.out.note(f"Left out {count} {plural} {SKIPPED_STATUSES[status]}.")
        if self.administrations:
            self.out.note(
                f"Left out {self.administrations} medication administration(s): "
                "given in a clinic, not dispensed."
            )
        if self.without_prescriber:
            self.out.note(
                f"{self.without_prescriber} dispensation(s) name no prescriber; they count for no prescriber."
            )

    # -- references --------------------------------------------------------------------------------------

    def _resolve(self, reference: Any, containers: list[tuple[str, Json]]) -> tuple[str, Json] | None:
        ref = _text(reference)
        if ref.startswith("#"):
            for where, container in containers:
                for inner in _list(container.get("contained")):
                    if isinstance(inner, dict) and inner.get("id") == ref[1:]:
                        return f"{where} contained {inner.get('resourceType')}/{ref[1:]}", inner
            return None
        if ref in self.index:
            return self.index[ref]
        relative = _RELATIVE.search(ref)
        return self.index.get(relative.group(1)) if relative else None

    def _follow(
        self, where: str, field: str, target: Any, containers: list[tuple[str, Json]], kinds: tuple[str, ...]
    ) -> tuple[str, Json] | None:
        """The resource a Reference points to, or None; a reference that cannot be followed is a problem."""
        if not isinstance(target, dict) or not _text(target.get("reference")):
            return None
        ref = target["reference"]
        found = self._resolve(ref, containers)
        if found is None:
            self.out.problem(where, field, f"points to {ref!r}, which is not in the report")
            return None
        if found[1].get("resourceType") not in kinds:
            wanted = " or ".join(_a(kind) for kind in kinds)
            self.out.problem(where, field, f"points to {_a(str(found[1].get('resourceType')))}, not {wanted}")
            return None
        return found

    # -- one dispensation --------------------------------------------------------------------------------

    def _dispense(self, where: str, res: Json, full_url: str) -> None:
        status = res.get("status")
        if status in SKIPPED_STATUSES:
            self.skipped[status] += 1
            return
        if status != "completed":
            said = "is missing" if status is None else f"is {status!r}"
            self.out.problem(
                where,
                "status",
                f"{said}; Stepdown imports only dispensations the PDMP reports as completed, and cannot tell "
                "whether this one was dispensed",
            )
            return
        before = len(self.out.problems) + self.out.more_problems
        me = [(where, res)]

        drug_text, rxnorm, ndc, alternatives = self._medication(where, res, me)
        quantity, quantity_unit = self._quantity(where, res)
        days = self._days(where, res)
        filled = self._filled(where, res)
        fill_number, mme, lme, payment = self._extensions(where, res)
        written, refills, prescriber = self._prescription(where, res, me)
        pharmacy = self._pharmacy(where, res, me)
        rx_number = self._rx_number(res)

        if filled and (message := values.written_after_filled(written, filled)):
            self.out.problem(where, "authorizingPrescription.authoredOn", message)
        if len(self.out.problems) + self.out.more_problems > before or filled is None:
            return
        if quantity is None or days is None or pharmacy is None:
            return
        described = products.describe(drug_text, rxnorm=rxnorm, alternatives=alternatives)
        rid = _text(res.get("id"))
        self.records.append(
            DispensationRecord(
                where=where,
                filled_on=filled,
                written_on=written,
                drug_text=drug_text,
                ndc=ndc,
                rxnorm=rxnorm,
                ingredient=described.ingredient,
                drug_class=described.drug_class,
                strength=described.strength,
                strength_unit=described.strength_unit,
                form=described.form,
                quantity=quantity,
                quantity_unit=quantity_unit,
                days_supply=days,
                fill_number=fill_number,
                refills_authorized=refills,
                rx_number=rx_number,
                prescriber=prescriber,
                pharmacy=pharmacy,
                payment_method=payment,
                reported_mme=mme,
                reported_lme=lme,
                source_id=f"MedicationDispense/{rid}" if rid else full_url,
            )
        )

    def _medication(
        self, where: str, res: Json, me: list[tuple[str, Json]]
    ) -> tuple[str, str, str, tuple[str, ...]]:
        field = "medicationCodeableConcept"
        concept = res.get("medicationCodeableConcept")
        if concept is None and "medicationReference" in res:
            field = "medicationReference"
            target = res.get("medicationReference")
            if not isinstance(target, dict) or not _text(target.get("reference")):
                self.out.problem(where, field, "names no Medication")
                return "", "", "", ()
            found = self._follow(where, field, target, me, ("Medication",))
            if found is None:
                return "", "", "", ()
            concept = found[1].get("code")
        if not isinstance(concept, dict):
            self.out.problem(
                where, "medication[x]", "is missing; the report must say which drug was dispensed"
            )
            return "", "", "", ()
        codings = [c for c in _list(concept.get("coding")) if isinstance(c, dict)]
        rx = next((c for c in codings if c.get("system") == RXNORM and _text(c.get("code"))), {})
        nd = next((c for c in codings if c.get("system") == NDC and _text(c.get("code"))), {})
        rxnorm, rx_display = _text(rx.get("code")), _text(rx.get("display"))
        ndc_display = _text(nd.get("display"))
        displays = [_text(c.get("display")) for c in codings if _text(c.get("display"))]
        text = (
            " ".join(_text(concept.get("text")).split())
            or rx_display
            or ndc_display
            or next(iter(displays), "")
        )
        ndc, problem, ambiguous = values.ndc(_text(nd.get("code")))
        if problem:
            self.out.problem(
                where, f"{field}.coding (NDC)", f"{problem} The report gives {nd.get('code')!r}."
            )
        if ambiguous:
            self.out.note(
                f"{where}: the NDC {nd.get('code')} has 10 digits without dashes, so its 11-digit form is "
                "ambiguous; it was left out and the drug is keyed by RxNorm or name."
            )
        if not text and not rxnorm and not ndc:
            self.out.problem(where, field, "names no drug: no text, no RxNorm and no NDC code")
        if rxnorm and not rxnorm.isdigit():
            self.out.problem(
                where, f"{field}.coding (RxNorm)", f"an RxNorm code is digits; the report gives {rxnorm!r}"
            )
        alternatives = tuple(t for t in (rx_display, ndc_display, *displays) if t and t != text)
        return text, rxnorm, ndc, alternatives

    def _quantity(self, where: str, res: Json) -> tuple[Decimal | None, str]:
        quantity = res.get("quantity")
        if not isinstance(quantity, dict) or quantity.get("value") is None:
            self.out.problem(where, "quantity.value", "is missing; the amount dispensed is required")
            return None, ""
        value = _number(quantity.get("value"))
        if value is None or values.positive_quantity(value):
            self.out.problem(
                where,
                "quantity.value",
                f"{values.QUANTITY_MESSAGE}; the report gives {shown(quantity.get('value'))}",
            )
            return None, ""
        unit = _text(quantity.get("unit")) or _text(quantity.get("code"))
        return plain(value), values.quantity_unit(unit)

    def _days(self, where: str, res: Json) -> int | None:
        supply = res.get("daysSupply")
        if not isinstance(supply, dict) or supply.get("value") is None:
            self.out.problem(
                where, "daysSupply.value", "is missing; the number of days the fill lasts is required"
            )
            return None
        value = _number(supply.get("value"))
        days = values.whole(value, 1, values.MAX_DAYS_SUPPLY) if value is not None else None
        if days is None:
            self.out.problem(
                where,
                "daysSupply.value",
                f"{values.DAYS_MESSAGE}; the report gives {shown(supply.get('value'))}",
            )
        return days

    def _filled(self, where: str, res: Json) -> dt.date | None:
        field = "whenPrepared" if res.get("whenPrepared") is not None else "whenHandedOver"
        if res.get(field) is None:
            self.out.problem(
                where, "whenPrepared", "is missing; the date the prescription was filled is required"
            )
            return None
        day, problem = fhir_date(res.get(field))
        if problem:
            self.out.problem(where, field, problem)
        return day

    def _extensions(self, where: str, res: Json) -> tuple[int | None, Decimal | None, Decimal | None, str]:
        fill = mme = lme = None
        payment = ""
        for ext in _list(res.get("extension")):
            if not isinstance(ext, dict):
                continue
            url = ext.get("url")
            if url == EXT_FILL_NUMBER:
                # The IG types this positiveInt yet defines 0 as the first fill, so 0 (and unsignedInt or
                # integer) is read as well.
                raw = next(
                    (ext[k] for k in ("valuePositiveInt", "valueUnsignedInt", "valueInteger") if k in ext),
                    None,
                )
                number = _number(raw)
                fill = values.whole(number, 0, values.MAX_FILL_NUMBER) if number is not None else None
                if fill is None:
                    self.out.problem(
                        where,
                        "extension (rx-fill-number)",
                        "must be a whole number from 0 (the first fill) to "
                        f"{values.MAX_FILL_NUMBER}; the report gives {shown(raw)}",
                    )
            elif url in (EXT_MME, EXT_LME):
                label = "mme" if url == EXT_MME else "lme"
                number = _number(ext.get("valueDecimal"))
                if number is None or not number.is_finite() or number < 0:
                    self.out.problem(
                        where,
                        f"extension ({label})",
                        f"must be a number of 0 or more; the report gives {shown(ext.get('valueDecimal'))}",
                    )
                elif label == "mme":
                    mme = plain(number)
                else:
                    lme = plain(number)
            elif url == EXT_PAYMENT:
                coding = ext.get("valueCoding") if isinstance(ext.get("valueCoding"), dict) else {}
                system = coding.get("system")
                if system not in (None, *PAYMENT_SYSTEMS):
                    self.out.note(
                        f"{where}: a payment method from an unknown code system ({system}) was left out."
                    )
                    continue
                payment, problem = values.payment(_text(coding.get("code")))
                if problem:
                    self.out.problem(where, "extension (method-of-payment)", problem)
        return fill, mme, lme, payment

    def _prescription(
        self, where: str, res: Json, me: list[tuple[str, Json]]
    ) -> tuple[dt.date | None, int | None, PartyRef]:
        authorizing = next(
            (a for a in _list(res.get("authorizingPrescription")) if isinstance(a, dict)), None
        )
        found = self._follow(where, "authorizingPrescription", authorizing, me, ("MedicationRequest",))
        if found is None:
            self.without_prescriber += 1
            return None, None, PartyRef()
        req_where, request = found
        written = None
        if request.get("authoredOn") is not None:
            written, problem = fhir_date(request.get("authoredOn"))
            if problem:
                self.out.problem(req_where, "authoredOn", problem)
        refills = None
        dispense_request = request.get("dispenseRequest")
        if isinstance(dispense_request, dict) and dispense_request.get("numberOfRepeatsAllowed") is not None:
            raw = dispense_request.get("numberOfRepeatsAllowed")
            number = _number(raw)
            refills = values.whole(number, 0, values.MAX_FILL_NUMBER) if number is not None else None
            if refills is None:
                self.out.problem(
                    req_where,
                    "dispenseRequest.numberOfRepeatsAllowed",
                    f"must be a whole number of 0 or more; the report gives {shown(raw)}",
                )
        chain = [(req_where, request), *me]
        requester = request.get("requester")
        prescriber = PartyRef()
        person = self._follow(
            req_where, "requester", requester, chain, ("Practitioner", "PractitionerRole", "Organization")
        )
        if person is not None and person[1].get("resourceType") == "PractitionerRole":
            role_where, role = person
            practitioner = self._follow(
                role_where,
                "practitioner",
                role.get("practitioner"),
                [(role_where, role), *chain],
                ("Practitioner",),
            )
            prescriber = self._party("prescriber", role_where, role, [], "")
            if practitioner is not None:
                prescriber = _merge(self._party("prescriber", *practitioner, [], ""), prescriber)
        elif person is not None:
            prescriber = self._party("prescriber", *person, [], "")
        if isinstance(requester, dict):
            logical = self._party(
                "prescriber",
                req_where,
                None,
                _list(requester.get("identifier")),
                _text(requester.get("display")),
            )
            prescriber = _merge(
                prescriber, logical, where=req_where, out=self.out, field="requester.identifier"
            )
        if not prescriber.key:
            self.without_prescriber += 1
        return written, refills, prescriber

    def _pharmacy(self, where: str, res: Json, me: list[tuple[str, Json]]) -> PartyRef | None:
        actor = next(
            (
                p["actor"]
                for p in _list(res.get("performer"))
                if isinstance(p, dict) and isinstance(p.get("actor"), dict)
            ),
            None,
        )
        if actor is None:
            self.out.problem(where, "performer.actor", "is missing; the pharmacy that dispensed is required")
            return None
        found = self._follow(
            where, "performer.actor", actor, me, ("Organization", "Practitioner", "PractitionerRole")
        )
        pharmacy = self._party("pharmacy", *found, [], "") if found else PartyRef()
        logical = self._party(
            "pharmacy", where, None, _list(actor.get("identifier")), _text(actor.get("display"))
        )
        pharmacy = _merge(pharmacy, logical, where=where, out=self.out, field="performer.actor.identifier")
        if not pharmacy.key:
            self.out.problem(
                where, "performer.actor", "names no pharmacy (no NPI, NCPDP id, DEA number or name)"
            )
            return None
        return pharmacy

    def _party(
        self, role: str, where: str, resource: Json | None, extra: list[Any], display: str
    ) -> PartyRef:
        """A PartyRef from a Practitioner/Organization/PractitionerRole and/or logical identifiers; each
        identifier is checked once, where it is written."""
        found: dict[str, str] = {}
        identifiers = _list(resource.get("identifier")) if resource else []
        for identifier in [*identifiers, *extra]:
            if not isinstance(identifier, dict) or not _text(identifier.get("value")):
                continue
            system = _text(identifier.get("system")).lower()
            codes = _codes(identifier)
            if system == NPI or "NPI" in codes:
                kind = "npi"
            elif system in DEA_SYSTEMS or "DEA" in codes:
                kind = "dea"
            elif system in NCPDP_SYSTEMS:
                kind = "ncpdp"
            elif "SL" in codes:
                kind = "state_license"
            else:
                continue
            found.setdefault(kind, identifier["value"])
        name = display
        if resource:
            kind = resource.get("resourceType")
            name = (
                _human_name(resource.get("name"))
                if kind == "Practitioner"
                else _text(resource.get("name")) or display
            )
        party = values.party(
            name,
            found.get("npi", ""),
            found.get("dea", ""),
            found.get("ncpdp", ""),
            found.get("state_license", ""),
        )
        for kind, message in values.party_problems(party):
            self.out.problem(where, f"identifier ({role} {kind.upper()})", message)
        return party

    def _rx_number(self, res: Json) -> str:
        identifiers = [
            i for i in _list(res.get("identifier")) if isinstance(i, dict) and _text(i.get("value"))
        ]
        filler = next((i for i in identifiers if "FILL" in _codes(i)), None)
        chosen = filler or next(iter(identifiers), None)
        return _text(chosen.get("value")) if chosen else ""


def _merge(
    first: PartyRef, second: PartyRef, *, where: str = "", out: Collector | None = None, field: str = ""
) -> PartyRef:
    """`first` completed by `second`; a different NPI or NCPDP id for one party is a problem (it would
    count as two), a different DEA number is not (a prescriber may hold one per state)."""
    if out is not None:
        for kind in ("npi", "ncpdp"):
            a, b = getattr(first, kind), getattr(second, kind)
            if a and b and a != b:
                out.problem(where, field, f"gives {kind.upper()} {b}, but the resource it points to has {a}")
    return PartyRef(
        name=first.name or second.name,
        npi=first.npi or second.npi,
        dea=first.dea or second.dea,
        ncpdp=first.ncpdp or second.ncpdp,
        state_license=first.state_license or second.state_license,
    )
