"""Browser views for the plan builder: a new plan, editing one that has not started, and the live preview.

The form state is `taper.builder.Builder`; the schedule comes from `taper.engine_adapter.compute` (the
preview, nothing saved) or from `taper.services` (a save). A refusal over the guideline cap shows the
steps where it falls and the alternatives that were tried, as buttons that re-post the builder.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.models import Patient
from patients.selectors import patient_get
from taper import engine_adapter, presentation, selectors, services
from taper import forms as taper_forms
from taper.builder import Builder, is_psychiatrist
from taper.clinic_settings import taper_settings
from taper.engine import as_decimal
from taper.formulary import clinic_catalogue
from taper.models import TaperPlan, TaperPlanVersion
from taper.prefill import reported_regimen
from taper.version_fields import option_rows
from taper.views_common import plan_or_404

GET_POST = ["GET", "POST"]
VIEW = AuditEvent.Action.VIEW
S = TaperPlan.Status


def _preview_context(builder: Builder) -> dict[str, Any]:
    """Compute the schedule for the builder's input (nothing saved); errors in plain language."""
    context: dict[str, Any] = {"preview_errors": [], "rows": None}
    if not builder.is_valid():
        context["preview_errors"] = builder.errors()
        return context
    data = builder.plan_input()
    try:
        request, schedule = engine_adapter.compute(
            data, actor=builder.request.user, expected_table=builder.fixed_table
        )
    except engine_adapter.PlanRefused as refusal:
        builder.apply(refusal)
        return _refused_context(builder, refusal)
    except ValidationError as error:
        builder.apply(error)
        context["preview_errors"] = builder.errors()
        return context
    context.update(_schedule_context(schedule))
    context["options"] = presentation.options(option_rows(engine_adapter.pace_options(request, schedule)))
    if schedule.high_dose:
        try:
            engine_adapter.high_dose_confirmation(schedule, data.high_dose_confirmation)
        except ValidationError:
            context["confirm_high_dose"] = presentation.mg(as_decimal(schedule.baseline_de_mg, 1))
        else:
            context["high_dose_confirmed"] = True
    context["applied"] = builder.applied
    return context


def _refused_context(builder: Builder, refusal: engine_adapter.PlanRefused) -> dict[str, Any]:
    """The preview of a refused schedule: the steps where they fall, and the alternatives that were tried."""
    context: dict[str, Any] = {"preview_errors": builder.errors(), "rows": None}
    if refusal.schedule is not None:
        context.update(_schedule_context(refusal.schedule))
        context.update(refused=True, options=presentation.options(option_rows(refusal.options)))
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
            "psychiatrist": is_psychiatrist(request),
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
    settings = taper_settings()
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
            builder.refusal = error if isinstance(error, engine_adapter.PlanRefused) else None
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
    plan = plan_or_404(plan_id)
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
            builder.refusal = error if isinstance(error, engine_adapter.PlanRefused) else None
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
    table = _fixed_table(request, taper_settings().default_table)
    builder = Builder(request, initial={"table": table}, lines=[], holds=[], editing=False, bind=True)
    context = _preview_context(builder)
    context = {"preview": context, "psychiatrist": is_psychiatrist(request)}
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
