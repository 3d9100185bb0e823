"""Browser views for taper progress: the progress page (planned vs taken chart, per-step table, recent
doses), recording the dose a patient took (nurse; one-click "as planned" or amounts per drug), and the
psychiatrist's review queue.

Thin: `taper.selectors` reads (a fixed number of queries whatever the number of steps or records),
`taper.services.dose_record` decides and writes (and audits), `taper.charts` draws.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from taper import dates, presentation, selectors, services
from taper.catalogue import load_catalogue
from taper.charts import taper_chart_svg
from taper.forms_progress import DoseForm, ReviewWindowForm
from taper.models import DoseRecord, TaperPlan, TaperStep

RECENT = 14  # dose records listed under the chart (the chart and the step table show them all)
COMPACT_RECENT = 7
REASON_LABELS = {
    "awaiting_approval": "Awaiting approval",
    "held": "Held",
    "withdrawal_rising": "Withdrawal scores rising",
    "step_due": "Next step due",
}


# --- helpers ------------------------------------------------------------------------------------------------
def _plan(plan_id) -> TaperPlan:
    try:
        return TaperPlan.objects.select_related("patient", "current_version").get(pk=plan_id)
    except TaperPlan.DoesNotExist:
        raise Http404("No such plan") from None


def _drugs(plan: TaperPlan, steps: list[TaperStep]) -> list[str]:
    """The drugs a nurse may record for this plan: those in its steps, then the starting regimen's."""
    seen: dict[str, None] = {}
    for step in steps:
        for dose in step.doses:
            seen.setdefault(dose["drug"], None)
    for line in plan.current_version.regimen if plan.current_version else ():
        seen.setdefault(str(line.get("drug", "")), None)
    return [d for d in seen if d]


def _step_on(steps: list[TaperStep], day: datetime.date) -> TaperStep | None:
    return next((s for s in steps if s.covers(day)), None)


def _may_record(request: HttpRequest, plan: TaperPlan) -> bool:
    return plan.status == TaperPlan.Status.ACTIVE and request.membership.allows(Perm.TAPER_RECORD_DOSE)


@dataclass
class RecordRow:
    record: DoseRecord
    planned: str
    taken: str
    difference: str  # "" when taken as planned
    drugs: str


def _record_rows(records: list[DoseRecord]) -> list[RecordRow]:
    rows = []
    for r in records:
        planned = r.planned_de_mg
        diff = ""
        if planned is not None and r.de_mg != planned:
            delta = r.de_mg - planned
            diff = f"{'+' if delta > 0 else '−'}{presentation.mg(abs(delta))}"
        drugs = ", ".join(f"{drug} {presentation.mg(mg)} mg" for drug, mg in sorted(r.mg_by_drug.items()))
        rows.append(RecordRow(r, presentation.mg(planned), presentation.mg(r.de_mg), diff, drugs or "none"))
    return rows


def _step_rows(steps, records, today) -> list[dict[str, Any]]:
    rows = []
    shown = [s for s in steps if s.start <= today]
    shown += [s for s in steps if s.start > today][:1]  # and the next one; the rest are on the plan page
    for p in selectors.step_progress(shown, records, today):
        step = p.step
        started = step.start <= today
        if step.end is not None and step.end < today:
            days_so_far = (step.end - step.start).days + 1
        elif started:
            days_so_far = (today - step.start).days + 1
        else:
            days_so_far = 0
        rows.append(
            {
                "step": step,
                "phase_label": presentation.PHASE_LABELS.get(step.phase, step.phase),
                "started": started,
                "current": step.covers(today),
                "planned": presentation.mg(step.daily_de_mg),
                "days_so_far": days_so_far,
                "days_recorded": p.days_recorded,
                "days_missing": max(0, days_so_far - p.days_recorded),
                "mean": presentation.mg(p.mean_actual_de_mg.normalize())
                if p.mean_actual_de_mg is not None
                else "",
                "off": p.days_off_plan,
            }
        )
    return rows


def _dose_form_context(
    request: HttpRequest,
    plan: TaperPlan,
    steps: list[TaperStep],
    records: list[DoseRecord],
    today: datetime.date,
    *,
    form: DoseForm | None = None,
    saved: DoseRecord | None = None,
    where: str = "progress",
) -> dict[str, Any]:
    drugs = _drugs(plan, steps)
    if form is None:
        form = DoseForm(drugs=drugs, today=today, initial={"day": today})
    today_step = _step_on(steps, today)
    today_record = next((r for r in records if r.day == today), None)
    planned_today = None
    if today_step is not None:
        planned_today = {
            "by_drug": [(d, presentation.mg(mg)) for d, mg in today_step.daily_mg_by_drug.items()],
            "de": presentation.mg(today_step.daily_de_mg),
        }
    return {
        "plan": plan,
        "dose_form": form,
        "dose_url": clinic_reverse("taper:dose-record", plan_id=plan.pk),
        "today": today,
        "today_step": today_step,
        "planned_today": planned_today,
        "today_record": today_record,
        "saved": saved,
        "where": where,
        "catalogue_drugs": sorted(load_catalogue().drugs),
        "table_label": plan.current_version.table_label,
    }


def _progress_context(
    request: HttpRequest, plan: TaperPlan, today: datetime.date, *, whole_plan: bool = False, **dose: Any
) -> dict[str, Any]:
    version = plan.current_version
    steps = selectors.steps_of(version)
    records = selectors.dose_records(plan)
    drugs = {d["drug"] for s in steps for d in s.doses} | {r["drug"] for r in version.regimen}
    started_steps = [s for s in steps if s.start <= today]
    days_so_far = sum(((min(s.end, today) if s.end else today) - s.start).days + 1 for s in started_steps)
    recorded_to_date = [r for r in records if r.day <= today]
    context: dict[str, Any] = {
        "plan": plan,
        "patient": plan.patient,
        "version": version,
        "today": today,
        # Safe: every text in the SVG is escaped by clinic.charts.
        "chart_svg": mark_safe(
            taper_chart_svg(plan, steps=steps, records=records, today=today, whole_plan=whole_plan)
        ),
        "whole_plan": whole_plan,
        "step_rows": _step_rows(steps, records, today),
        "steps_total": len(steps),
        "record_rows": _record_rows(list(reversed(records))[:RECENT]),
        "records_total": len(records),
        "summary": {
            "days_so_far": days_so_far,
            "days_recorded": len(recorded_to_date),
            "days_off_plan": sum(
                1 for r in recorded_to_date if r.planned_de_mg is not None and r.de_mg != r.planned_de_mg
            ),
            "current": _step_on(steps, today),
        },
        "table": presentation.table_used(version.table, drugs),
        "may_record": _may_record(request, plan),
    }
    if context["may_record"]:
        context.update(_dose_form_context(request, plan, steps, records, today, **dose))
    return context


# --- progress page ------------------------------------------------------------------------------------------
@require_perm(Perm.TAPER_VIEW)
@require_GET
def progress_view(request: HttpRequest, plan_id) -> HttpResponse:
    plan = _plan(plan_id)
    if plan.current_version is None:
        raise Http404("This plan has no schedule yet")
    today = selectors.clinic_today()
    context = _progress_context(request, plan, today, whole_plan=request.GET.get("whole") == "1")
    audit(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        obj=plan,
        patient=plan.patient,
        detail={"view": "taper progress", "version": plan.current_version.number},
    )
    return render(request, "taper/progress.html", context)


# --- recording a dose ---------------------------------------------------------------------------------------
def _apply_dose_errors(form: DoseForm, error: ValidationError) -> None:
    other = (form.cleaned_data.get("other_drug") or "").strip().lower()
    apply_errors(form, error, field_for=lambda field, problem: _error_field(form, field, problem, other))


def _error_field(form: DoseForm, field: str, problem: str, other: str) -> str | None:
    """The form field a service error is about: the day, the drug's amount it names, or the "another
    medication" entry; None (the form as a whole) otherwise."""
    if field == "day":
        return "day"
    if field != "mg_by_drug":
        return None
    text = problem.lower()
    for name, drug in form.drug_fields:
        if text.startswith(f"{drug.lower()}:"):
            return name
    if other and other in text:
        return "other_drug"
    return None


def _compact_context(
    request: HttpRequest, plan: TaperPlan, today: datetime.date, **dose: Any
) -> dict[str, Any]:
    steps = selectors.steps_of(plan.current_version)
    records = selectors.dose_records(plan)
    return {
        "patient": plan.patient,
        "version": plan.current_version,
        "record_rows": _record_rows(list(reversed(records))[:COMPACT_RECENT]),
        "records_total": len(records),
        "compact": True,
        **_dose_form_context(request, plan, steps, records, today, where="compact", **dose),
    }


@require_perm(Perm.TAPER_RECORD_DOSE)
@require_http_methods(["GET", "POST"])
def dose_record_view(request: HttpRequest, plan_id) -> HttpResponse:
    """GET: the compact dose form (a page, or the bare form for htmx). POST: record, then show the updated
    records (htmx: the form plus out-of-band swaps of the table and chart; otherwise redirect back)."""
    plan = _plan(plan_id)
    today = selectors.clinic_today()
    where = "compact" if request.POST.get("where", request.GET.get("where")) == "compact" else "progress"
    if plan.status != TaperPlan.Status.ACTIVE:
        if request.method == "POST" and not request.htmx:
            return render(
                request, "taper/dose_closed.html", {"plan": plan, "patient": plan.patient}, status=400
            )
        return render(request, "taper/dose_closed.html", {"plan": plan, "patient": plan.patient})
    if request.method == "GET":
        audit(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            obj=plan,
            patient=plan.patient,
            detail={"view": "taper dose entry"},
        )
        context = _compact_context(request, plan, today)
        if request.htmx and not request.htmx.boosted:
            return render(request, "taper/dose_entry.html", context)
        return render(request, "taper/dose.html", context)

    as_planned = request.POST.get("action") == "as_planned"
    steps = selectors.steps_of(plan.current_version)
    form = DoseForm(request.POST, drugs=_drugs(plan, steps), today=today, as_planned=as_planned)
    record = None
    if form.is_valid():
        try:
            record = services.dose_record(
                actor=request.user,
                plan=plan,
                day=form.cleaned_data["day"],
                source=DoseRecord.Source.NURSE,
                as_planned=True if as_planned else None,
                mg_by_drug=None if as_planned else form.mg_by_drug(),
                note=form.cleaned_data.get("note") or "",
            )
        except ValidationError as error:
            _apply_dose_errors(form, error)
    if record is not None:
        day = record.day
        what = (
            "as planned" if record.as_planned else f"{presentation.mg(record.de_mg)} mg diazepam-equivalent"
        )
        text = f"Recorded for {dates.long_date(day)}: {what}."
        if request.htmx and not request.htmx.boosted:
            context = (
                _compact_context(request, plan, today, saved=record)
                if where == "compact"
                else _progress_context(request, plan, today, saved=record)
            )
            context["saved_text"] = text
            return render(request, "taper/dose_saved.html", context)
        messages.success(request, text)
        name = "taper:dose-record" if where == "compact" else "taper:progress"
        return redirect(clinic_reverse(name, plan_id=plan.pk))

    # Bad input: the form again with its errors; nothing was written.
    if request.htmx and not request.htmx.boosted:
        # 200 so htmx swaps the form in place (it does not swap 4xx responses by default).
        context = (
            _compact_context(request, plan, today, form=form)
            if where == "compact"
            else _progress_context(request, plan, today, form=form)
        )
        return render(request, "taper/dose_entry.html", context)
    if where == "compact":
        return render(
            request, "taper/dose.html", _compact_context(request, plan, today, form=form), status=400
        )
    context = _progress_context(request, plan, today, form=form)
    return render(request, "taper/progress.html", context, status=400)


def _when_text(due: datetime.date | None, today: datetime.date) -> str:
    if due is None:
        return ""
    n = (due - today).days
    if n == 0:
        return "today"
    if n > 0:
        return f"in {n} day{'s' if n != 1 else ''}"
    return f"{-n} day{'s' if n != -1 else ''} ago"


# --- review queue -------------------------------------------------------------------------------------------
REVIEW_PAGE_SIZE = 50
_ANY_UUID = "00000000-0000-0000-0000-000000000000"


def _url_prefix(viewname: str, **kwargs: str) -> str:
    """The part of a URL before the id, reversed once per page (not per row): "/c/x/taper/plans/"."""
    return clinic_reverse(viewname, **kwargs).split(_ANY_UUID)[0]


def _page_url(request: HttpRequest, param: str, number: int) -> str:
    query = request.GET.copy()
    query[param] = str(number)
    return f"?{query.urlencode()}#review-{param.removesuffix('_page')}"


def _review_section(request: HttpRequest, reason: str, today: datetime.date, days: int) -> dict[str, Any]:
    """One section's page: `?<reason>_page=N` (a bad or out-of-range number shows the first or last page)."""
    param = f"{reason}_page"
    paginator = Paginator(selectors.review_section(reason, today=today, days_ahead=days), REVIEW_PAGE_SIZE)
    page = paginator.get_page(request.GET.get(param))
    rows = []
    for row in page.object_list:
        item = selectors.review_item(reason, row)
        rows.append(
            {
                "item": item,
                "plan": item.plan,
                "patient": item.plan.patient,
                "reason_label": REASON_LABELS[reason],
                "overdue": reason == "step_due" and item.due is not None and item.due < today,
                "when_text": _when_text(item.due, today),
            }
        )
    return {
        "reason": reason,
        "label": REASON_LABELS[reason],
        "rows": rows,
        "page": page,
        "count": paginator.count,
        "previous_url": _page_url(request, param, page.previous_page_number()) if page.has_previous() else "",
        "next_url": _page_url(request, param, page.next_page_number()) if page.has_next() else "",
    }


@require_perm(Perm.TAPER_VIEW)
@require_GET
def review_queue_view(request: HttpRequest) -> HttpResponse:
    form = ReviewWindowForm(request.GET or None)
    days = 7
    if form.is_bound and form.is_valid():
        days = form.cleaned_data["days"] or 7
    elif not form.is_bound:
        form = ReviewWindowForm(initial={"days": 7})
    today = selectors.clinic_today()
    sections = [_review_section(request, reason, today, days) for reason in selectors.REVIEW_SECTIONS]
    shown = sum(len(section["rows"]) for section in sections)
    audit(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        object_type="taper.taperplan",
        detail={
            "view": "taper review queue",
            "rows": shown,
            "total": sum(section["count"] for section in sections),
            "days_ahead": days,
        },
    )
    context = {
        "sections": [section for section in sections if section["count"]],
        "any_rows": shown > 0,
        "form": form,
        "days": days,
        "today": today,
        "counts": [(section["label"], section["count"]) for section in sections],
        "may_approve": request.membership.allows(Perm.TAPER_APPROVE),
        "plans_url": _url_prefix("taper:plan", plan_id=_ANY_UUID),
        "patients_url": _url_prefix("patients:detail", patient_id=_ANY_UUID),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "taper/review_rows.html", context)
    settings = services.taper_settings()
    if context["may_approve"] and not settings.tail_floor_confirmed:
        context["tail_floor_unconfirmed"] = presentation.mg(settings.tail_floor_de_mg)
    return render(request, "taper/review.html", context)
