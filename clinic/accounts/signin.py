"""Sign-in refusals that happen outside Django's `authenticate()` and so send no `user_login_failed`.

Every failed sign-in is audited, whatever layer refused it:
- a wrong password: `user_login_failed` (signals.py);
- the failed-login throttle before the password is checked: the adapter's `pre_authenticate`;
- too many sign-in requests from one address (allauth answers 429 before the form): `rate_limited`;
- a wrong two-factor code: allauth's `authentication_failed` MFA signal (signals.py);
- the two-factor throttle (too many wrong codes): the MFA forms below.
"""

from __future__ import annotations

from allauth.mfa.base.forms import AuthenticateForm, ReauthenticateForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from clinic.audit.services import audit_platform_event

THROTTLED = "too_many_login_attempts"  # allauth's error code for a throttled attempt


def attempted_email(request: HttpRequest) -> str:
    return str(request.POST.get("login") or request.POST.get("email") or "")[:254]


def rate_limited(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """`handler429` of the root URLconf: allauth answers with it when an address sends too many requests
    (its per-address "login" limit is checked before the form is read). A refused sign-in is audited."""
    if request.method == "POST" and request.path == reverse("account_login"):
        audit_platform_event(
            action="login_failed",
            actor=None,
            request=request,
            detail={"email": attempted_email(request), "throttled": True, "limit": "requests per address"},
        )
    return render(request, "429.html", status=429)


def _audit_mfa_throttle(form, *, reauthentication: bool) -> None:
    audit_platform_event(
        action="login_failed",
        actor=form.user,
        request=_current_request(),
        detail={
            "email": form.user.email,
            "stage": "mfa_reauthentication" if reauthentication else "mfa",
            "throttled": True,
        },
    )


def _current_request() -> HttpRequest | None:
    from allauth.core import context

    return getattr(context, "request", None)


class AuditedAuthenticateForm(AuthenticateForm):
    """The two-factor step of sign-in. A wrong code is audited by the MFA signal; a code refused because of
    too many wrong ones sends no signal and is audited here."""

    def clean_code(self) -> str:
        try:
            return super().clean_code()
        except ValidationError as error:
            if error.code == THROTTLED:
                _audit_mfa_throttle(self, reauthentication=False)
            raise


class AuditedReauthenticateForm(ReauthenticateForm):
    def clean_code(self) -> str:
        try:
            return super().clean_code()
        except ValidationError as error:
            if error.code == THROTTLED:
                _audit_mfa_throttle(self, reauthentication=True)
            raise
