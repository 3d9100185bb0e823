"""The patient's daily check-in page, reached by a personal link: no login, no clinic in the URL.

The token is resolved by `selectors.checkin_link_open`, which enters the link's clinic; everything the
page reads or writes happens inside that block. A refused link gets a plain page and records nothing.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from clinic.forms import apply_errors
from scheduling.selectors import patient_upcoming
from vitals.checkins import rules, services
from vitals.checkins.forms import CheckInForm
from vitals.checkins.models import CheckIn, CheckInLink
from vitals.checkins.selectors import (
    LinkRefused,
    checkin_link_open,
    checkin_on,
    checkin_settings_get,
    clinic_zone,
    day_plan,
    guidance_shown,
    local_day,
)


def _private(response: HttpResponse) -> HttpResponse:
    # The URL is the patient's key: keep it out of search engines and other sites' logs. (Not
    # "no-referrer": browsers then send `Origin: null` with the form and CSRF rightly refuses it.)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "same-origin"
    return response


def _render(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    context = {"emergency_contacts": rules.guidance_rules().contacts, **context}
    if "link" in context:  # the patient's next groups, so the phone page also answers "when is group?"
        context["upcoming"] = patient_upcoming(context["link"].patient, now=timezone.now())
        context.setdefault("settings", checkin_settings_get())
    return _private(render(request, template, context, status=status))


def _done(request: HttpRequest, link: CheckInLink, checkin: CheckIn, *, already: bool) -> HttpResponse:
    context = {
        "link": link,
        "patient": link.patient,
        "clinic": link.clinic,
        "checkin": checkin,
        "at": timezone.localtime(checkin.submitted_at, clinic_zone(link.clinic)),
        "guidance": guidance_shown(checkin),
        "settings": checkin_settings_get(),
        "already": already,
    }
    return _render(request, "checkins/public/done.html", context, status=409 if already else 200)


def _page(request: HttpRequest, link: CheckInLink) -> HttpResponse:
    now = services.clock()
    day = local_day(now, link.clinic)
    existing = checkin_on(patient=link.patient, day=day)
    if request.method == "POST":
        if existing is not None:
            return _done(request, link, existing, already=True)  # records nothing new
        plan = day_plan(patient=link.patient, day=day)
        form = CheckInForm(request.POST, plan=plan)
        if form.is_valid():
            try:
                services.checkin_submit(link=link, answers=form.answers(), request=request, now=now)
            except services.AlreadyCheckedIn as duplicate:
                return _done(request, link, duplicate.checkin, already=True)
            except ValidationError as error:
                apply_errors(form, error)
            else:
                # Post/redirect/get: the page now shows today's check-in and its guidance; a refresh
                # does not send the answers again.
                return redirect(request.path)
        status = 400
    else:
        services.checkin_page_viewed(link=link, request=request)
        if existing is not None:
            return _done(request, link, existing, already=False)
        plan = day_plan(patient=link.patient, day=day)
        form = CheckInForm(plan=plan)
        status = 200
    context = {
        "link": link,
        "patient": link.patient,
        "clinic": link.clinic,
        "form": form,
        "plan": plan,
        "day": day,
    }
    return _render(request, "checkins/public/form.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def checkin_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        with checkin_link_open(token=token) as link:
            return _page(request, link)
    except LinkRefused as refusal:
        return _render(request, "checkins/public/refused.html", {"refusal": refusal}, status=refusal.status)
