"""Browser views for the clinic's taper defaults (on the formulary page) and the psychiatrist's
confirmation of the end-of-taper floor (from the review page)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from taper import forms as taper_forms
from taper import presentation, services
from taper.views_formulary import formulary_page


@require_perm(Perm.FORMULARY_MANAGE)
@require_POST
def taper_settings_view(request: HttpRequest) -> HttpResponse:
    form = taper_forms.TaperSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.taper_settings_update(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "Defaults saved. They apply to plans built from now on.")
            return redirect(clinic_reverse("taper:formulary"))
    return formulary_page(request, settings_form=form, status=400)


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
