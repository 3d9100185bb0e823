"""42 CFR Part 2 consents, their recipients, and the accounting of disclosures.

A consent carries every §2.31(a) element. Once signed it never changes: revocation and the expiry event
are appended (they fill fields that were empty), and a changed wish is a new consent. Disclosures are
append-only rows (a database trigger refuses UPDATE and DELETE), one per patient per disclosure.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from clinic.tenancy.models import TenantModel
from patients.consent import rules
from patients.models import Patient


def _choices(mapping: dict[str, str]) -> list[tuple[str, str]]:
    return list(mapping.items())


class Recipient(TenantModel):
    """A person or organisation that may receive a patient's information."""

    name = models.CharField(max_length=200)
    kind = models.CharField("type", max_length=24, choices=_choices(rules.RECIPIENT_TYPES))
    organization = models.CharField(max_length=200, blank=True)
    address = models.CharField(max_length=500, blank=True)
    phone = models.CharField(max_length=30, blank=True)
    fax = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    participants = models.CharField(
        "named participants",
        max_length=2000,
        blank=True,
        help_text="For an information exchange: the participants who may receive the information "
        "(§2.31(a)(4)(ii)).",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="recipient_clinic_created"),
            models.Index(fields=["clinic", "name"], name="recipient_clinic_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class Consent(TenantModel):
    class SignedBy(models.TextChoices):
        PATIENT = "patient", "The patient"
        REPRESENTATIVE = "representative", "An authorized representative"

    class SignatureMethod(models.TextChoices):
        WET = "wet", "Signed on paper"
        ELECTRONIC = "electronic", "Signed electronically"

    class RevocationMethod(models.TextChoices):
        WRITTEN = "written", "In writing"
        ORAL = "oral", "Orally"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consents")
    disclosing_party = models.CharField(
        "who may disclose",
        max_length=200,
        help_text="The program (or persons) allowed to make the disclosure.",
    )
    recipients = models.ManyToManyField(
        Recipient, through="ConsentRecipient", related_name="consents", blank=True
    )
    general_designation = models.BooleanField(
        default=False,
        help_text=f"TPO consents only: recipients described as “{rules.GENERAL_DESIGNATION_TEXT}”.",
    )
    purpose = models.CharField(max_length=20, choices=_choices(rules.PURPOSES))
    purpose_other = models.CharField("purpose (described)", max_length=300, blank=True)
    information_categories = ArrayField(
        models.CharField(max_length=24, choices=_choices(rules.CATEGORIES)), default=list
    )
    information_other = models.CharField("information (described)", max_length=500, blank=True)
    expiry_kind = models.CharField("expires", max_length=8, choices=_choices(rules.EXPIRY_KINDS))
    expires_on = models.DateField(null=True, blank=True)
    expiry_event = models.CharField(max_length=200, blank=True)
    expiry_event_on = models.DateField("expiry event happened on", null=True, blank=True)

    signed_by = models.CharField(max_length=16, choices=SignedBy.choices, blank=True)
    representative_name = models.CharField(max_length=200, blank=True)
    representative_relationship = models.CharField(max_length=100, blank=True)
    signature_method = models.CharField(max_length=12, choices=SignatureMethod.choices, blank=True)
    signature_name = models.CharField(
        "typed signature",
        max_length=200,
        blank=True,
        help_text="For an electronic signature: the name as signed.",
    )
    signed_on = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    revoked_on = models.DateField(null=True, blank=True)
    revocation_method = models.CharField(max_length=8, choices=RevocationMethod.choices, blank=True)
    revocation_reason = models.CharField(max_length=500, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revocation_recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-signed_on", "-created_at"]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="consent_clinic_created"),
            models.Index(fields=["clinic", "patient", "-signed_on"], name="consent_clinic_patient"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_on__isnull=True)
                | models.Q(signed_on__isnull=True)
                | models.Q(expires_on__gt=models.F("signed_on")),
                name="consent_expires_after_signature",
            ),
            models.CheckConstraint(
                condition=models.Q(revoked_on__isnull=True) | models.Q(signed_on__isnull=False),
                name="consent_revoked_only_when_signed",
            ),
        ]

    def __str__(self) -> str:
        return f"Consent {self.get_purpose_display()} ({self.signed_on or 'unsigned'})"

    def facts(self) -> rules.ConsentFacts:
        """The consent as the pure decision sees it; needs `recipient_links` prefetched to stay one query."""
        return rules.ConsentFacts(
            id=self.pk,
            purpose=self.purpose,
            categories=frozenset(self.information_categories),
            recipient_ids=frozenset(link.recipient_id for link in self.recipient_links.all()),
            general_designation=self.general_designation,
            signed_on=self.signed_on,
            expiry_kind=self.expiry_kind,
            expires_on=self.expires_on,
            expiry_event=self.expiry_event,
            expiry_event_on=self.expiry_event_on,
            revoked_on=self.revoked_on,
        )

    def status_on(self, day) -> str:
        return rules.status(self.facts(), day)

    @property
    def status(self) -> str:
        return self.status_on(timezone.localdate())

    @property
    def is_signed(self) -> bool:
        return self.signed_on is not None

    @property
    def category_labels(self) -> list[str]:
        return [rules.CATEGORIES.get(code, code) for code in self.information_categories]

    @property
    def expiry_label(self) -> str:
        if self.expiry_kind == "date" and self.expires_on:
            return f"On {self.expires_on:%b} {self.expires_on.day}, {self.expires_on.year}"
        if self.expiry_kind == "event":
            return f"When this happens: {self.expiry_event}"
        return "No expiration date — valid until revoked in writing (TPO consent)"


class ConsentRecipient(TenantModel):
    """The recipients a consent names. A tenant table (with its clinic) so row-level security covers it."""

    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="recipient_links")
    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "consent", "recipient"], name="consent_recipient_once")
        ]


class Disclosure(TenantModel):
    """One entry of the accounting of disclosures (§2.25): what went to whom, why, how, by which consent."""

    class Channel(models.TextChoices):
        PDF = "pdf", "PDF handed over"
        FAX = "fax", "Fax"
        MAIL = "mail", "Mail"
        API = "api", "API read by an outside system"
        PORTAL = "portal", "Portal"
        EDI = "edi", "Electronic data interchange (X12)"

    append_only = True

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="disclosures")
    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="disclosures")
    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, related_name="disclosures")
    purpose = models.CharField(max_length=20, choices=_choices(rules.PURPOSES))
    information_categories = ArrayField(models.CharField(max_length=24, choices=_choices(rules.CATEGORIES)))
    channel = models.CharField(max_length=8, choices=Channel.choices)
    disclosed_at = models.DateTimeField(default=timezone.now)
    disclosed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    disclosed_by_label = models.CharField(max_length=254, blank=True, help_text="Staff email or API client")
    description = models.CharField(max_length=500)
    document_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-disclosed_at"]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="disclosure_clinic_created"),
            models.Index(fields=["clinic", "patient", "-disclosed_at"], name="disclosure_clinic_patient"),
        ]

    def __str__(self) -> str:
        return f"{self.disclosed_at:%Y-%m-%d} to {self.recipient_id} ({self.channel})"

    @property
    def category_labels(self) -> list[str]:
        return [rules.CATEGORIES.get(code, code) for code in self.information_categories]


class RedisclosureNotice(TenantModel):
    """The §2.32 statement this clinic prints on every consented disclosure, and whether an admin has
    checked its wording against the eCFR. Editing the text clears the check."""

    class Statement(models.TextChoices):
        STATEMENT_1 = "1", "Statement 1 (full notice)"
        STATEMENT_2 = "2", "Statement 2 (short notice)"

    statement = models.CharField(max_length=1, choices=Statement.choices, default=Statement.STATEMENT_1)
    text = models.CharField(max_length=4000)
    verified_sha256 = models.CharField(max_length=64, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic"], name="notice_one_per_clinic")]

    def __str__(self) -> str:
        return f"Redisclosure notice ({self.get_statement_display()})"

    @staticmethod
    def fingerprint(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def is_verified(self) -> bool:
        return bool(self.verified_sha256) and self.verified_sha256 == self.fingerprint(self.text)
