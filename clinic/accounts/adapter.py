import time
from datetime import UTC, datetime

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.core import context
from allauth.core.internal.ratelimit import get_ip
from allauth.mfa.models import Authenticator
from django.http import HttpRequest


class StepdownAccountAdapter(DefaultAccountAdapter):
    """Staff join by invitation only: open sign-up is closed."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials) -> str:
        """Failed sign-ins are counted per account *and* address (the `key` of ACCOUNT_RATE_LIMITS'
        "login_failed"). allauth's default counts per account alone, so anyone who knew an email could
        lock its owner out; now an attacker at one address is slowed and the owner, elsewhere, is not.
        A password reset clears the count of the address it is done from."""
        account = super()._get_login_attempts_cache_key(request, **credentials)
        return f"{account}@{get_ip(request)}"

    def pre_authenticate(self, request: HttpRequest, **credentials) -> None:
        """A throttled attempt is refused before Django authenticates, so no `user_login_failed` signal
        fires; it is still a failed sign-in and is audited as one."""
        from django.core.exceptions import ValidationError

        from clinic.audit.services import audit_platform_event

        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            attempted = str(credentials.get("email") or credentials.get("username") or "")[:254]
            audit_platform_event(
                action="login_failed",
                actor=None,
                request=request,
                detail={"email": attempted, "throttled": True},
            )
            raise

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        """Enrolment that starts right after a password sign-in needs no second password prompt.

        The usual path when a clinic requires MFA: sign in, get sent to set up an authenticator app, see
        the recovery codes. Within allauth's reauthentication window of that sign-in, and only while
        every authenticator is newer than the sign-in, those steps proceed. Changing or removing an
        authenticator that existed before this sign-in still asks for a fresh code or password.
        """
        required = super().is_reauthentication_required(app=app, **kwargs)
        request = getattr(context, "request", None)
        if not required or app != "allauth.mfa" or request is None or not request.user.is_authenticated:
            return required
        records = get_authentication_records(request, request.user)
        password_at = [record["at"] for record in records if record.get("method") == "password"]
        if not password_at or time.time() - password_at[-1] >= account_settings.REAUTHENTICATION_TIMEOUT:
            return required
        signed_in = datetime.fromtimestamp(password_at[-1], tz=UTC)
        return Authenticator.objects.filter(user=request.user, created_at__lt=signed_in).exists()
