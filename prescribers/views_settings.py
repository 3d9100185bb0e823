"""Browser views for the clinic's prescribing settings: what may be kept of each state's PDMP reports, the
co-prescription thresholds (a clinic may tighten, never loosen) and the drug table (read-only reference:
how medications are classified)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from prescribers import drugs, rules, services
from prescribers.forms import StatePolicyForm, ThresholdsForm
from prescribers.models import Drug, PdmpStatePolicy
from prescribers.views import GET_POST, form_status


@require_perm(Perm.PRESCRIBING_SETTINGS)
@require_http_methods(GET_POST)
def settings_view(request: HttpRequest) -> HttpResponse:
    edit = request.GET.get("state", "").strip().upper()[:2]
    existing = PdmpStatePolicy.objects.filter(state=edit).first() if edit else None
    initial = (
        {"state": existing.state, "storage": existing.storage, "note": existing.note} if existing else {}
    )
    form = StatePolicyForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            policy = services.state_policy_set(
                actor=request.user, state=data["state"], storage=data["storage"], note=data["note"]
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"{policy.state}: {policy.get_storage_display()}.")
            return redirect(clinic_reverse("prescribers:settings"))
    thresholds_form = ThresholdsForm(overrides=services.prescribing_settings().overrides)
    return _settings_page(request, form=form, thresholds_form=thresholds_form, editing=existing)


@require_perm(Perm.PRESCRIBING_SETTINGS)
@require_http_methods(["POST"])
def thresholds_view(request: HttpRequest) -> HttpResponse:
    current = services.prescribing_settings()
    thresholds_form = ThresholdsForm(request.POST, overrides=current.overrides)
    if thresholds_form.is_valid():
        try:
            services.prescribing_settings_update(actor=request.user, overrides=thresholds_form.overrides())
        except ValidationError as error:
            apply_errors(thresholds_form, error)
        else:
            messages.success(request, "Co-prescription thresholds saved. Every patient is being re-checked.")
            return redirect(clinic_reverse("prescribers:settings") + "#thresholds")
    return _settings_page(request, form=StatePolicyForm(), thresholds_form=thresholds_form, editing=None)


def _settings_page(
    request: HttpRequest, *, form: StatePolicyForm, thresholds_form: ThresholdsForm, editing
) -> HttpResponse:
    settings = services.prescribing_settings()
    try:
        effective = rules.thresholds_for(settings.overrides)
    except rules.SettingsError:  # stored before a data change made it invalid: show the reference values
        effective = rules.default_thresholds()
    context = {
        "form": form,
        "thresholds_form": thresholds_form,
        "effective": effective,
        "reference": rules.default_thresholds(),
        "settings_row": settings,
        "policies": list(PdmpStatePolicy.objects.select_related("updated_by").order_by("state")),
        "editing": editing,
    }
    return render(request, "prescribers/settings.html", context, status=form_status(form, thresholds_form))


@require_perm(Perm.PRESCRIBING_SETTINGS)
@require_GET
def drug_table_view(request: HttpRequest) -> HttpResponse:
    rows = list(Drug.objects.order_by("drug_class", "ingredient"))
    statuses = {"V": "Verified (primary source)", "S": "Secondary sources", "U": "Unverified"}
    classes = drugs.classes()
    groups: list[dict] = []
    for row in rows:
        if not groups or groups[-1]["code"] != row.drug_class:
            spec = classes.get(row.drug_class)
            groups.append(
                {
                    "code": row.drug_class,
                    "label": spec.label if spec else row.drug_class,
                    "sedating": bool(spec and spec.cns_depressant),
                    "rows": [],
                }
            )
        groups[-1]["rows"].append({"drug": row, "status": statuses.get(row.rxcui_status, row.rxcui_status)})
    order = {code: i for i, code in enumerate(drugs.CLASS_PRIORITY)}
    groups.sort(key=lambda g: order.get(g["code"], len(order)))
    context = {
        "groups": groups,
        "count": len(rows),
        "version": rows[0].table_version if rows else None,
    }
    return render(request, "prescribers/drug_table.html", context)
