"""Accepting an invitation: the one staff page reached before the person belongs to the clinic."""

from __future__ import annotations

from allauth.account.utils import perform_login
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from clinic.accounts.forms import AcceptInvitationForm
from clinic.accounts.middleware import TIMEOUT_CHECKED_KEY
from clinic.accounts.models import Invitation, User
from clinic.accounts.services import InvitationInvalid, invitation_accept, invitation_from_link


def _refuse(request: HttpRequest, reason: str, status: int = 410) -> HttpResponse:
    return render(request, "staff/invitation_invalid.html", {"reason": reason}, status=status)


def _dashboard(invitation: Invitation) -> str:
    return reverse("clinic-dashboard", kwargs={"clinic_slug": invitation.clinic.slug})


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_from_link(signed=token)
    except InvitationInvalid as error:
        return _refuse(request, error.reason)
    context = {"invitation": invitation}
    has_account = User.objects.filter(email__iexact=invitation.email).exists()

    if request.user.is_authenticated:
        if request.user.email.lower() != invitation.email:
            context["wrong_user"] = True
            return render(request, "staff/invitation_accept.html", context, status=403)
        if request.method == "POST":
            try:
                invitation_accept(signed=token, user=request.user)
            except InvitationInvalid as error:
                return _refuse(request, error.reason)
            # The idle timeout is recomputed now that the person has one more clinic.
            request.session.pop(TIMEOUT_CHECKED_KEY, None)
            messages.success(request, f"Welcome to {invitation.clinic.name}.")
            return redirect(_dashboard(invitation))
        return render(request, "staff/invitation_accept.html", context)

    if has_account:
        context["login_url"] = f"{reverse('account_login')}?{urlencode({'next': request.path})}"
        return render(request, "staff/invitation_accept.html", context)

    form = AcceptInvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = invitation_accept(
                signed=token,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
            )
        except InvitationInvalid as error:
            return _refuse(request, error.reason)
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            messages.success(request, f"Welcome to {invitation.clinic.name}. Your account is ready.")
            return perform_login(
                request, membership.user, redirect_url=_dashboard(invitation), email=invitation.email
            )
    context["form"] = form
    return render(request, "staff/invitation_accept.html", context)
