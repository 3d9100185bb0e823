"""The 42 CFR Part 2 consent decision, as pure data in and a plain-language answer out.

No Django here: `decide` is the whole rule, so tests/patients/consent/test_rules.py can test it exhaustively
(with Hypothesis) and every caller — a PDF sent to a prescriber, an API read by an outside system — gets
the same answer. The Django-facing gate is `patients.consent.services.may_disclose`, which only turns
database rows into `ConsentFacts` and calls `decide`.

Conventions, chosen to fail closed:
- dates are calendar days in the clinic's time zone;
- a consent is effective from the day it is signed;
- it is no longer valid ON its expiration date, its expiry event's date, or its revocation date.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

# --- vocabularies (codes are stored; labels are shown) ----------------------------------------------
PURPOSES: dict[str, str] = {
    "treatment": "Treatment",
    "payment": "Payment",
    "operations": "Health care operations",
    "tpo": "Treatment, payment and health care operations (single TPO consent)",
    "patient_request": "At the request of the patient",
    "other": "Other (described)",
}
# A TPO consent covers each of its three parts.
TPO_PARTS = frozenset({"treatment", "payment", "operations", "tpo"})

CATEGORIES: dict[str, str] = {
    "all_records": "All substance use disorder treatment records",
    "demographics": "Identifying and contact information (name, date of birth, MRN)",
    "medications": "Medication and taper information",
    "attendance": "Attendance",
    "assessments": "Assessment results",
    "diagnoses": "Diagnoses",
    "other": "Other information (described)",
    "counseling_notes": "SUD counseling notes",
}
COUNSELING_NOTES = "counseling_notes"
ALL_RECORDS = "all_records"

RECIPIENT_TYPES: dict[str, str] = {
    "prescriber": "Prescriber",
    "treating_provider": "Other treating provider",
    "health_plan": "Health plan / third-party payer",
    "program_operations": "Helps operate this program (business associate)",
    "family": "Family member or friend",
    "attorney": "Attorney",
    "employer": "Employer",
    "intermediary": "Health information exchange / intermediary",
    "other": "Other",
}
# §2.31(a)(4)(i): a TPO consent may name its recipients as "my treating providers, health plans, third-party
# payers, and people helping to operate this program". Intermediaries must always be named with their
# participants (§2.31(a)(4)(ii)), so the general designation never reaches them.
GENERAL_DESIGNATION_TEXT = (
    "my treating providers, health plans, third-party payers, and people helping to operate this program"
)
GENERAL_DESIGNATION_TYPES = frozenset(
    {"prescriber", "treating_provider", "health_plan", "program_operations"}
)

EXPIRY_KINDS: dict[str, str] = {
    "date": "On a date",
    "event": "When an event happens",
    "none": "No expiration (TPO consent only)",
}


@dataclass(frozen=True)
class ConsentFacts:
    """What the decision needs to know about one consent."""

    id: object
    purpose: str
    categories: frozenset[str]
    recipient_ids: frozenset = frozenset()
    general_designation: bool = False
    signed_on: datetime.date | None = None
    expiry_kind: str = "date"
    expires_on: datetime.date | None = None
    expiry_event: str = ""
    expiry_event_on: datetime.date | None = None
    revoked_on: datetime.date | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    consent_id: object = None
    reasons: list[str] = field(default_factory=list)


def _day(value: datetime.date) -> str:
    return f"{value:%b} {value.day}, {value.year}"


def status(consent: ConsentFacts, at: datetime.date) -> str:
    """draft / signed-but-not-yet-effective / active / expired / revoked, as of `at`."""
    if consent.revoked_on is not None and at >= consent.revoked_on:
        return "revoked"
    if consent.signed_on is None:
        return "draft"
    if at < consent.signed_on:
        return "pending"
    if expired_on(consent) is not None and at >= expired_on(consent):
        return "expired"
    return "active"


def expired_on(consent: ConsentFacts) -> datetime.date | None:
    if consent.expiry_kind == "date":
        return consent.expires_on
    if consent.expiry_kind == "event":
        return consent.expiry_event_on
    return None


def _covers_purpose(consent: ConsentFacts, purpose: str) -> bool:
    if consent.purpose == purpose:
        return True
    return consent.purpose == "tpo" and purpose in TPO_PARTS


def _covers_category(consent: ConsentFacts, category: str) -> bool:
    if category == COUNSELING_NOTES:
        return COUNSELING_NOTES in consent.categories
    return category in consent.categories or ALL_RECORDS in consent.categories


def _covers_recipient(consent: ConsentFacts, recipient_id, recipient_type: str | None) -> bool:
    if recipient_id in consent.recipient_ids:
        return True
    return consent.general_designation and recipient_type in GENERAL_DESIGNATION_TYPES


def _why_not(consent: ConsentFacts, *, recipient_id, recipient_type, purpose, categories, at) -> list[str]:
    """Every reason this one consent does not allow the disclosure (empty = it allows it)."""
    state = status(consent, at)
    if state == "revoked":
        return [f"revoked on {_day(consent.revoked_on)}"]
    if state == "draft":
        return ["not signed yet"]
    if state == "pending":
        return [f"not effective until {_day(consent.signed_on)}"]
    reasons = []
    if state == "expired":
        event = (
            f" ({consent.expiry_event})" if consent.expiry_kind == "event" and consent.expiry_event else ""
        )
        reasons.append(f"consent expired on {_day(expired_on(consent))}{event}")
    if not _covers_recipient(consent, recipient_id, recipient_type):
        if consent.general_designation and recipient_type == "intermediary":
            reasons.append("recipient not named: an information exchange must be named with its participants")
        else:
            reasons.append("recipient not named")
    if not _covers_purpose(consent, purpose):
        reasons.append(f"purpose {PURPOSES.get(purpose, purpose).lower()} not covered")
    missing = [c for c in sorted(categories) if not _covers_category(consent, c)]
    if missing:
        labels = ", ".join(CATEGORIES.get(c, c).lower() for c in missing)
        reasons.append(f"information not covered: {labels}")
    return reasons


def decide(
    consents: Iterable[ConsentFacts],
    *,
    recipient_id,
    purpose: str,
    information_categories: Iterable[str],
    at: datetime.date,
    recipient_type: str | None = None,
) -> Decision:
    """May information in `information_categories` go to this recipient for `purpose` on day `at`?

    Allowed only when ONE active consent (signed, effective, not revoked, not expired at `at`) covers the
    recipient (named, or the TPO general designation for a recipient type it fits), the purpose and every
    requested category. Otherwise the reasons say, in plain words, why each consent on file does not.
    """
    categories = frozenset(information_categories)
    if not categories:
        return Decision(False, None, ["say what information would be disclosed"])
    unknown = sorted(categories - set(CATEGORIES))
    if unknown or purpose not in PURPOSES:
        bad = [f"unknown information category {c!r}" for c in unknown]
        if purpose not in PURPOSES:
            bad.append(f"unknown purpose {purpose!r}")
        return Decision(False, None, bad)
    if COUNSELING_NOTES in categories and len(categories) > 1:
        return Decision(
            False,
            None,
            ["counseling notes need their own consent: request them separately from other information"],
        )
    consents = sorted(consents, key=lambda c: (c.signed_on or datetime.date.max, str(c.id)), reverse=True)
    if not consents:
        return Decision(False, None, ["no consent on file for this patient"])
    reasons: list[str] = []
    for consent in consents:
        problems = _why_not(
            consent,
            recipient_id=recipient_id,
            recipient_type=recipient_type,
            purpose=purpose,
            categories=categories,
            at=at,
        )
        if not problems:
            return Decision(True, consent.id, [])
        signed = f"signed {_day(consent.signed_on)}" if consent.signed_on else "unsigned"
        reasons.append(f"Consent {signed}: " + "; ".join(problems))
    return Decision(False, None, reasons)


def validate(
    *,
    purpose: str,
    purpose_other: str,
    categories: Iterable[str],
    information_other: str,
    general_designation: bool,
    has_named_recipients: bool,
    expiry_kind: str,
    expires_on: datetime.date | None,
    expiry_event: str,
    signed_on: datetime.date | None,
) -> dict[str, str]:
    """The §2.31 form rules a consent must meet, as {field: message}; empty when the consent is complete."""
    errors: dict[str, str] = {}
    categories = set(categories)
    if purpose not in PURPOSES:
        errors["purpose"] = "Choose the purpose of the disclosure."
    elif purpose == "other" and not purpose_other.strip():
        errors["purpose_other"] = "Describe the purpose."
    if not categories:
        errors["information_categories"] = "Say what information may be disclosed."
    elif categories - set(CATEGORIES):
        errors["information_categories"] = "Unknown information category."
    elif COUNSELING_NOTES in categories and len(categories) > 1:
        errors["information_categories"] = (
            "SUD counseling notes need their own separate consent: "
            "do not combine them with other information."
        )
    elif "other" in categories and not information_other.strip():
        errors["information_other"] = "Describe the other information."
    if not has_named_recipients and not general_designation:
        errors["recipients"] = "Name at least one recipient (or use the general TPO designation)."
    if general_designation and purpose not in TPO_PARTS:
        errors["general_designation"] = "The general designation may be used only for a TPO consent."
    if expiry_kind not in EXPIRY_KINDS:
        errors["expiry_kind"] = "Choose when the consent expires."
    elif expiry_kind == "date":
        if expires_on is None:
            errors["expires_on"] = "Give the expiration date."
        elif signed_on is not None and expires_on <= signed_on:
            errors["expires_on"] = "The consent must expire after the day it is signed."
    elif expiry_kind == "event" and not expiry_event.strip():
        errors["expiry_event"] = "Describe the event that ends the consent, e.g. “end of treatment”."
    elif expiry_kind == "none" and purpose != "tpo":
        errors["expiry_kind"] = "Only a single TPO consent may have no expiration date."
    return errors
