"""Browser views for taper plans: the builder with its live preview, the plan page and its actions, old
versions, the patient's panel and plan history, and the clinic's formulary settings.

Thin: forms parse, `taper.services` decides and writes (and audits), `taper.selectors` reads,
`taper.presentation` shapes rows for the templates. Psychiatrist-only views require TAPER_APPROVE; the
services refuse the same things again, so the API and any other caller meet the same rules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.models import Patient
from patients.selectors import patient_get
from taper import forms as taper_forms
from taper import presentation, selectors, services
from taper.catalogue import EquivalenceTable, load_catalogue
from taper.engine import as_decimal
from taper.formulary import clinic_catalogue, formulary_add, formulary_rows, formulary_set_stocked
from taper.models import TaperPlan, TaperPlanVersion
from taper.prefill import reported_regimen

GET_POST = ["GET", "POST"]
VIEW = AuditEvent.Action.VIEW
S = TaperPlan.Status


# --- helpers ------------------------------------------------------------------------------------------------
def _apply_errors(form: Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, problems in error.message_dict.items():
            form.add_error(field if field in form.fields else None, problems)
    else:
        form.add_error(None, error.messages)


def _psychiatrist(request: HttpRequest) -> bool:
    return request.membership.allows(Perm.TAPER_APPROVE)


def _plan(plan_id) -> TaperPlan:
    return get_object_or_404(TaperPlan.objects.select_related("patient", "current_version"), pk=plan_id)


def _optional_url(name: str, **kwargs: Any) -> str | None:
    """A route another part of the taper area provides (progress, PDFs, dose entry), if it exists yet."""
    try:
        return clinic_reverse(name, **kwargs)
    except NoReverseMatch:
        return None


def _fragment_or_page(request: HttpRequest, fragment: str, context: dict, title: str) -> HttpResponse:
    if request.htmx and not request.htmx.boosted:
        return render(request, fragment, context)
    return render(request, "taper/fragment_page.html", {**context, "fragment": fragment, "title": title})


# --- the patient page's panel and the patient's plan history ------------------------------------------------
@require_perm(Perm.TAPER_VIEW)
@require_GET
def patient_panel_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    plan = selectors.open_plan_for(patient)
    today = selectors.clinic_today()
    step = None
    if plan is not None and plan.status == S.ACTIVE:
        step = selectors.step_in(plan.current_version, today)
    closed = TaperPlan.objects.filter(patient=patient).exclude(status__in=TaperPlan.OPEN_STATUSES).count()
    audit(actor=request.user, action=VIEW, obj=patient, patient=patient, detail={"view": "taper panel"})
    context = {
        "patient": patient,
        "plan": plan,
        "today": today,
        "today_row": presentation.stored_rows([step], load_catalogue(), today)[0] if step else None,
        "closed_count": closed,
    }
    return _fragment_or_page(request, "taper/_panel.html", context, "Taper plan")


@require_perm(Perm.TAPER_VIEW)
@require_GET
def patient_plans_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    plans = list(
        TaperPlan.objects.filter(patient=patient)
        .select_related("current_version", "created_by", "approved_by")
        .annotate(version_count=Count("versions"))
        .order_by("-created_at")
    )
    audit(actor=request.user, action=VIEW, obj=patient, patient=patient, detail={"view": "taper plans"})
    context = {"patient": patient, "plans": plans, "open_plan": next((p for p in plans if p.is_open), None)}
    return render(request, "taper/plans.html", context)


# --- the builder --------------------------------------------------------------------------------------------
LINE_FIELDS = ("drug", "dose_mg", "time_of_day", "form")
# What an alternative's button may change on the builder (taper/alternatives.py `changes`).
APPLICABLE = {"strategy", "liquid", "rate_percent", "interval_days", "min_switch_days"}
APPLICABLE_BY_PSYCHIATRIST = {"override_steps"}


def _applied(post: QueryDict, *, psychiatrist: bool) -> tuple[QueryDict, str]:
    """The builder's POST with an alternative's changes ("key=value;key=value") applied, and what changed."""
    allowed = APPLICABLE | (APPLICABLE_BY_PSYCHIATRIST if psychiatrist else set())
    data = post.copy()
    changed = []
    for part in (post.get("apply") or "").split(";"):
        key, _, value = part.partition("=")
        if key in allowed and value:
            data[key] = value
            changed.append(key)
    return data, ",".join(changed)


HOLD_FIELDS = ("on_date", "days")


def _rows_from(data: QueryDict, prefix: str, fields: tuple[str, ...], limit: int) -> list[dict[str, str]]:
    try:
        total = min(int(data.get(f"{prefix}-TOTAL_FORMS", 0)), limit)
    except ValueError:
        total = 0
    rows = []
    for i in range(max(total, 0)):
        rows.append({name: (data.get(f"{prefix}-{i}-{name}") or "").strip() for name in fields})
    return rows


def _blank_line(row: dict[str, str]) -> bool:
    return not row.get("drug") and not row.get("dose_mg")


def _blank_hold(row: dict[str, str]) -> bool:
    return not row.get("on_date") and not row.get("days")


def _formset_data(prefix: str, rows: list[dict[str, str]]) -> dict[str, str]:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for name, value in row.items():
            data[f"{prefix}-{i}-{name}"] = value
    return data


class Builder:
    """The builder's three forms (plan fields, regimen lines, holds), bound or not, plus the line edits
    (add/remove a line or a hold) that re-render the page without validating anything."""

    def __init__(
        self,
        request: HttpRequest,
        *,
        initial: dict[str, Any],
        lines: list[dict[str, str]],
        holds: list[dict[str, str]],
        editing: bool,
        bind: bool,
    ) -> None:
        self.request = request
        self.editing = editing
        self.refusal: services.PlanRefused | None = None
        psychiatrist = _psychiatrist(request)
        # The table a non-psychiatrist cannot change comes from `initial`, never from the request.
        fixed = {"table": initial["table"]}
        self.fixed_table = initial["table"]
        post = request.POST
        self.applied = ""
        if request.method == "POST" and post.get("apply"):
            post, self.applied = _applied(post, psychiatrist=psychiatrist)
        self.data = post
        if request.method == "POST":
            lines = _rows_from(post, taper_forms.REGIMEN_PREFIX, LINE_FIELDS, taper_forms.MAX_LINES)
            holds = _rows_from(post, taper_forms.HOLD_PREFIX, HOLD_FIELDS, taper_forms.MAX_HOLDS)
            self.changed = self._edit_rows(post, lines, holds)
            if self.changed:
                bind = False
                initial = {
                    **initial,
                    **{k: v for k, v in post.items() if k in taper_forms.PlanForm.base_fields},
                }
                initial.update(fixed)
        else:
            self.changed = False
        if bind:
            post = self.data
            lines = [r for r in lines if not _blank_line(r)] or lines[:1]
            holds = [r for r in holds if not _blank_hold(r)]
            data = {k: v for k, v in post.items() if not k.startswith(("line-", "hold-"))}
            data.update(_formset_data(taper_forms.REGIMEN_PREFIX, lines))
            data.update(_formset_data(taper_forms.HOLD_PREFIX, holds))
            self.form = taper_forms.PlanForm(data, initial=fixed, psychiatrist=psychiatrist, editing=editing)
            self.lines = taper_forms.RegimenFormSet(data, prefix=taper_forms.REGIMEN_PREFIX)
            self.holds = taper_forms.HoldFormSet(data, prefix=taper_forms.HOLD_PREFIX)
        else:
            self.form = taper_forms.PlanForm(initial=initial, psychiatrist=psychiatrist, editing=editing)
            self.lines = taper_forms.RegimenFormSet(initial=lines, prefix=taper_forms.REGIMEN_PREFIX)
            self.holds = taper_forms.HoldFormSet(initial=holds, prefix=taper_forms.HOLD_PREFIX)

    @staticmethod
    def _edit_rows(post: QueryDict, lines: list, holds: list) -> bool:
        if "add_line" in post and len(lines) < taper_forms.MAX_LINES:
            lines.append({"drug": lines[-1]["drug"] if lines else "", "dose_mg": "", "time_of_day": ""})
            return True
        if "add_hold" in post and len(holds) < taper_forms.MAX_HOLDS:
            holds.append({"on_date": "", "days": ""})
            return True
        for key, rows in (("remove_line", lines), ("remove_hold", holds)):
            if key in post:
                with contextlib.suppress(ValueError, IndexError):
                    del rows[int(post[key])]
                if key == "remove_line" and not rows:
                    rows.append({"drug": "", "dose_mg": "", "time_of_day": ""})
                return True
        return "add_line" in post or "add_hold" in post

    def is_valid(self) -> bool:
        valid = [self.form.is_valid(), self.lines.is_valid(), self.holds.is_valid()]
        return all(valid)

    def plan_input(self) -> services.PlanInput:
        return taper_forms.plan_input(self.form, self.lines, self.holds)

    def apply(self, error: ValidationError) -> None:
        """A service error onto the form, the regimen or the holds, wherever it belongs."""
        if not hasattr(error, "error_dict"):
            self.form.add_error(None, error.messages)
            return
        for field, problems in error.message_dict.items():
            if field == "regimen":
                self.lines.non_form_errors().extend(problems)
            elif field == "holds":
                self.holds.non_form_errors().extend(problems)
            elif field in self.form.fields:
                self.form.add_error(field, problems)
            else:
                self.form.add_error(None, problems)

    def errors(self) -> list[tuple[str, str, str]]:
        """(label, message, anchor) for the error summary and the preview."""
        out: list[tuple[str, str, str]] = []
        if not self.form.is_bound:
            return out
        for message in self.form.non_field_errors():
            out.append(("", message, "plan-form"))
        for message in self.lines.non_form_errors():
            out.append(("Current regimen", message, "regimen"))
        for i, line in enumerate(self.lines.forms):
            for name, problems in line.errors.items():
                label = line.fields[name].label if name in line.fields else ""
                for message in problems:
                    out.append((f"Line {i + 1}, {label.lower()}", message, line[name].id_for_label))
        for message in self.holds.non_form_errors():
            out.append(("Holds", message, "holds"))
        for i, hold in enumerate(self.holds.forms):
            for name, problems in hold.errors.items():
                for message in problems:
                    out.append((f"Hold {i + 1}", message, hold[name].id_for_label))
        for field in self.form:
            for message in field.errors:
                out.append((field.label, message, field.id_for_label))
        return out


def _preview_context(builder: Builder) -> dict[str, Any]:
    """Compute the schedule for the builder's input (nothing saved); errors in plain language."""
    context: dict[str, Any] = {"preview_errors": [], "rows": None}
    if not builder.is_valid():
        context["preview_errors"] = builder.errors()
        return context
    data = builder.plan_input()
    try:
        request, schedule = services.compute(
            data, actor=builder.request.user, expected_table=builder.fixed_table
        )
    except services.PlanRefused as refusal:
        builder.apply(refusal)
        return _refused_context(builder, refusal)
    except ValidationError as error:
        builder.apply(error)
        context["preview_errors"] = builder.errors()
        return context
    context.update(_schedule_context(schedule))
    context["options"] = presentation.options(services.option_rows(services.pace_options(request, schedule)))
    if schedule.high_dose:
        try:
            services.high_dose_confirmation(schedule, data.high_dose_confirmation)
        except ValidationError:
            context["confirm_high_dose"] = presentation.mg(as_decimal(schedule.baseline_de_mg, 1))
        else:
            context["high_dose_confirmed"] = True
    context["applied"] = builder.applied
    return context


def _refused_context(builder: Builder, refusal: services.PlanRefused) -> dict[str, Any]:
    """The preview of a refused schedule: the steps where they fall, and the alternatives that were tried."""
    context: dict[str, Any] = {"preview_errors": builder.errors(), "rows": None}
    if refusal.schedule is not None:
        context.update(_schedule_context(refusal.schedule))
        context.update(refused=True, options=presentation.options(services.option_rows(refusal.options)))
        context["violations"] = []  # refused steps are not accepted ones: the callout and the rows show them
    return context


def _schedule_context(schedule) -> dict[str, Any]:
    """A computed schedule (saved or refused) as the preview shows it."""
    catalogue, _ = clinic_catalogue()
    rows = presentation.preview_rows(schedule, catalogue)
    drugs = {a.drug for a in schedule.baseline} | presentation.drugs_in(rows)
    return {
        "rows": rows,
        "schedule": schedule,
        "baseline": presentation.baseline_drugs(schedule, catalogue),
        "baseline_de_mg": presentation.mg(as_decimal(schedule.baseline_de_mg)),
        "final_de_mg": presentation.mg(as_decimal(schedule.final_de_mg)),
        "table": presentation.table_used(schedule.table.value, drugs),
        "other_table": schedule.other_table.label if schedule.switch else "",
        "cap": presentation.cap(),
        "violations": [v.describe() for v in schedule.violations],
        "unverified": list(schedule.unverified),
        "notes": list(schedule.notes),
        "warnings": presentation.warning_items(presentation.schedule_warning_rows(schedule)),
    }


def _reported_lines(patient: Patient) -> tuple[list[dict[str, str]], list[str]]:
    """Regimen lines pre-filled from the patient's record (reported benzodiazepines and substance-use
    history) and, per line, where it came from, for the person to check: see taper/prefill.py."""
    return reported_regimen(patient)


def _saving(request: HttpRequest, builder: Builder) -> bool:
    """A POST that is neither a line edit, a preview request nor an alternative applied saves."""
    post = request.POST
    return request.method == "POST" and not builder.changed and "preview" not in post and "apply" not in post


def _builder_page(request: HttpRequest, builder: Builder, **context: Any) -> HttpResponse:
    preview = None
    post = request.POST
    if builder.refusal is not None:  # a save the cap refused: show why and the ways out
        preview = _refused_context(builder, builder.refusal)
    elif request.method == "POST" and not builder.changed and ("preview" in post or "apply" in post):
        preview = _preview_context(builder)
    status = 400 if builder.form.is_bound and builder.errors() else 200
    response = render(
        request,
        "taper/builder.html",
        {
            "builder": builder,
            "form": builder.form,
            "lines": builder.lines,
            "holds": builder.holds,
            "error_list": builder.errors(),
            "preview": preview,
            "psychiatrist": _psychiatrist(request),
            **context,
        },
        status=status,
    )
    if builder.changed:
        response["HX-Trigger"] = "regimen-changed"
    return response


@require_perm(Perm.TAPER_DRAFT)
@require_http_methods(GET_POST)
def plan_create_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    existing = selectors.open_plan_for(patient)
    if existing is not None:
        messages.info(request, "This patient already has an open taper plan: change it from its page.")
        return redirect(clinic_reverse("taper:plan", plan_id=existing.pk))
    settings = services.taper_settings()
    lines, sources = _reported_lines(patient)
    initial = {
        "start_date": taper_forms.default_start(selectors.clinic_today()),
        "strategy": "direct",
        "liquid": "cap",
        "rate_percent": presentation.mg(settings.default_rate_percent),
        "interval_days": settings.default_interval_days,
        "table": settings.default_table,
        "target_de_mg": "",
    }
    builder = Builder(
        request,
        initial=initial,
        lines=lines or [{"drug": "", "dose_mg": "", "time_of_day": "08:00"}],
        holds=[],
        editing=False,
        bind=request.method == "POST",
    )
    if _saving(request, builder) and builder.is_valid():
        try:
            plan = services.plan_create(
                actor=request.user,
                patient=patient,
                data=builder.plan_input(),
                reason=builder.form.cleaned_data.get("reason") or "",
            )
        except ValidationError as error:
            builder.apply(error)
            builder.refusal = error if isinstance(error, services.PlanRefused) else None
        else:
            messages.success(request, "Draft saved. Send it for approval when it is ready.")
            return redirect(clinic_reverse("taper:plan", plan_id=plan.pk))
    if request.method == "GET":
        audit(actor=request.user, action=VIEW, obj=patient, patient=patient, detail={"view": "taper builder"})
    return _builder_page(
        request,
        builder,
        patient=patient,
        plan=None,
        prefilled_from=sources if request.method == "GET" else [],
        preview_url=clinic_reverse("taper:preview", patient_id=patient.pk),
    )


def _initial_from(
    version: TaperPlanVersion,
) -> tuple[dict[str, Any], list[dict[str, str]], list[dict[str, str]]]:
    initial = {
        "start_date": version.effective_from,
        "strategy": version.strategy,
        "substitution_interval_days": version.substitution_interval_days,
        "rate_percent": presentation.mg(version.rate_percent),
        "interval_days": version.interval_days,
        "slow_rate_percent": presentation.mg(version.slow_rate_percent)
        if version.slow_rate_percent
        else None,
        "slow_below_de_mg": presentation.mg(version.slow_below_de_mg) if version.slow_below_de_mg else None,
        "target_de_mg": presentation.mg(version.target_de_mg) if version.target_de_mg else "",
        "table": version.table,
        "override_reason": version.override_reason,
        "override_steps": ", ".join(str(n) for n in version.override_steps),
        "liquid": version.liquid,
        "min_switch_days": version.min_switch_days,
        "high_dose_confirmation": version.high_dose_confirmation,
    }
    lines = [
        {
            "drug": r["drug"],
            "dose_mg": presentation.mg(r["dose_mg"]),
            "time_of_day": r["time_of_day"],
            "form": r.get("form") or "",
        }
        for r in version.regimen
    ]
    holds = [
        {"on_date": h["on_date"], "days": str(h["days"])}
        for h in version.holds
        if h.get("on_date") and h.get("days")
    ]
    return initial, lines, holds


@require_perm(Perm.TAPER_DRAFT)
@require_http_methods(GET_POST)
def plan_edit_view(request: HttpRequest, plan_id) -> HttpResponse:
    plan = _plan(plan_id)
    if plan.status not in (S.DRAFT, S.PROPOSED, S.APPROVED):
        messages.warning(
            request,
            "An active plan is changed by holding it, changing its pace or resuming it (psychiatrist).",
        )
        return redirect(clinic_reverse("taper:plan", plan_id=plan.pk))
    initial, lines, holds = _initial_from(plan.current_version)
    builder = Builder(
        request, initial=initial, lines=lines, holds=holds, editing=True, bind=request.method == "POST"
    )
    if _saving(request, builder) and builder.is_valid():
        try:
            services.plan_edit(
                actor=request.user,
                plan=plan,
                data=builder.plan_input(),
                reason=builder.form.cleaned_data["reason"],
            )
        except ValidationError as error:
            builder.apply(error)
            builder.refusal = error if isinstance(error, services.PlanRefused) else None
        else:
            messages.success(
                request,
                "Saved as a new version."
                + (
                    " The approval was for the earlier version: it needs approving again."
                    if plan.status == S.APPROVED
                    else ""
                ),
            )
            return redirect(clinic_reverse("taper:plan", plan_id=plan.pk))
    if request.method == "GET":
        audit(actor=request.user, action=VIEW, obj=plan, patient=plan.patient, detail={"view": "taper edit"})
    return _builder_page(
        request,
        builder,
        patient=plan.patient,
        plan=plan,
        prefilled_from=[],
        preview_url=clinic_reverse("taper:preview", patient_id=plan.patient_id),
    )


@require_perm(Perm.TAPER_DRAFT)
@require_POST
def plan_preview_view(request: HttpRequest, patient_id) -> HttpResponse:
    """The builder's live preview (htmx): the dated schedule for what is on the form, nothing saved."""
    patient_get(patient_id=patient_id)
    table = _fixed_table(request, services.taper_settings().default_table)
    builder = Builder(request, initial={"table": table}, lines=[], holds=[], editing=False, bind=True)
    context = _preview_context(builder)
    context = {"preview": context, "psychiatrist": _psychiatrist(request)}
    return render(request, "taper/_preview.html", context)


def _fixed_table(request: HttpRequest, default: str) -> str:
    """For a non-psychiatrist, the table of the plan being edited (if any) or the clinic default."""
    plan_id = request.POST.get("plan")
    if plan_id:
        try:
            plan = TaperPlan.objects.select_related("current_version").filter(pk=plan_id).first()
        except ValidationError:
            plan = None
        if plan is not None and plan.current_version is not None:
            return plan.current_version.table
    return default


# --- the plan page and versions -----------------------------------------------------------------------------
def _next_actions(request: HttpRequest, plan: TaperPlan) -> list[str]:
    """The actions this person may take on the plan now, in the order the page offers them."""
    m = request.membership
    draft, approve = m.allows(Perm.TAPER_DRAFT), m.allows(Perm.TAPER_APPROVE)
    out: list[str] = []
    if plan.status == S.DRAFT:
        # A psychiatrist approves a draft directly; the rest of the team sends it for approval.
        out += ["approve"] if approve else ["propose"] if draft else []
    elif plan.status == S.PROPOSED:
        out += ["approve"] if approve else []
    elif plan.status == S.APPROVED:
        out += ["activate"] if draft else []
    elif plan.status == S.ACTIVE and approve:
        out += ["resume"] if plan.held_since else ["hold", "pace"]
    if plan.status in (S.DRAFT, S.PROPOSED, S.APPROVED) and draft:
        out.append("edit")
    if plan.is_open and approve:
        out.append("close")
    return out


def _action_initial(plan: TaperPlan, name: str, today) -> dict[str, Any]:
    """What an action form starts with: dates the service accepts, the warnings digest for approval."""
    if name == "approve":
        return {"warnings_seen": services.warnings_digest(plan.current_version)}
    if name not in ("hold", "resume", "pace"):
        return {}
    initial: dict[str, Any] = {"from_date": services.change_defaults(plan, today)[name]}
    if name == "pace":
        v = plan.current_version
        initial.update(rate_percent=presentation.mg(v.rate_percent), interval_days=v.interval_days)
    return initial


def _action_forms(plan: TaperPlan, actions: Iterable[str], today) -> dict[str, Form]:
    forms: dict[str, Form] = {}
    if "approve" in actions:
        forms["approve"] = taper_forms.ApproveForm(initial=_action_initial(plan, "approve", today))
    if "hold" in actions:
        forms["hold"] = taper_forms.HoldActionForm(initial=_action_initial(plan, "hold", today))
    if "resume" in actions:
        forms["resume"] = taper_forms.ResumeForm(initial=_action_initial(plan, "resume", today))
    if "pace" in actions:
        forms["pace"] = taper_forms.PaceForm(initial=_action_initial(plan, "pace", today))
    if "close" in actions:
        forms["close"] = taper_forms.CloseForm(
            initial={"outcome": "completed" if plan.status == S.ACTIVE else "stopped"}
        )
    return forms


def _version_context(version: TaperPlanVersion, steps, today) -> dict[str, Any]:
    catalogue, _ = clinic_catalogue()
    rows = presentation.stored_rows(steps, catalogue, today)
    drugs = {r["drug"] for r in version.regimen} | presentation.drugs_in(rows)
    return {
        "version": version,
        "rows": rows,
        "current_row": presentation.current_row(rows),
        "table": presentation.table_used(version.table, drugs),
        "other_table": EquivalenceTable(version.other_table).label if version.other_table else "",
        "cap": presentation.cap(),
        "warnings": presentation.warning_items(version.warnings),
        "approval_warnings": presentation.warning_items(version.approval_warnings),
        "options": presentation.options(version.alternatives),
    }


@require_perm(Perm.TAPER_VIEW)
@require_GET
def plan_detail_view(request: HttpRequest, plan_id) -> HttpResponse:
    try:
        plan = selectors.plan_for_page(plan_id)
    except TaperPlan.DoesNotExist:
        raise Http404("No such plan") from None
    today = selectors.clinic_today()
    versions = list(plan.versions.all())
    # The prefetched row carries who made/approved it (plan.current_version does not).
    version = next(v for v in versions if v.pk == plan.current_version_id)
    steps = selectors.steps_of(version)
    actions = _next_actions(request, plan)
    audit(actor=request.user, action=VIEW, obj=plan, patient=plan.patient, detail={"version": version.number})
    context = {
        "plan": plan,
        "patient": plan.patient,
        "versions": versions,
        "today": today,
        "actions": actions,
        "action_forms": _action_forms(plan, actions, today),
        "is_current_version": True,
        "links": {
            "progress": _optional_url("taper:progress", plan_id=plan.pk),
            "calendar_pdf": _optional_url("taper:calendar-pdf", plan_id=plan.pk),
            "summary_pdf": _optional_url("taper:summary-pdf", plan_id=plan.pk),
            "record_dose": _optional_url("taper:dose-record", plan_id=plan.pk)
            if plan.status == S.ACTIVE and request.membership.allows(Perm.TAPER_RECORD_DOSE)
            else None,
        },
        # Today's step is highlighted only while the plan is being taken.
        **_version_context(version, steps, today if plan.status == S.ACTIVE else None),
    }
    return render(request, "taper/plan.html", context)


@require_perm(Perm.TAPER_VIEW)
@require_GET
def version_detail_view(request: HttpRequest, version_id) -> HttpResponse:
    version = get_object_or_404(
        TaperPlanVersion.objects.select_related("plan", "patient", "created_by", "approved_by"), pk=version_id
    )
    plan = version.plan
    today = selectors.clinic_today()
    current = plan.current_version_id == version.pk
    audit(
        actor=request.user,
        action=VIEW,
        obj=version,
        patient=version.patient,
        detail={"version": version.number},
    )
    context = {
        "plan": plan,
        "patient": version.patient,
        "today": today,
        "is_current_version": current,
        "version_label": f"Version {version.number}",
        # Only the version in force of an active plan marks today's step; an old version is shown as it was.
        **_version_context(
            version, selectors.steps_of(version), today if current and plan.status == S.ACTIVE else None
        ),
    }
    return render(request, "taper/version.html", context)


# --- actions ------------------------------------------------------------------------------------------------
ACTION_TITLES = {
    "propose": "Send for approval",
    "approve": "Approve the plan",
    "activate": "Start the taper",
    "hold": "Hold the taper",
    "resume": "Resume the taper",
    "pace": "Change the pace",
    "close": "Stop or complete the plan",
}


def _action(
    request: HttpRequest, plan_id, name: str, form_class: type[Form] | None, perform, success: str
) -> HttpResponse:
    """GET shows the action on its own page (also the no-JS fallback); POST performs it through the
    service. Refusals from the service come back as form errors (status 400), never half-written."""
    plan = _plan(plan_id)
    today = selectors.clinic_today()
    data = request.POST if request.method == "POST" else None
    form = form_class(data, initial=_action_initial(plan, name, today)) if form_class else None
    errors: list[str] = []
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            perform(plan, form.cleaned_data if form is not None else {}, form)
        except ValidationError as error:
            if form is not None:
                _apply_errors(form, error)
            else:
                errors = error.messages
        else:
            messages.success(request, success)
            return redirect(clinic_reverse("taper:plan", plan_id=plan.pk))
    available = name in _next_actions(request, plan)
    context = {
        "plan": plan,
        "patient": plan.patient,
        "name": name,
        "title": ACTION_TITLES[name],
        "form": form,
        "errors": errors,
        "available": available,
        # Approval shows every warning the version carries above the button.
        "warnings": presentation.warning_items(plan.current_version.warnings) if name == "approve" else [],
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "taper/action.html", context, status=status)


@require_perm(Perm.TAPER_DRAFT)
@require_http_methods(GET_POST)
def plan_propose_view(request: HttpRequest, plan_id) -> HttpResponse:
    def perform(plan, data, form):
        services.plan_propose(actor=request.user, plan=plan)

    return _action(
        request, plan_id, "propose", None, perform, "Sent for approval: a psychiatrist will review it."
    )


@require_perm(Perm.TAPER_APPROVE)
@require_http_methods(GET_POST)
def plan_approve_view(request: HttpRequest, plan_id) -> HttpResponse:
    def perform(plan, data, form):
        services.plan_approve(
            actor=request.user,
            plan=plan,
            note=data.get("note") or "",
            warnings_seen=data.get("warnings_seen") or "",
        )

    return _action(
        request, plan_id, "approve", taper_forms.ApproveForm, perform, "Approved. The taper can start."
    )


@require_perm(Perm.TAPER_DRAFT)
@require_http_methods(GET_POST)
def plan_activate_view(request: HttpRequest, plan_id) -> HttpResponse:
    def perform(plan, data, form):
        services.plan_activate(actor=request.user, plan=plan)

    return _action(
        request, plan_id, "activate", None, perform, "The taper is active: doses can now be recorded."
    )


@require_perm(Perm.TAPER_APPROVE)
@require_http_methods(GET_POST)
def plan_hold_view(request: HttpRequest, plan_id) -> HttpResponse:
    def perform(plan, data, form):
        services.plan_hold(
            actor=request.user,
            plan=plan,
            from_date=data["from_date"],
            days=form.hold_days,
            reason=data["reason"],
        )

    return _action(
        request, plan_id, "hold", taper_forms.HoldActionForm, perform, "Held. Earlier steps are unchanged."
    )


@require_perm(Perm.TAPER_APPROVE)
@require_http_methods(GET_POST)
def plan_resume_view(request: HttpRequest, plan_id) -> HttpResponse:
    def perform(plan, data, form):
        services.plan_resume(
            actor=request.user,
            plan=plan,
            from_date=data["from_date"],
            reason=data["reason"],
            rate_percent=data.get("rate_percent"),
            interval_days=data.get("interval_days"),
        )

    return _action(
        request,
        plan_id,
        "resume",
        taper_forms.ResumeForm,
        perform,
        "Resumed: the next steps were recomputed from the current dose.",
    )


@require_perm(Perm.TAPER_APPROVE)
@require_http_methods(GET_POST)
def plan_pace_view(request: HttpRequest, plan_id) -> HttpResponse:
    def perform(plan, data, form):
        services.plan_slow(
            actor=request.user,
            plan=plan,
            from_date=data["from_date"],
            reason=data["reason"],
            rate_percent=data["rate_percent"],
            interval_days=data["interval_days"],
        )

    return _action(
        request,
        plan_id,
        "pace",
        taper_forms.PaceForm,
        perform,
        "Pace changed: later steps were recomputed; earlier steps are unchanged.",
    )


@require_perm(Perm.TAPER_APPROVE)
@require_http_methods(GET_POST)
def plan_close_view(request: HttpRequest, plan_id) -> HttpResponse:
    def perform(plan, data, form):
        services.plan_close(actor=request.user, plan=plan, outcome=data["outcome"], reason=data["reason"])

    return _action(request, plan_id, "close", taper_forms.CloseForm, perform, "The plan is closed.")


# --- clinic settings: formulary and defaults ----------------------------------------------------------------
def _formulary_page(request: HttpRequest, *, settings_form=None, add_form=None, status=200) -> HttpResponse:
    settings = services.taper_settings()
    if settings_form is None:
        settings_form = taper_forms.TaperSettingsForm(
            initial={
                "default_table": settings.default_table,
                "default_rate_percent": presentation.mg(settings.default_rate_percent),
                "default_interval_days": settings.default_interval_days,
                "tail_floor_de_mg": presentation.mg(settings.tail_floor_de_mg),
            }
        )
    rows = formulary_rows()
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["drug"], []).append(row)
    context = {
        "groups": groups,
        "settings_form": settings_form,
        "add_form": add_form or taper_forms.FormularyAddForm(),
        "taper_settings": settings,
        "stocked_count": sum(1 for r in rows if r["stocked"]),
        "total_count": len(rows),
        "meta": load_catalogue().meta,
    }
    return render(request, "taper/formulary.html", context, status=status)


@require_perm(Perm.FORMULARY_MANAGE)
@require_GET
def formulary_view(request: HttpRequest) -> HttpResponse:
    return _formulary_page(request)


@require_perm(Perm.FORMULARY_MANAGE)
@require_POST
def formulary_stocked_view(request: HttpRequest) -> HttpResponse:
    formulation_id = request.POST.get("formulation", "")
    stocked = request.POST.get("stocked") in ("1", "true", "on")
    try:
        formulary_set_stocked(actor=request.user, formulation_id=formulation_id, stocked=stocked)
    except ValidationError as error:
        if request.htmx:
            return HttpResponse(" ".join(error.messages), status=400)
        messages.error(request, " ".join(error.messages))
        return redirect(clinic_reverse("taper:formulary"))
    if request.htmx:
        row = next((r for r in formulary_rows() if r["id"] == formulation_id), None)
        return render(request, "taper/_formulary_row.html", {"row": row})
    messages.success(request, "Saved.")
    return redirect(clinic_reverse("taper:formulary") + f"#f-{slugify(formulation_id)}")


@require_perm(Perm.FORMULARY_MANAGE)
@require_POST
def formulary_add_view(request: HttpRequest) -> HttpResponse:
    form = taper_forms.FormularyAddForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            formulary_add(
                actor=request.user,
                drug=data["drug"],
                kind=data["kind"],
                strength_mg=data.get("strength_mg"),
                split=data.get("split") or "none",
                mg_per_ml=data.get("mg_per_ml"),
                note=data.get("note") or "",
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(
                request, "Formulation added. It is marked unverified until a pharmacist checks it."
            )
            return redirect(clinic_reverse("taper:formulary"))
    return _formulary_page(request, add_form=form, status=400)


@require_perm(Perm.FORMULARY_MANAGE)
@require_POST
def taper_settings_view(request: HttpRequest) -> HttpResponse:
    form = taper_forms.TaperSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.taper_settings_update(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, "Defaults saved. They apply to plans built from now on.")
            return redirect(clinic_reverse("taper:formulary"))
    return _formulary_page(request, settings_form=form, status=400)


@require_perm(Perm.TAPER_APPROVE)
@require_POST
def tail_floor_confirm_view(request: HttpRequest) -> HttpResponse:
    """A psychiatrist confirms the clinic's end-of-taper floor (from the review page)."""
    settings = services.taper_settings_confirm_tail_floor(actor=request.user)
    messages.success(
        request,
        f"Confirmed: steps starting at or below {presentation.mg(settings.tail_floor_de_mg)} mg "
        "diazepam-equivalent a day may cut more than the guideline cap.",
    )
    return redirect(clinic_reverse("taper:review"))
