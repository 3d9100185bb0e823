"""Browser views for the clinic's prescriber registry: search, add, edit, deactivate, and a prescriber's page
(their patients of record and the recent prescriptions and fills they wrote — shown only to those who may
read medications, and audited per patient)."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit_many
from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from prescribers import selectors, services
from prescribers.forms import ActiveForm, PrescriberForm, RegistrySearchForm
from prescribers.models import Prescriber
from prescribers.views import GET_POST, form_status

RECENT_DAYS = 180
PAGE_SIZE = 50


@require_perm(Perm.PRESCRIBER_VIEW)
@require_GET
def registry_view(request: HttpRequest) -> HttpResponse:
    form = RegistrySearchForm(request.GET or None)
    query, inactive = "", False
    if form.is_bound and form.is_valid():
        query, inactive = form.cleaned_data["q"], form.cleaned_data["inactive"]
    found = selectors.prescriber_list(query=query, include_inactive=inactive)
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "query": query, "inactive": inactive}
    if request.htmx and not request.htmx.boosted:
        return render(request, "prescribers/_registry_rows.html", context)
    return render(request, "prescribers/registry.html", context)


def _duplicates(form, fields: dict, exclude=None) -> list[Prescriber]:
    """The records a refused NPI or DEA already belongs to (`fields` as typed: the refusal took them off
    the form's cleaned data)."""
    if not (form.has_error("npi") or form.has_error("dea")):
        return []
    npi, dea = fields.get("npi") or "", fields.get("dea") or ""
    return selectors.prescriber_duplicates(npi=npi, dea=dea, exclude=exclude)


@require_perm(Perm.PRESCRIBER_MANAGE)
@require_http_methods(GET_POST)
def prescriber_create_view(request: HttpRequest) -> HttpResponse:
    form = PrescriberForm(request.POST if request.method == "POST" else None)
    duplicates: list[Prescriber] = []
    if request.method == "POST" and form.is_valid():
        try:
            fields = dict(form.cleaned_data)
            prescriber = services.prescriber_create(actor=request.user, fields=fields)
        except ValidationError as error:
            apply_errors(form, error)
            duplicates = _duplicates(form, fields)
        else:
            messages.success(request, f"{prescriber.display_name} added to the registry.")
            return redirect(clinic_reverse("prescribers:prescriber", prescriber_id=prescriber.pk))
    context = {"form": form, "prescriber": None, "duplicates": duplicates}
    return render(request, "prescribers/prescriber_form.html", context, status=form_status(form))


def _prescriber(prescriber_id) -> Prescriber:
    return get_object_or_404(Prescriber.objects.select_related("recipient"), pk=prescriber_id)


@require_perm(Perm.PRESCRIBER_MANAGE)
@require_http_methods(GET_POST)
def prescriber_edit_view(request: HttpRequest, prescriber_id) -> HttpResponse:
    prescriber = _prescriber(prescriber_id)
    form = PrescriberForm(request.POST if request.method == "POST" else None, instance=prescriber)
    duplicates: list[Prescriber] = []
    if request.method == "POST" and form.is_valid():
        try:
            fields = dict(form.cleaned_data)
            prescriber = services.prescriber_update(actor=request.user, prescriber=prescriber, fields=fields)
        except ValidationError as error:
            apply_errors(form, error)
            duplicates = _duplicates(form, fields, exclude=prescriber)
        else:
            messages.success(request, f"{prescriber.display_name} saved.")
            return redirect(clinic_reverse("prescribers:prescriber", prescriber_id=prescriber.pk))
    context = {"form": form, "prescriber": prescriber, "duplicates": duplicates}
    return render(request, "prescribers/prescriber_form.html", context, status=form_status(form))


@require_perm(Perm.PRESCRIBER_MANAGE)
@require_POST
def prescriber_active_view(request: HttpRequest, prescriber_id) -> HttpResponse:
    prescriber = _prescriber(prescriber_id)
    form = ActiveForm(request.POST)
    if form.is_valid():
        active = form.cleaned_data["is_active"]
        try:
            services.prescriber_update(
                actor=request.user, prescriber=prescriber, fields={"is_active": active}
            )
        except ValidationError as error:
            for problem in error.messages:
                messages.error(request, problem)
        else:
            messages.success(
                request,
                f"{prescriber.display_name} {'reactivated' if active else 'deactivated'}."
                + (
                    ""
                    if active
                    else " Their prescriptions stay on the patients' lists; they are no longer "
                    "offered for new entries."
                ),
            )
        return redirect(clinic_reverse("prescribers:prescriber", prescriber_id=prescriber.pk))
    return render(
        request, "prescribers/prescriber_active.html", {"form": form, "prescriber": prescriber}, status=400
    )


@require_perm(Perm.PRESCRIBER_VIEW)
@require_GET
def prescriber_detail_view(request: HttpRequest, prescriber_id) -> HttpResponse:
    prescriber = _prescriber(prescriber_id)
    context: dict = {"prescriber": prescriber, "may_see_patients": False}
    if request.membership.allows(Perm.MEDICATION_VIEW):
        since = clinic_today() - datetime.timedelta(days=RECENT_DAYS)
        links = selectors.prescriber_patients(prescriber)
        orders, fills = selectors.prescriber_recent(prescriber, since=since)
        shown = {row.patient_id: row.patient for row in [*links, *orders, *fills]}
        audit_many(
            actor=request.user,
            action=AuditEvent.Action.LIST,
            items=[
                {
                    "object_type": "patients.patient",
                    "object_id": str(pid),
                    "patient": pid,
                    "detail": {"view": "prescriber page", "prescriber": str(prescriber.pk)},
                }
                for pid in shown
            ],
        )
        context.update(
            may_see_patients=True,
            links=links,
            orders=orders,
            fills=fills,
            since=since,
            recent_days=RECENT_DAYS,
        )
    return render(request, "prescribers/prescriber_detail.html", context)
