"""A staff member's own calendar subscription: make a private iCal link (shown once), replace it, turn it
off. Only for oneself: a colleague's feed is theirs to manage (admins revoke through the API)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from scheduling import feeds
from scheduling.models import CalendarFeed

GET_POST = ["GET", "POST"]


@never_cache  # the page that shows a new link must not be kept by a browser or a proxy
@require_perm(Perm.SCHEDULE_VIEW)
@require_http_methods(GET_POST)
def my_feed_view(request: HttpRequest) -> HttpResponse:
    current = CalendarFeed.objects.filter(user=request.user, revoked_at__isnull=True).first()
    new_url = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            _, token = feeds.feed_create(actor=request.user, user=request.user)
            new_url = request.build_absolute_uri(feeds.feed_path(token))
            current = CalendarFeed.objects.filter(user=request.user, revoked_at__isnull=True).first()
        elif action == "revoke" and current is not None:
            feeds.feed_revoke(actor=request.user, feed=current)
            messages.success(request, "Your calendar link is off: calendar apps stop updating from it.")
            return redirect(clinic_reverse("scheduling:my-feed"))
        else:
            messages.error(request, "Nothing to do: the page was out of date. Try again.")
            return redirect(clinic_reverse("scheduling:my-feed"))
    return render(
        request,
        "scheduling/attendance/my_feed.html",
        {"current": current, "new_url": new_url, "feed_days": feeds.FEED_DAYS},
    )
