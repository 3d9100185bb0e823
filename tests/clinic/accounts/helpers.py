"""Small helpers shared by the account tests."""

from __future__ import annotations

import re

from django.core import mail
from django.urls import reverse

from tests.conftest import PASSWORD

INVITE_LINK = re.compile(r"https?://[^/\s]+(/invite/[^/\s]+/)")


def sign_in(client, email: str, password: str = PASSWORD):
    """Through allauth's login view (not force_login), so allauth records the authentication."""
    return client.post(reverse("account_login"), {"login": email, "password": password})


def staff_url(clinic, name: str, **kwargs) -> str:
    """A clinic admin page by name: "staff:" unless the name carries its own namespace."""
    qualified = name if ":" in name else f"staff:{name}"
    return reverse(qualified, kwargs={"clinic_slug": clinic.slug, **kwargs})


def last_invite_path() -> str:
    match = INVITE_LINK.search(mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def platform_audit_events(action: str) -> list[dict]:
    """Platform-chain events (no clinic) are invisible to the app role; read them as the owner.

    Needs a transactional test: the owner connection is a separate session and sees only committed rows.
    """
    from django.db import connection, transaction
    from django_scopes import scopes_disabled

    from clinic.audit.models import AuditEvent
    from clinic.tenancy.maintenance import owner_connection

    with owner_connection(), scopes_disabled(), transaction.atomic():
        with connection.cursor() as cursor:
            # The owner-only read policy of the platform chain opens only with this flag (audit 0003).
            cursor.execute("SELECT set_config('stepdown.audit_platform_read', 'on', true)")
        return list(
            AuditEvent.objects.filter(clinic__isnull=True, action=action)
            .order_by("id")
            .values("actor_id", "actor_label", "detail", "ip_address")
        )


def clinic_audit_events(clinic, **filters) -> list:
    from clinic.audit.models import AuditEvent
    from clinic.tenancy.context import tenant_context

    with tenant_context(clinic):
        return list(AuditEvent.objects.filter(action="admin", **filters).order_by("id"))
