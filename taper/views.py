"""Browser views for a patient's taper plans: the panel on the patient page, the plan history, the plan
page (with the actions this person may take) and old versions.

The taper area's other views have their own modules: the builder and its live preview
(`views_builder`), plan actions (`views_actions`), progress and dose entry (`views_progress`), PDFs
(`views_documents`), the clinic's formulary (`views_formulary`) and defaults (`views_settings`).

Thin: forms parse, `taper.services` decides and writes (and audits), `taper.selectors` reads,
`taper.presentation` shapes rows for the templates.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch
from django.views.decorators.http import require_GET

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.selectors import patient_get
from taper import presentation, selectors
from taper.catalogue import EquivalenceTable, load_catalogue
from taper.formulary import clinic_catalogue
from taper.models import TaperPlan, TaperPlanVersion
from taper.views_actions import action_forms, next_actions

VIEW = AuditEvent.Action.VIEW
S = TaperPlan.Status


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


# --- the plan page and versions -----------------------------------------------------------------------------
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
    actions = next_actions(request, plan)
    audit(actor=request.user, action=VIEW, obj=plan, patient=plan.patient, detail={"version": version.number})
    context = {
        "plan": plan,
        "patient": plan.patient,
        "versions": versions,
        "today": today,
        "actions": actions,
        "action_forms": action_forms(plan, actions, today),
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
