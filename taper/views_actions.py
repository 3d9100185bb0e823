"""Browser views for a plan's actions: propose, approve, activate, hold, resume, change the pace, close.

Each action is a small form on the plan page (`action_forms`) and a page of its own (GET, also the no-JS
fallback); POST performs it through `taper.services`, whose refusals come back as form errors (status
400), never half-written. Psychiatrist-only actions require TAPER_APPROVE here, and the services refuse
them again for any other caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from taper import forms as taper_forms
from taper import presentation, selectors, services
from taper.models import TaperPlan
from taper.version_fields import warnings_digest
from taper.views_common import plan_or_404

GET_POST = ["GET", "POST"]
S = TaperPlan.Status
ACTION_TITLES = {
    "propose": "Send for approval",
    "approve": "Approve the plan",
    "activate": "Start the taper",
    "hold": "Hold the taper",
    "resume": "Resume the taper",
    "pace": "Change the pace",
    "close": "Stop or complete the plan",
}


def next_actions(request: HttpRequest, plan: TaperPlan) -> list[str]:
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
        return {"warnings_seen": warnings_digest(plan.current_version)}
    if name not in ("hold", "resume", "pace"):
        return {}
    initial: dict[str, Any] = {"from_date": selectors.change_defaults(plan, today)[name]}
    if name == "pace":
        v = plan.current_version
        initial.update(rate_percent=presentation.mg(v.rate_percent), interval_days=v.interval_days)
    return initial


def action_forms(plan: TaperPlan, actions: Iterable[str], today) -> dict[str, Form]:
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


def _action(
    request: HttpRequest, plan_id, name: str, form_class: type[Form] | None, perform, success: str
) -> HttpResponse:
    """GET shows the action on its own page (also the no-JS fallback); POST performs it through the
    service. Refusals from the service come back as form errors (status 400), never half-written."""
    plan = plan_or_404(plan_id)
    today = selectors.clinic_today()
    data = request.POST if request.method == "POST" else None
    form = form_class(data, initial=_action_initial(plan, name, today)) if form_class else None
    errors: list[str] = []
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            perform(plan, form.cleaned_data if form is not None else {}, form)
        except ValidationError as error:
            if form is not None:
                apply_errors(form, error)
            else:
                errors = error.messages
        else:
            messages.success(request, success)
            return redirect(clinic_reverse("taper:plan", plan_id=plan.pk))
    available = name in next_actions(request, plan)
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
