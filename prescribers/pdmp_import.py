"""Bring a state PDMP report into a patient's record: preview first, then commit all or nothing.

What may be kept follows the state's storage policy (PdmpStatePolicy), decided by the clinic admin because
state rules differ:
- raw: the fills become Dispensations (checked by the co-prescription rules) and the report is kept;
- pdf: only a PDF of the report is kept; a data file is shown in the preview but its fills are not stored;
- display: nothing of the report is kept; the import records that the report was reviewed, when and by whom.
A report with any problem is refused whole, with every problem named; the same report twice, or a fill
already on file, adds nothing. A report for a different name or date of birth needs an explicit
confirmation that it is this patient.
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit, audit_many
from clinic.tenancy.context import require_clinic
from patients.models import Patient
from prescribers import services
from prescribers.models import Dispensation, PdmpImport, PdmpStatePolicy
from prescribers.pdmp import csv_report, fhir_bundle
from prescribers.pdmp.records import DispensationRecord, ImportProblem, ParsedReport

MAX_BYTES = 10 * 1024 * 1024
FORMATS = ("fhir", "csv", "pdf")


@dataclass
class Preview:
    """What the clinician checks before committing."""

    format: str
    state: str
    storage: str
    sha256: str
    report: ParsedReport | None
    new: list[DispensationRecord] = field(default_factory=list)
    on_file: list[DispensationRecord] = field(default_factory=list)
    identity_warnings: list[str] = field(default_factory=list)
    already_imported: PdmpImport | None = None

    @property
    def problems(self) -> Sequence[ImportProblem]:
        return self.report.problems if self.report is not None else ()

    @property
    def keeps_fills(self) -> bool:
        return self.storage == PdmpStatePolicy.Storage.RAW and self.format in ("fhir", "csv")

    @property
    def what_is_kept(self) -> str:
        if self.storage == PdmpStatePolicy.Storage.DISPLAY:
            return "Nothing of the report is kept: Stepdown records that you reviewed it."
        if self.storage == PdmpStatePolicy.Storage.PDF:
            if self.format == "pdf":
                return "The PDF report is kept with the patient's record."
            return (
                "This state allows only the PDF report to be kept: the fills below are shown, not stored. "
                "Attach the PDF to keep the report."
            )
        if self.format == "pdf":
            return (
                "The PDF report is kept; add the fills it lists as medications if the rules should see them."
            )
        return (
            "The fills are stored and checked by the co-prescription rules; the report is kept as received."
        )


def _policy(state: str) -> PdmpStatePolicy:
    state = (state or "").strip().upper()
    if len(state) != 2 or not state.isalpha():
        raise ValidationError({"state": ["Choose the state whose PDMP the report came from."]})
    policy = PdmpStatePolicy.objects.filter(state=state).first()
    if policy is None:
        raise ValidationError(
            {
                "state": [
                    f"The clinic has not said what may be kept of {state} PDMP reports. A clinic admin sets "
                    "it under Prescribing settings (state rules differ: raw data, PDF only or display only)."
                ]
            }
        )
    return policy


def _parse(format: str, data: bytes) -> ParsedReport | None:
    if format == "fhir":
        return fhir_bundle.parse(data)
    if format == "csv":
        return csv_report.parse(data)
    if not data.startswith(b"%PDF-"):
        raise ValidationError({"file": ["This is not a PDF file."]})
    return None


def _identity_warnings(patient: Patient, report: ParsedReport | None) -> list[str]:
    if report is None:
        return []
    warnings = []
    if report.patient_birth_date and report.patient_birth_date != patient.date_of_birth:
        warnings.append(
            f"The report's date of birth is {report.patient_birth_date:%Y-%m-%d}; "
            f"{patient.display_name}'s is {patient.date_of_birth:%Y-%m-%d}."
        )
    name = " ".join((report.patient_name or "").lower().replace(",", " ").split())
    if name and patient.last_name.lower() not in name.split():
        warnings.append(
            f"The report names {report.patient_name}, not {patient.first_name} {patient.last_name}."
        )
    return warnings


def preview(*, patient: Patient, state: str, format: str, data: bytes) -> Preview:
    """Parse and compare with what is on file; writes nothing. Raises ValidationError for a file that
    cannot be read at all; a readable report with problems comes back with `problems` set."""
    if format not in FORMATS:
        raise ValidationError({"format": ["Choose FHIR bundle, CSV report or PDF."]})
    if not data:
        raise ValidationError({"file": ["The file is empty."]})
    if len(data) > MAX_BYTES:
        raise ValidationError({"file": [f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB."]})
    policy = _policy(state)
    if format != "pdf" and b"\x00" in data:
        raise ValidationError({"file": ["The file contains NUL bytes: it is not a text report."]})
    report = _parse(format, data)
    digest = hashlib.sha256(data).hexdigest()
    result = Preview(
        format=format,
        state=policy.state,
        storage=policy.storage,
        sha256=digest,
        report=report,
        identity_warnings=_identity_warnings(patient, report),
        already_imported=PdmpImport.objects.filter(patient=patient, report_sha256=digest).first(),
    )
    if report is not None and report.ok:
        on_file = set(
            Dispensation.objects.filter(
                patient=patient, fingerprint__in=[r.fingerprint() for r in report.records]
            ).values_list("fingerprint", flat=True)
        )
        for record in report.records:
            (result.on_file if record.fingerprint() in on_file else result.new).append(record)
    return result


def _problem_errors(problems: Sequence[ImportProblem]) -> ValidationError:
    lines = [f"{p.where}, {p.field}: {p.message}" if p.field else f"{p.where}: {p.message}" for p in problems]
    return ValidationError({"file": ["Nothing was imported: fix the report and try again.", *lines]})


@transaction.atomic
def commit(
    *,
    actor: ActorLike,
    patient: Patient,
    state: str,
    format: str,
    data: bytes,
    filename: str = "",
    queried_at: datetime.datetime | None = None,
    transaction_id: str = "",
    note: str = "",
    identity_confirmed: bool = False,
) -> PdmpImport:
    """Import the report as its state's policy allows, all or nothing. Returns the import row."""
    # One import per patient at a time: the second waits and then finds the fills already on file.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    result = preview(patient=patient, state=state, format=format, data=data)
    if result.problems:
        raise _problem_errors(result.problems)
    if result.already_imported is not None:
        when = result.already_imported.created_at
        raise ValidationError(
            {"file": [f"This report was already imported on {when:%Y-%m-%d %H:%M}; nothing added."]}
        )
    if result.identity_warnings and not identity_confirmed:
        raise ValidationError(
            {"identity_confirmed": [*result.identity_warnings, "Confirm the report is about this patient."]}
        )
    report, who = result.report, as_actor(actor)
    keeps_fills = result.keeps_fills
    storage = result.storage
    row = PdmpImport(
        clinic=require_clinic(),
        patient=patient,
        state=result.state,
        format=format
        if storage != PdmpStatePolicy.Storage.DISPLAY and (format == "pdf" or keeps_fills)
        else PdmpImport.Format.VIEWED,
        storage_policy=storage,
        queried_at=queried_at or (report.queried_at if report else None),
        transaction_id=(transaction_id or (report.transaction_id if report else ""))[:200],
        report_sha256=result.sha256 if storage != PdmpStatePolicy.Storage.DISPLAY else "",
        filename=(filename or "")[:255],
        raw=data.decode("utf-8") if keeps_fills else "",
        pdf=data if format == "pdf" and storage != PdmpStatePolicy.Storage.DISPLAY else None,
        patient_name_on_report=(report.patient_name if report else "")[:200],
        patient_birth_date_on_report=report.patient_birth_date if report else None,
        fill_count=len(report.records) if report else 0,
        new_fill_count=len(result.new) if keeps_fills else 0,
        note=(note or "").strip()[:1000],
        imported_by=who.user,
        imported_by_label=who.label[:254],
    )
    row.save()
    created = (
        _store_fills(actor=actor, patient=patient, pdmp_import=row, records=result.new) if keeps_fills else []
    )
    audit(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        obj=row,
        patient=patient,
        detail={"state": row.state, "format": row.format, "storage": storage, "new_fills": len(created)},
    )
    if created:
        services.changed([patient.pk])
    return row


def _store_fills(
    *, actor: ActorLike, patient: Patient, pdmp_import: PdmpImport, records: Sequence[DispensationRecord]
) -> list[Dispensation]:
    prescribers: dict[str, object] = {}
    pharmacies: dict[str, object] = {}
    rows = []
    for record in records:
        p, ph = record.prescriber, record.pharmacy
        # A party the report does not identify (key "") is kept by name on the fill, never registered.
        if p.key not in prescribers:
            prescribers[p.key] = (
                services.prescriber_resolve(actor=actor, name=p.name, npi=p.npi, dea=p.dea) if p.key else None
            )
        if ph.key not in pharmacies:
            pharmacies[ph.key] = (
                services.pharmacy_resolve(actor=actor, name=ph.name, npi=ph.npi, ncpdp=ph.ncpdp, dea=ph.dea)
                if ph.key
                else None
            )
        rows.append(
            Dispensation(
                id=uuid.uuid4(),
                clinic=require_clinic(),
                patient=patient,
                pdmp_import=pdmp_import,
                fingerprint=record.fingerprint(),
                filled_on=record.filled_on,
                written_on=record.written_on,
                supply_end=record.supply_end,
                drug_text=record.drug_text[:300],
                ndc=record.ndc,
                rxnorm=record.rxnorm,
                ingredient=record.ingredient or "",
                drug_class=record.drug_class or "",
                strength=record.strength,
                strength_unit=record.strength_unit or "",
                form=record.form[:40],
                quantity=record.quantity,
                quantity_unit=record.quantity_unit[:20],
                days_supply=record.days_supply,
                daily_amount=record.daily_amount,
                fill_number=record.fill_number,
                refills_authorized=record.refills_authorized,
                rx_number=record.rx_number[:40],
                payment_method=record.payment_method[:40],
                reported_mme=record.reported_mme,
                reported_lme=record.reported_lme,
                prescriber=prescribers[p.key],
                pharmacy=pharmacies[ph.key],
                prescriber_name=p.name[:200],
                pharmacy_name=ph.name[:200],
            )
        )
    created = Dispensation.objects.bulk_create(rows)
    audit_many(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        items=[
            {"obj": d, "patient": patient.pk, "detail": {"drug": d.drug_text, "filled_on": str(d.filled_on)}}
            for d in created
        ],
    )
    return created
