"""Browser views for the clinic's formulary: what its pharmacies stock, and formulations it adds.

The formulary page also carries the clinic's defaults for new plans (`views_settings` saves them), so
`formulary_page` renders it for both, with whichever form came back with errors.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from taper import forms as taper_forms
from taper import presentation
from taper.catalogue import load_catalogue
from taper.clinic_settings import taper_settings
from taper.formulary import formulary_add, formulary_rows, formulary_set_stocked


def formulary_page(request: HttpRequest, *, settings_form=None, add_form=None, status=200) -> HttpResponse:
    settings = taper_settings()
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
    return formulary_page(request)


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
            apply_errors(form, error)
        else:
            messages.success(
                request, "Formulation added. It is marked unverified until a pharmacist checks it."
            )
            return redirect(clinic_reverse("taper:formulary"))
    return formulary_page(request, add_form=form, status=400)
