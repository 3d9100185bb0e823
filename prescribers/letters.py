"""The letter to a prescriber (PDF): the patient's taper plan, who prescribes the benzodiazepine, the
overlapping prescriptions this prescriber wrote, and a plain ask — consolidate benzodiazepine prescribing
under the prescriber of record, do not renew (and agree how to stop) overlapping benzodiazepines. The letter
asks; it never changes a dose, and neither does Stepdown.

A letter leaves the clinic only through `letter_send`: it makes the prescriber a Part 2 recipient the first
time (so a consent can name them), asks the disclosure gate, renders the letter with the §2.32 notice and an
explanation of the consent that permits the disclosure (required with every disclosure from 2026-02-16),
records the disclosure with the PDF's SHA-256 and a "letter" entry in the coordination log — all or
nothing. There is no fax or e-mail transport: staff download the exact recorded PDF and send it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from clinic.actors import ActorLike
from clinic.pdf import render_pdf
from patients.consent import rules as consent_rules
from patients.consent.models import Consent, Disclosure, Recipient
from patients.models import Patient
from prescribers import drugs, selectors, services
from prescribers.models import CoordinationEntry, Prescriber
from prescribers.selectors import MedicationLine

LETTER_DOCUMENT = "prescriber_letter"
# What the letter discloses: medication and taper information (the patient is identified by name, date of
# birth and MRN only, the identity any disclosure about a person carries; see taper.documents).
LETTER_CATEGORIES = ("medications",)
RECENT_DAYS = selectors.BENZO_ACTIVE_WINDOW_DAYS  # prescriptions that covered a day in the last 90 days


# --- the taper plan, as the letter states it -----------------------------------------------------------
@dataclass(frozen=True)
class StepFacts:
    start: datetime.date
    end: datetime.date | None
    doses: tuple[tuple[str, Decimal], ...]  # (drug, mg a day)
    hold: bool


@dataclass(frozen=True)
class PlanFacts:
    status: str
    status_label: str
    approved: bool
    version: int
    drugs: tuple[str, ...]
    first_day: datetime.date | None
    end_date: datetime.date
    final_de_mg: Decimal
    current: StepFacts | None
    next_step: StepFacts | None
    approved_by: str


def _step_facts(step) -> StepFacts:
    doses = tuple(sorted((drug, Decimal(mg)) for drug, mg in step.daily_mg_by_drug.items()))
    return StepFacts(start=step.start, end=step.end, doses=doses, hold=step.phase == "hold")


def plan_facts(patient: Patient, today: datetime.date) -> PlanFacts | None:
    """The patient's open taper plan: its drugs, the step in effect today and the next one. None: no plan."""
    from taper import selectors as taper_selectors

    plan = taper_selectors.open_plan_for(patient)
    if plan is None or plan.current_version is None:
        return None
    version = plan.current_version
    steps = taper_selectors.steps_of(version)
    current = next((s for s in steps if s.covers(today)), None)
    upcoming = next((s for s in steps if s.start > today), None)
    names = sorted({d for s in steps for d, mg in s.daily_mg_by_drug.items() if Decimal(mg) > 0})
    approver = version.approved_by or plan.approved_by
    return PlanFacts(
        status=plan.status,
        status_label=plan.get_status_display(),
        approved=plan.status in ("approved", "active"),
        version=version.number,
        drugs=tuple(names),
        first_day=steps[0].start if steps else None,
        end_date=version.end_date,
        final_de_mg=version.final_de_mg,
        current=_step_facts(current) if current else None,
        next_step=_step_facts(upcoming) if upcoming else None,
        approved_by=(approver.display_name or approver.email) if approver else "",
    )


# --- the prescriptions the letter is about --------------------------------------------------------------
@dataclass(frozen=True)
class Overlapping:
    line: MedicationLine
    with_lines: tuple[MedicationLine, ...]  # sedating medicines of other prescribers at the same time

    @property
    def others(self) -> list[str]:
        return sorted({o.prescriber_label or "another prescriber" for o in self.with_lines})


def _sedating(line: MedicationLine) -> bool:
    spec = drugs.classes().get(line.drug_class)
    return bool(spec and spec.cns_depressant)


def _meets(a: MedicationLine, b: MedicationLine) -> bool:
    far = datetime.date.max
    near = datetime.date.min
    return (a.start or near) <= (b.end or far) and (b.start or near) <= (a.end or far)


def _same_prescriber(a: MedicationLine, b: MedicationLine) -> bool:
    if a.program or b.program:
        return a.program and b.program
    return bool(a.prescriber_key) and a.prescriber_key == b.prescriber_key


def overlapping_prescriptions(
    lines: Sequence[MedicationLine], prescriber: Prescriber, today: datetime.date
) -> list[Overlapping]:
    """This prescriber's sedating prescriptions and fills (benzodiazepines first) that covered a day in the
    last 90 days and overlap a sedating medicine from someone else — another prescriber or the program's
    taper plan."""
    since = today - datetime.timedelta(days=RECENT_DAYS)
    mine = [
        line
        for line in lines
        if line.prescriber_id == str(prescriber.pk)
        and line.kind in ("medication", "dispensation")
        and _sedating(line)
        and (line.end is None or line.end >= since)
    ]
    found = []
    for line in mine:
        others = tuple(
            other
            for other in lines
            if other is not line
            and _sedating(other)
            and other.kind != "reported"
            and not _same_prescriber(line, other)
            and other.prescriber_id != line.prescriber_id
            and _meets(line, other)
        )
        if others:
            found.append(Overlapping(line, others))
    rank = drugs.CLASS_PRIORITY
    return sorted(
        found,
        key=lambda o: (
            o.line.drug_class != "benzodiazepine",
            rank.index(o.line.drug_class) if o.line.drug_class in rank else len(rank),
            -(o.line.start.toordinal() if o.line.start else 0),
        ),
    )


# --- the consent that permits the disclosure -------------------------------------------------------------
@dataclass(frozen=True)
class ConsentExplanation:
    """What a recipient is told about the consent (42 CFR 2.31 elements), so they know its scope."""

    purpose: str
    recipients: tuple[str, ...]
    general_designation: str
    information: tuple[str, ...]
    expiry: str
    signed_on: datetime.date
    signed_by: str
    disclosing_party: str
    revocation: str


def consent_explanation(consent: Consent) -> ConsentExplanation:
    purpose = consent.get_purpose_display()
    if consent.purpose == "other" and consent.purpose_other:
        purpose = f"{purpose}: {consent.purpose_other}"
    information = list(consent.category_labels)
    if consent.information_other:
        information.append(f"Described: {consent.information_other}")
    names = [
        f"{link.recipient.name}"
        + (f" ({link.recipient.organization})" if link.recipient.organization else "")
        for link in consent.recipient_links.select_related("recipient").order_by("recipient__name")
    ]
    signed_by = "the patient"
    if consent.signed_by == Consent.SignedBy.REPRESENTATIVE and consent.representative_name:
        signed_by = (
            f"{consent.representative_name} ({consent.representative_relationship}), authorized "
            "representative"
        )
    revocation = (
        "The patient may revoke this consent in writing at any time, except to the extent that action has "
        "been taken in reliance on it."
        if consent.purpose == "tpo"
        else "The patient may revoke this consent at any time, in writing or orally, except to the extent "
        "that action has been taken in reliance on it."
    )
    return ConsentExplanation(
        purpose=purpose,
        recipients=tuple(names),
        general_designation=consent_rules.GENERAL_DESIGNATION_TEXT if consent.general_designation else "",
        information=tuple(information),
        expiry=consent.expiry_label,
        signed_on=consent.signed_on,
        signed_by=signed_by,
        disclosing_party=consent.disclosing_party,
        revocation=revocation,
    )


# --- the letter -----------------------------------------------------------------------------------------
def letter_context(
    *,
    patient: Patient,
    prescriber: Prescriber,
    clinic,
    today: datetime.date,
    printed_by: str,
    note: str = "",
    purpose: str = "",
    consent: Consent | None = None,
    notice=None,
    lines: Iterable[MedicationLine] | None = None,
) -> dict[str, Any]:
    from taper.documents import clinic_phone

    lines = list(lines) if lines is not None else selectors.medication_list(patient)
    of_record = selectors.benzodiazepine_prescriber_of_record(patient)
    is_of_record = of_record is not None and of_record.prescriber_id == prescriber.pk
    overlapping = overlapping_prescriptions(lines, prescriber, today)
    return {
        "clinic": clinic,
        "clinic_phone": clinic_phone(clinic),
        "patient": patient,
        "prescriber": prescriber,
        "today": today,
        "printed_by": printed_by,
        "note": (note or "").strip(),
        "plan": plan_facts(patient, today),
        "of_record": of_record,
        "is_of_record": is_of_record,
        "overlapping": overlapping,
        "benzo_overlapping": [o for o in overlapping if o.line.drug_class == "benzodiazepine"],
        "other_overlapping": [o for o in overlapping if o.line.drug_class != "benzodiazepine"],
        "purpose_label": consent_rules.PURPOSES.get(purpose, purpose),
        "consent": consent_explanation(consent) if consent is not None else None,
        "notice": notice,
        "preview": consent is None,
        "recent_days": RECENT_DAYS,
    }


def render_letter(**kwargs: Any) -> bytes:
    return render_pdf("pdf/prescriber_letter.html", letter_context(**kwargs))


@dataclass(frozen=True)
class LetterSent:
    disclosure: Disclosure
    entry: CoordinationEntry
    content: bytes
    recipient: Recipient


def letter_send(
    *,
    actor: ActorLike,
    patient: Patient,
    prescriber: Prescriber,
    purpose: str,
    channel: str,
    clinic,
    today: datetime.date,
    printed_by: str,
    note: str = "",
) -> LetterSent:
    """Make the letter for `prescriber` and record it, or refuse and record nothing about the patient.

    The prescriber becomes a Part 2 recipient first (kept even when the gate refuses, so a consent can then
    name them). Then, atomically: the gate is asked (no document is made for a refused disclosure), the
    letter is rendered with the §2.32 notice and the explanation of the consent the gate relied on,
    `disclose` records exactly one accounting row with the document's SHA-256 (asking the gate again with
    the consents locked), and the coordination log gets a "letter" entry linked to that disclosure.
    Raises DisclosureRefused with the gate's reasons, ValidationError for bad input."""
    from patients.consent.services import DisclosureRefused, current_notice, disclose, may_disclose

    if prescriber.clinic_id != patient.clinic_id or not prescriber.is_active:
        raise ValidationError({"prescriber": ["Choose an active prescriber from the registry."]})
    if purpose not in consent_rules.PURPOSES:
        raise ValidationError({"purpose": ["Choose why the letter is sent."]})
    if channel not in Disclosure.Channel.values:
        raise ValidationError({"channel": ["Choose how you will send it."]})
    recipient = services.prescriber_recipient(actor=actor, prescriber=prescriber)
    with transaction.atomic():
        decision = may_disclose(
            patient=patient, recipient=recipient, purpose=purpose, information=LETTER_CATEGORIES
        )
        if not decision.allowed:
            raise DisclosureRefused(decision.reasons)
        consent = Consent.objects.get(pk=decision.consent_id)
        content = render_letter(
            patient=patient,
            prescriber=prescriber,
            clinic=clinic,
            today=today,
            printed_by=printed_by,
            note=note,
            purpose=purpose,
            consent=consent,
            notice=current_notice(),
        )
        disclosure = disclose(
            actor=actor,
            patient=patient,
            recipient=recipient,
            purpose=purpose,
            information=LETTER_CATEGORIES,
            channel=channel,
            description=f"Letter to {prescriber.display_name} about the taper plan and benzodiazepine "
            "prescribing, PDF"[:500],
            document=content,
        )
        if disclosure.consent_id != consent.pk:
            # The consents changed between the first answer and the locked one: the letter explains a
            # consent the record does not rely on. Roll back; sending again explains the right one.
            raise ValidationError("The patient's consents changed while the letter was made. Make it again.")
        entry = services.coordination_entry_add(
            actor=actor,
            patient=patient,
            kind=CoordinationEntry.Kind.LETTER,
            direction=CoordinationEntry.Direction.OUT,
            prescriber=prescriber,
            summary=f"Letter about the taper plan and consolidating benzodiazepine prescribing "
            f"({disclosure.get_channel_display().lower()}).",
            disclosure=disclosure,
        )
    return LetterSent(disclosure=disclosure, entry=entry, content=content, recipient=recipient)
