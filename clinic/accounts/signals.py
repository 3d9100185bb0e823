"""Audit receivers for logins, logouts, failed logins and authenticator (MFA) changes."""

from __future__ import annotations

from allauth.mfa import signals as mfa_signals
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from clinic.audit.services import audit_platform_event


@receiver(user_logged_in, dispatch_uid="audit-login")
def _logged_in(sender, request, user, **kwargs) -> None:
    audit_platform_event(action="login", actor=user, request=request)


@receiver(user_logged_out, dispatch_uid="audit-logout")
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_platform_event(action="logout", actor=user, request=request)


@receiver(user_login_failed, dispatch_uid="audit-login-failed")
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    # The attempted email is kept (who was targeted); the password never is.
    attempted = str(credentials.get("email") or credentials.get("username") or "")[:254]
    audit_platform_event(action="login_failed", actor=None, request=request, detail={"email": attempted})


def _mfa_event(event: str):
    def receiver_(sender, request=None, user=None, authenticator=None, **kwargs) -> None:
        kind = getattr(authenticator, "type", "")
        audit_platform_event(
            action="mfa", actor=user, request=request, detail={"event": event, "authenticator": str(kind)}
        )

    receiver_.__name__ = f"_mfa_{event}"
    return receiver_


def _mfa_code_refused(sender, request=None, user=None, authenticator=None, **kwargs) -> None:
    # A wrong two-factor code: the password was right, so the person is known (the actor), not signed in.
    stage = "mfa_reauthentication" if kwargs.get("reauthentication") else "mfa"
    audit_platform_event(
        action="login_failed",
        actor=user,
        request=request,
        detail={
            "email": getattr(user, "email", ""),
            "stage": stage,
            "authenticator": str(getattr(authenticator, "type", "")),
        },
    )


mfa_signals.authentication_failed.connect(_mfa_code_refused, dispatch_uid="audit-mfa-code-refused")

# Strong references: these receivers are built at import time and would be garbage-collected otherwise.
_mfa_added = _mfa_event("authenticator_added")
_mfa_removed = _mfa_event("authenticator_removed")
_mfa_reset = _mfa_event("authenticator_reset")
mfa_signals.authenticator_added.connect(_mfa_added, dispatch_uid="audit-mfa-added")
mfa_signals.authenticator_removed.connect(_mfa_removed, dispatch_uid="audit-mfa-removed")
mfa_signals.authenticator_reset.connect(_mfa_reset, dispatch_uid="audit-mfa-reset")
