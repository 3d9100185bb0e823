"""Taper plan documents (PDF): the patient's calendar and the prescriber's clinical summary.

* The **calendar** is for the patient's fridge: every day from the first step to the start of the last one,
  what to take at each time in tablets or mL (taper.patient_wording), hold days and the first day of each
  new dose marked, the clinic's name and phone. No diazepam-equivalent numbers: patients count tablets.
* The **clinical summary** is for prescribers: the schedule with doses, daily mg and diazepam equivalents,
  the equivalence table used with every value's status and source, the guideline cap, overrides with their
  reasons, unverified facts, the version history, doses taken vs planned and the progress chart.

Both render through clinic.pdf (WeasyPrint with the static-only fetcher). Printing inside the clinic is
audited by the views (PRINT). Sending the summary outside the clinic goes through `summary_send`, which
asks the Part 2 consent gate and records the disclosure (patients.consent.services.disclose) — there is no
fax or e-mail transport: staff download the PDF and send it themselves.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from clinic.actors import ActorLike
from clinic.pdf import render_pdf
from taper import dates
from taper import patient_wording as wording
from taper.catalogue import Catalogue, EquivalenceTable, Formulation, Status
from taper.engine import Phase
from taper.errors import TaperInputError
from taper.models import TaperPlan, TaperPlanVersion, TaperSettings, TaperStep

logger = logging.getLogger(__name__)

CALENDAR_DOCUMENT = "taper_calendar"
SUMMARY_DOCUMENT = "taper_summary"
# What the summary discloses, as consent information categories. It identifies the patient only by name,
# date of birth and MRN (minimum necessary: the identity any disclosure about a person carries), so the
# information disclosed is the medication and taper information.
SUMMARY_CATEGORIES = ("medications",)

STATUS_LABELS = {
    Status.VERIFIED.value: "Verified (primary source)",
    Status.SECONDARY.value: "Secondary sources only",
    Status.UNVERIFIED.value: "UNVERIFIED — check before relying on it",
}


# --- shared lookups ---------------------------------------------------------------------------------------
def _catalogue() -> Catalogue:
    from taper.formulary import clinic_catalogue

    return clinic_catalogue()[0]


def _lookup(catalogue: Catalogue):
    def find(formulation_id: str) -> Formulation | None:
        try:
            return catalogue.formulation(formulation_id)
        except TaperInputError:  # an old version may name a formulation the clinic has since removed
            return None

    return find


def clinic_phone(clinic) -> str:
    """The phone number printed for patients. Read from whichever place the clinic keeps it (a `phone` on
    the clinic or `calendar_phone` in the taper settings, once either exists); empty = a write-in line."""
    phone = getattr(clinic, "phone", "") or ""
    if not phone:
        settings_row = TaperSettings.objects.first()
        phone = getattr(settings_row, "calendar_phone", "") or ""
    return phone


def _steps(version: TaperPlanVersion) -> list[TaperStep]:
    return list(TaperStep.objects.filter(version=version).order_by("index"))


# --- the patient's calendar -------------------------------------------------------------------------------
@dataclass
class CalendarStep:
    index: int
    number: int  # 1-based, counting only the steps the patient sees
    start: datetime.date
    end: datetime.date | None
    lines: list[wording.TimeLine]
    short_lines: list[wording.TimeLine]
    is_hold: bool
    stopped: list[str]  # drugs the patient stops from this step on
    note: str = ""

    @property
    def days(self) -> int | None:
        return None if self.end is None else (self.end - self.start).days + 1

    @property
    def when(self) -> str:
        if self.end is None:
            return f"From {dates.long_date(self.start)}"
        return f"{dates.long_date(self.start)} to {dates.long_date(self.end)}"


@dataclass
class CalendarDay:
    day: datetime.date
    step: CalendarStep
    is_step_start: bool
    is_first: bool
    is_last: bool

    @property
    def is_hold(self) -> bool:
        return self.step.is_hold

    @property
    def marker(self) -> str:
        if self.is_first:
            return "First day"
        if self.is_step_start and self.is_hold:
            return "Hold: same dose"
        if self.is_step_start:
            return "New dose today"
        if self.is_hold:
            return "Hold"
        return ""


@dataclass
class CalendarMonth:
    """One month as a grid: weeks of seven squares (Sunday first); None outside the taper's days."""

    title: str
    days: list[CalendarDay] = field(default_factory=list)

    @property
    def weeks(self) -> list[list[CalendarDay | None]]:
        if not self.days:
            return []
        first = self.days[0].day
        lead = (first.weekday() + 1) % 7  # Sunday = 0
        cells: list[CalendarDay | None] = [None] * lead + list(self.days)
        cells += [None] * (-len(cells) % 7)
        return [cells[i : i + 7] for i in range(0, len(cells), 7)]


def _taken_drugs(step: TaperStep) -> set[str]:
    return {d["drug"] for d in step.doses if Decimal(str(d["mg"])) > 0}


def calendar_steps(steps: Sequence[TaperStep], lookup) -> list[CalendarStep]:
    out: list[CalendarStep] = []
    previous: set[str] = set()
    for number, step in enumerate(steps, start=1):
        taken = _taken_drugs(step)
        stopped = sorted(previous - taken)
        is_last = number == len(steps)
        note = ""
        if is_last and step.end is None:
            if "open_hold" in step.flags:
                note = "Keep taking this dose every day until your care team tells you the next step."
            elif not taken:
                note = "You have finished the taper. Do not take any more of this medicine."
            else:
                note = "Keep taking this dose every day until your care team tells you otherwise."
        out.append(
            CalendarStep(
                index=step.index,
                number=number,
                start=step.start,
                end=step.end,
                lines=wording.day_lines(step.doses, lookup),
                short_lines=wording.day_lines(step.doses, lookup, short=True),
                is_hold=step.phase == Phase.HOLD.value,
                stopped=stopped,
                note=note,
            )
        )
        previous = taken
    return out


def calendar_days(steps: Sequence[CalendarStep]) -> list[CalendarDay]:
    """Every day from the first step's start to the last step's start, with the step in effect."""
    if not steps:
        return []
    first, last = steps[0].start, steps[-1].start
    days: list[CalendarDay] = []
    position = 0
    day = first
    while day <= last:
        while position + 1 < len(steps) and steps[position + 1].start <= day:
            position += 1
        step = steps[position]
        days.append(
            CalendarDay(
                day=day,
                step=step,
                is_step_start=day == step.start,
                is_first=day == first,
                is_last=day == last,
            )
        )
        day += datetime.timedelta(days=1)
    return days


def calendar_months(days: Sequence[CalendarDay]) -> list[CalendarMonth]:
    months: list[CalendarMonth] = []
    for entry in days:
        title = f"{entry.day:%B %Y}"
        if not months or months[-1].title != title:
            months.append(CalendarMonth(title))
        months[-1].days.append(entry)
    return months


def _calendar_warning(plan: TaperPlan) -> str:
    status = TaperPlan.Status
    if plan.status in (status.DRAFT, status.PROPOSED):
        return "DRAFT — this plan is not approved yet. Do not follow it until your care team gives it to you."
    if plan.status in (status.STOPPED, status.COMPLETED):
        closed = f" on {dates.short_date(plan.closed_at)}" if plan.closed_at else ""
        return (
            f"This plan was {plan.get_status_display().lower()}{closed}. Ask your care team what to take now."
        )
    return ""


def calendar_context(plan: TaperPlan, *, clinic, printed_on: datetime.date) -> dict[str, Any]:
    plan = TaperPlan.objects.select_related("patient", "current_version").get(pk=plan.pk)
    version = plan.current_version
    lookup = _lookup(_catalogue())
    steps = calendar_steps(_steps(version), lookup)
    days = calendar_days(steps)
    return {
        "clinic": clinic,
        "clinic_phone": clinic_phone(clinic),
        "patient": plan.patient,
        "plan": plan,
        "version": version,
        "steps": steps,
        "days": days,
        "first_day": days[0].day if days else None,
        "last_day": days[-1].day if days else None,
        "months": calendar_months(days),
        "warning": _calendar_warning(plan),
        "printed_on": printed_on,
    }


def render_calendar(plan: TaperPlan, *, clinic, printed_on: datetime.date) -> bytes:
    return render_pdf("pdf/taper_calendar.html", calendar_context(plan, clinic=clinic, printed_on=printed_on))


# --- the clinical summary ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FormulationUsed:
    id: str
    description: str
    status: str
    status_label: str
    source: str
    split: str
    split_status: str
    split_source: str
    unverified: bool


def formulations_used(steps: Sequence[TaperStep], catalogue: Catalogue) -> list[FormulationUsed]:
    ids: dict[str, None] = {}
    for step in steps:
        for dose in step.doses:
            for fid, _count in dose.get("tablets") or ():
                ids[fid] = None
            if dose.get("liquid"):
                ids[dose["liquid"][0]] = None
        for item in step.dispense:
            ids[item["formulation_id"]] = None
    found = []
    lookup = _lookup(catalogue)
    for fid in ids:
        form = lookup(fid)
        if form is None:
            found.append(
                FormulationUsed(fid, fid, "U", "No longer in the formulary", "", "", "", "", unverified=True)
            )
            continue
        found.append(
            FormulationUsed(
                id=fid,
                description=form.describe(),
                status=form.status.value,
                status_label=STATUS_LABELS[form.status.value],
                source=form.source or "",
                split="" if form.is_liquid else form.split.value,
                split_status=form.split_status.value if form.split_status else "",
                split_source=form.split_source or "",
                unverified=form.unverified,
            )
        )
    return sorted(found, key=lambda f: f.description)


@dataclass(frozen=True)
class Override:
    version: int
    reason: str
    violations: list[str]
    steps: list[int]


def cap_overrides(versions: Sequence[TaperPlanVersion], steps: Sequence[TaperStep]) -> list[Override]:
    """Every version that overrode the guideline cap, with its written reason and the steps over the cap."""
    current_steps = [s.index for s in steps if "cap_override" in s.flags]
    current = max((v.number for v in versions), default=0)
    out = []
    for version in sorted(versions, key=lambda v: v.number):
        if version.override_reason or version.violations:
            out.append(
                Override(
                    version=version.number,
                    reason=version.override_reason,
                    violations=list(version.violations),
                    steps=current_steps if version.number == current else [],
                )
            )
    return out


def _chart_svg(plan: TaperPlan, steps: Sequence[TaperStep], records: Sequence[Any], today) -> str:
    """The planned-vs-taken chart of the progress page (taper.charts), from the rows already loaded."""
    from taper.charts import taper_chart_svg

    try:
        return taper_chart_svg(plan, steps=steps, records=records, today=today, width=720, height=320)
    except Exception:  # a chart bug must not stop a clinical document; the table below gives the figures
        logger.exception("taper chart failed for plan %s", plan.pk)
        return ""


def summary_context(
    plan: TaperPlan,
    *,
    clinic,
    today: datetime.date,
    printed_by: str,
    recipient=None,
    purpose: str = "",
    notice=None,
) -> dict[str, Any]:
    from patients.consent import rules
    from taper import presentation
    from taper.selectors import dose_records, plan_for_page, step_progress

    plan = plan_for_page(plan.pk)
    version = plan.current_version
    versions = list(plan.versions.all())  # newest first (prefetched)
    catalogue = _catalogue()
    steps = _steps(version)
    rows = presentation.stored_rows(steps, catalogue, today)
    first_version = versions[-1]
    drugs = presentation.drugs_in(rows) | {line["drug"] for v in versions for line in v.regimen}
    table = presentation.table_used(version.table, drugs)
    records = dose_records(plan)
    progress = [p for p in step_progress(steps, records, today) if p.step.start <= today]
    return {
        "clinic": clinic,
        "patient": plan.patient,
        "plan": plan,
        "version": version,
        "versions": versions,
        "first_version": first_version,
        "rows": rows,
        "table": table,
        "other_table": EquivalenceTable(version.other_table).label if version.other_table else "",
        "warnings": presentation.warning_items(version.warnings),
        "status_labels": STATUS_LABELS,
        "formulations": formulations_used(steps, catalogue),
        "overrides": cap_overrides(versions, steps),
        "records": records,
        "last_record_day": records[-1].day if records else None,
        "cap": presentation.cap(),
        "progress": progress,
        "records_off_plan": sum(p.days_off_plan for p in progress),
        "chart_svg": _chart_svg(plan, steps, records, today),
        "today": today,
        "printed_by": printed_by,
        "recipient": recipient,
        "purpose_label": rules.PURPOSES.get(purpose, purpose),
        "notice": notice,
    }


def render_summary(plan: TaperPlan, **kwargs: Any) -> bytes:
    return render_pdf("pdf/taper_summary.html", summary_context(plan, **kwargs))


@transaction.atomic
def summary_send(
    *,
    actor: ActorLike,
    plan: TaperPlan,
    recipient,
    purpose: str,
    channel: str,
    clinic,
    today: datetime.date,
    printed_by: str,
):
    """Make the summary for `recipient` and record the disclosure, or refuse and record nothing.

    The gate is asked first (no document is made for a refused disclosure); the document carries the §2.32
    notice; then `disclose` asks the gate again with the consents locked and writes exactly one accounting
    row (and its DISCLOSE audit event) with the document's SHA-256. Raises DisclosureRefused with the
    gate's reasons. Returns (disclosure, pdf bytes): the caller offers the bytes for download."""
    from patients.consent.services import DisclosureRefused, current_notice, disclose, may_disclose

    decision = may_disclose(
        patient=plan.patient, recipient=recipient, purpose=purpose, information=SUMMARY_CATEGORIES
    )
    if not decision.allowed:
        raise DisclosureRefused(decision.reasons)
    content = render_summary(
        plan,
        clinic=clinic,
        today=today,
        printed_by=printed_by,
        recipient=recipient,
        purpose=purpose,
        notice=current_notice(),
    )
    disclosure = disclose(
        actor=actor,
        patient=plan.patient,
        recipient=recipient,
        purpose=purpose,
        information=SUMMARY_CATEGORIES,
        channel=channel,
        description=f"Taper plan clinical summary (version {plan.current_version.number}), PDF",
        document=content,
    )
    return disclosure, content
