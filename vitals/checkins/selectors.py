"""Reads for daily check-ins, and THE way a patient's link token is resolved.

`checkin_link_open(token=…)` is the only code that turns a token from a URL into a link. The token is
signed (django.core.signing, a salt of its own) over the clinic id and the link id. The clinic named in
the token is entered with `tenant_context` *before* the link is looked up, so the lookup runs under that
clinic's scope and row-level security: a link of another clinic is simply not found. Nothing here writes.
"""

from __future__ import annotations

import datetime
import uuid
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.core import signing
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from clinic.tenancy.context import require_clinic, tenant_context
from clinic.tenancy.models import Clinic
from patients.models import Patient
from taper.models import TaperStep
from taper.selectors import step_on
from vitals.checkins import rules
from vitals.checkins.models import CheckIn, CheckInLink, CheckInSettings

TOKEN_SALT = "stepdown.checkins.link.v1"  # noqa: S105 - a signing salt, not a secret

# How many check-ins the staff panel shows; the full page shows more.
PANEL_CHECKINS = 7
PAGE_CHECKINS = 60


class LinkRefused(Exception):
    """The token cannot be used. `reason` is a sentence for the patient; `status` the HTTP status."""

    def __init__(self, kind: str, reason: str, status: int) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.status = status


INVALID = LinkRefused(
    "invalid",
    "This check-in link does not work. Check that you opened the whole link from your message, or ask "
    "your care team for a new one.",
    404,
)


def _invalid() -> LinkRefused:
    return LinkRefused(INVALID.kind, INVALID.reason, INVALID.status)


# --- tokens ----------------------------------------------------------------------------------------------
def _signer() -> signing.Signer:
    # No timestamp: the row decides expiry, and the same link always has the same URL.
    return signing.Signer(salt=TOKEN_SALT)


def checkin_link_token(link: CheckInLink) -> str:
    """The URL-safe token of a link: [clinic id, link id] signed with SECRET_KEY under this salt."""
    return _signer().sign_object([link.clinic_id, link.pk.hex])


def checkin_link_path(link: CheckInLink) -> str:
    return reverse("checkin-public:checkin", kwargs={"token": checkin_link_token(link)})


def _parse_token(token: str) -> tuple[int, uuid.UUID]:
    try:
        payload = _signer().unsign_object(token)
        clinic_id, link_hex = payload
        if isinstance(clinic_id, bool) or not isinstance(clinic_id, int) or not isinstance(link_hex, str):
            raise TypeError("bad payload")
        return clinic_id, uuid.UUID(hex=link_hex)
    except (signing.BadSignature, TypeError, ValueError) as error:
        raise _invalid() from error


@contextmanager
def checkin_link_open(*, token: str, now: datetime.datetime | None = None) -> Iterator[CheckInLink]:
    """Resolve a link token and run the block inside the link's clinic; LinkRefused if it cannot be used.

    Refusals: a bad signature or malformed token, an unknown clinic or link, a link that is not the
    clinic's the token names (404); a revoked or expired link (410). The check is made before the block
    runs and nothing is written by it.
    """
    clinic_id, link_id = _parse_token(token)
    clinic = Clinic.objects.filter(pk=clinic_id, is_active=True).first()
    if clinic is None:
        raise _invalid()
    with tenant_context(clinic):
        link = CheckInLink.objects.select_related("patient").filter(pk=link_id).first()
        if link is None or link.clinic_id != clinic.pk:
            raise _invalid()
        link.clinic = clinic  # already loaded; saves a query for the time zone
        status = link.status_at(now or timezone.now())
        if status == "revoked":
            raise LinkRefused(
                "revoked",
                "This check-in link has been turned off by your care team. Ask them for a new one if you "
                "still need to check in.",
                410,
            )
        if status == "expired":
            raise LinkRefused("expired", "This link has expired — ask your care team for a new one.", 410)
        yield link


# --- dates -----------------------------------------------------------------------------------------------
def clinic_zone(clinic: Clinic | None = None) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo((clinic or require_clinic()).timezone)


def local_day(at: datetime.datetime, clinic: Clinic | None = None) -> datetime.date:
    """The clinic's calendar day at instant `at`."""
    return timezone.localtime(at, clinic_zone(clinic)).date()


# --- check-ins -------------------------------------------------------------------------------------------
def checkin_on(*, patient: Patient | uuid.UUID, day: datetime.date) -> CheckIn | None:
    patient_id = getattr(patient, "pk", patient)
    return CheckIn.objects.filter(patient_id=patient_id, local_date=day).first()


def checkins_for_patient(*, patient_id, limit: int = PAGE_CHECKINS) -> list[CheckIn]:
    return list(
        CheckIn.objects.filter(patient_id=patient_id)
        .select_related("link")
        .order_by("-local_date", "-submitted_at")[:limit]
    )


def checkin_get(*, checkin_id) -> CheckIn:
    return get_object_or_404(CheckIn.objects.select_related("patient", "link"), pk=checkin_id)


# --- links -----------------------------------------------------------------------------------------------
def links_for_patient(*, patient_id) -> list[CheckInLink]:
    return list(
        CheckInLink.objects.filter(patient_id=patient_id)
        .select_related("created_by", "revoked_by")
        .order_by("-created_at", "id")
    )


def link_get(*, link_id) -> CheckInLink:
    return get_object_or_404(CheckInLink.objects.select_related("patient"), pk=link_id)


def checkin_settings_get() -> CheckInSettings:
    """The clinic's settings, or an unsaved default (nothing is written by a read)."""
    found = CheckInSettings.objects.first()
    return found if found is not None else CheckInSettings(clinic=require_clinic())


# --- the taper plan for a day ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PlannedDose:
    drug: str
    mg: Decimal
    when: str  # "in the morning", "at night", …


@dataclass(frozen=True)
class DayPlan:
    """What the active taper plan says for one day, in the words the patient sees."""

    step: TaperStep
    doses: tuple[PlannedDose, ...]
    mg_by_drug: dict[str, Decimal]

    @property
    def drugs(self) -> list[str]:
        return list(self.mg_by_drug)

    @property
    def sentence(self) -> str:
        if not self.doses:
            return "No benzodiazepine doses are planned for today."
        parts = []
        for drug in dict.fromkeys(d.drug for d in self.doses):
            times = [f"{_mg(d.mg)} mg {d.when}" for d in self.doses if d.drug == drug]
            parts.append(f"{drug} " + ", ".join(times))
        return "; ".join(parts)


def _mg(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _time_words(value: str) -> str:
    try:
        hour = datetime.time.fromisoformat(str(value)).hour
    except ValueError:
        return ""
    if 5 <= hour < 12:
        return "in the morning"
    if 12 <= hour < 17:
        return "in the afternoon"
    if 17 <= hour < 21:
        return "in the evening"
    return "at night"


def day_plan(*, patient: Patient, day: datetime.date) -> DayPlan | None:
    """The patient's planned doses for `day` from the active taper plan; None when there is no plan."""
    step = step_on(patient=patient, day=day)
    if step is None:
        return None
    doses = []
    totals: dict[str, Decimal] = {}
    for dose in sorted(step.doses, key=lambda d: str(d.get("time", ""))):
        mg = Decimal(str(dose.get("mg", "0")))
        totals[dose["drug"]] = totals.get(dose["drug"], Decimal(0)) + mg
        if mg > 0:
            doses.append(PlannedDose(drug=dose["drug"], mg=mg, when=_time_words(dose.get("time", ""))))
    return DayPlan(step=step, doses=tuple(doses), mg_by_drug=totals)


# --- guidance as shown -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class GuidanceShown:
    level: str  # "emergency", "call_team" or ""
    reasons: tuple[str, ...]  # why, for the rules that set the level
    contacts: tuple[rules.Contact, ...]  # emergency numbers to show, most relevant first
    notes: tuple[str, ...]  # every fired rule, in staff words


def guidance_shown(checkin: CheckIn) -> GuidanceShown:
    """The guidance a check-in gave, rebuilt from its stored level and flags (no query)."""
    data = rules.guidance_rules()
    by_id = {rule.id: rule for rule in data.rules}
    fired = [by_id[flag] for flag in checkin.flags if flag in by_id]
    deciding = [rule for rule in fired if checkin.guidance and rule.level == checkin.guidance]
    contact_ids: list[str] = []
    for rule in deciding:
        contact_ids += [c for c in rule.contacts if c not in contact_ids]
    return GuidanceShown(
        level=checkin.guidance,
        reasons=tuple(rule.reason for rule in deciding),
        contacts=tuple(data.contact(c) for c in contact_ids),
        notes=tuple(rule.label for rule in fired),
    )
