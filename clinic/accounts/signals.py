"""Audit receivers for logins, logouts and failed logins."""

from __future__ import annotations

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
