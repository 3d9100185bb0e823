"""API clients: per-clinic bearer tokens for EHR and device integrations.

A platform table like Membership: the token is looked up before any clinic is known, so the row cannot
sit behind row-level security. It holds no patient data; only a SHA-256 of the token is stored (tokens
are 256-bit random, so a fast hash is enough and lookups stay one index probe).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from clinic.tenancy.models import Clinic, TenantModel
from clinic.tenancy.roles import ROLE_CHOICES, Perm, role_allows
from patients.consent.rules import PURPOSES


class ApiClient(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="api_clients")
    name = models.CharField(max_length=100, help_text="Which system uses this token, e.g. 'Epic sync'")
    roles = ArrayField(models.CharField(max_length=32, choices=ROLE_CHOICES), default=list)
    token_prefix = models.CharField(max_length=16, help_text="Shown to staff to tell tokens apart")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # 42 CFR Part 2: is a read by this client a disclosure? The clinic's own systems (its EHR, its devices)
    # are internal communications within the program (§2.12(c)(3)); an outside system is a recipient, and
    # its patient-data reads pass the consent gate and are accounted (api.base.ClinicViewSet).
    is_outside_system = models.BooleanField(
        "outside system",
        default=False,
        help_text="Its reads leave the program: they need the patient's consent and are accounted.",
    )
    recipient = models.ForeignKey(
        "consent.Recipient", null=True, blank=True, on_delete=models.PROTECT, related_name="api_clients"
    )
    disclosure_purpose = models.CharField(
        max_length=20, blank=True, choices=list(PURPOSES.items()), help_text="Why this outside system reads."
    )

    class Meta:
        ordering = ["clinic", "name"]
        indexes = [models.Index(fields=["clinic", "revoked_at"], name="apiclient_clinic_active")]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows(self, perm: Perm) -> bool:
        return self.is_active and role_allows(self.roles, perm)


class IdempotencyKey(TenantModel):
    """A POST answered under an `Idempotency-Key`: a client that retries (after a timeout, say) gets the
    first answer again instead of creating a second record."""

    key = models.CharField(max_length=100)
    principal = models.CharField(max_length=64, help_text="Who sent it: user:<id> or client:<id>")
    fingerprint = models.CharField(max_length=64, help_text="sha256 of method, path and body")
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "principal", "key"], name="idempotency_key_unique"),
        ]
        indexes = [models.Index(fields=["clinic", "created_at"], name="idempotency_clinic_created")]
