"""Append-only, hash-chained audit events.

The database refuses UPDATE and DELETE (a trigger, for every role) and the app role has no such grant.
Each clinic's events form one chain: `hash = sha256(prev_hash + canonical(event))`; events with no
clinic (logins, failed logins) form the platform chain. `manage.py verify_audit_chain` re-computes it
and compares it with the HMAC-signed checkpoints kept outside the database (`clinic.audit.checkpoints`),
so even the owner role, who can switch the triggers off, cannot rewrite or shorten a chain unnoticed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django_scopes import ScopedManager

from clinic.tenancy.models import Clinic


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        LIST = "list", "Listed"
        CREATE = "create", "Created"
        UPDATE = "update", "Changed"
        DELETE = "delete", "Deleted"
        EXPORT = "export", "Exported"
        PRINT = "print", "Printed"
        DISCLOSE = "disclose", "Disclosed"
        LOGIN = "login", "Signed in"
        LOGOUT = "logout", "Signed out"
        LOGIN_FAILED = "login_failed", "Failed sign-in"
        MFA = "mfa", "Two-factor change"
        ADMIN = "admin", "Administration"

    # Append-only and scoped by row-level security; clinic may be null for platform events.
    append_only = True
    rls_tenant_table = True
    rls_allow_null_clinic_insert = True

    id = models.BigAutoField(primary_key=True)
    clinic = models.ForeignKey(Clinic, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(
        max_length=254, blank=True, help_text="Email or API client name at the time"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    patient_id = models.UUIDField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = ScopedManager(clinic="clinic")

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "-occurred_at"], name="audit_clinic_time"),
            models.Index(fields=["clinic", "patient_id", "-occurred_at"], name="audit_clinic_patient"),
            models.Index(fields=["clinic", "actor", "-occurred_at"], name="audit_clinic_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}"


class AuditChainHead(models.Model):
    """The last hash of each chain, locked while an event is appended so chains never fork.

    Only the database writes it (migration audit.0005): `stepdown_audit_lock_head()` creates and locks a
    row, an AFTER INSERT trigger on the events moves it and counts the events. The app role may only read
    it. Holds hashes and counts only (no patient data), so it needs no row-level security.
    """

    app_role_read_only = True  # INSERT/UPDATE/DELETE revoked from the app role after every migrate

    chain = models.CharField(max_length=32, primary_key=True)
    last_hash = models.CharField(max_length=64)
    last_event_id = models.BigIntegerField(null=True)
    event_count = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.chain} → #{self.last_event_id}"
