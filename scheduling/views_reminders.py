"""The front desk marks a patient reminded of tomorrow's session from the Today page's list."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from scheduling import reminders, selectors


@require_perm(Perm.SCHEDULE_BOOK)
@require_POST
def booking_reminded_view(request: HttpRequest, booking_id) -> HttpResponse:
    booking = selectors.booking_get(booking_id)
    try:
        reminders.mark_reminded(actor=request.user, booking=booking, via=reminders.VIA_PHONE)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{booking.patient.display_name} marked as reminded.")
    return redirect(clinic_reverse("clinic-dashboard") + "#reminders")
