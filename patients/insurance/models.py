"""Coverages, verifications of benefits, electronic eligibility checks and authorizations.

Field rules that X12 also enforces (member id, payer id, NPI) come from the pure package
`patients.eligibility`, so a coverage that saves is one a 270 can carry.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from clinic.tenancy.models import TenantModel
from patients.eligibility.inquiry import MEMBER_ID_PATTERN
from patients.insurance.validators import validate_npi
from patients.levels_of_care import CHOICES as LEVEL_CHOICES
from patients.models import Patient

NOTES_MAX = 2000
member_id_validator = RegexValidator(
    MEMBER_ID_PATTERN, "Use 2–80 letters, digits or dashes (no spaces), exactly as printed on the card."
)
payer_id_validator = RegexValidator(
    r"^[A-Za-z0-9-]{2,80}$", "Use 2–80 letters, digits or dashes (the payer id your clearinghouse lists)."
)
group_number_validator = RegexValidator(r"^[A-Za-z0-9-]{1,50}$", "Use up to 50 letters, digits or dashes.")
x12_id_validator = RegexValidator(r"^[A-Za-z0-9]{1,15}$", "Use 1–15 letters or digits.")


class YesNoUnknown(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"
    UNKNOWN = "unknown", "Unknown"


class ClinicBillingProfile(TenantModel):
    """Who the clinic is to payers and its clearinghouse: one per clinic, needed before any 270 leaves."""

    class Usage(models.TextChoices):
        TEST = "T", "Test (T)"
        PRODUCTION = "P", "Production (P)"

    organization_name = models.CharField(max_length=60, help_text="As registered with payers (2100B NM103).")
    npi = models.CharField("NPI", max_length=10, validators=[validate_npi])
    submitter_id = models.CharField(
        max_length=15, validators=[x12_id_validator], help_text="Your id at the clearinghouse (ISA06/GS02)."
    )
    receiver_id = models.CharField(
        max_length=15, validators=[x12_id_validator], help_text="The clearinghouse's id (ISA08/GS03)."
    )
    usage_indicator = models.CharField(
        "X12 usage", max_length=1, choices=Usage.choices, default=Usage.TEST, help_text="ISA15."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic"], name="billing_profile_one_per_clinic")]

    def __str__(self) -> str:
        return f"{self.organization_name} (NPI {self.npi})"


class Coverage(TenantModel):
    class Relationship(models.TextChoices):
        SELF = "self", "Self"
        SPOUSE = "spouse", "Spouse"
        CHILD = "child", "Child"
        OTHER = "other", "Other adult"

    class Priority(models.TextChoices):
        PRIMARY = "primary", "Primary"
        SECONDARY = "secondary", "Secondary"
        TERTIARY = "tertiary", "Tertiary"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="coverages")
    payer_name = models.CharField(max_length=60)
    payer_id = models.CharField("Payer id", max_length=80, validators=[payer_id_validator])
    plan_name = models.CharField(max_length=80, blank=True)
    member_id = models.CharField("Member id", max_length=80, validators=[member_id_validator])
    group_number = models.CharField(max_length=50, blank=True, validators=[group_number_validator])
    subscriber_relationship = models.CharField(
        "Patient's relationship to subscriber", max_length=8, choices=Relationship.choices, default="self"
    )
    subscriber_first_name = models.CharField(max_length=35, blank=True)
    subscriber_last_name = models.CharField(max_length=60, blank=True)
    subscriber_date_of_birth = models.DateField(null=True, blank=True)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.PRIMARY)
    is_active = models.BooleanField("Active", default=True)

    class Meta:
        ordering = ["patient", "-is_active", "priority", "-effective_from"]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="coverage_clinic_created"),
            models.Index(fields=["clinic", "patient"], name="coverage_clinic_patient"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(effective_to__isnull=True)
                | models.Q(effective_to__gte=models.F("effective_from")),
                name="coverage_ends_after_start",
            ),
            models.UniqueConstraint(
                fields=["clinic", "patient", "priority"],
                condition=models.Q(is_active=True),
                name="coverage_one_active_per_priority",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payer_name} ({self.get_priority_display()})"

    @property
    def patient_is_subscriber(self) -> bool:
        return self.subscriber_relationship == self.Relationship.SELF


class EligibilityCheck(TenantModel):
    """One electronic inquiry (270) and its answer (271)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent, waiting for the payer"
        ANSWERED = "answered", "Answered"
        REJECTED = "rejected", "Rejected by the payer"
        ERROR = "error", "Error"

    coverage = models.ForeignKey(Coverage, on_delete=models.PROTECT, related_name="eligibility_checks")
    trace_number = models.CharField(max_length=50)
    interchange_control_number = models.PositiveIntegerField()
    service_types = ArrayField(models.CharField(max_length=2), default=list)
    request_text = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    response_text = models.TextField(blank=True)
    summary = models.JSONField(default=dict, blank=True)
    rejections = models.JSONField(default=list, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="eligcheck_clinic_created"),
            models.Index(fields=["clinic", "status"], name="eligcheck_clinic_status"),
            models.Index(fields=["clinic", "coverage"], name="eligcheck_clinic_coverage"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "trace_number"], name="eligcheck_trace_unique_per_clinic"
            ),
        ]

    def __str__(self) -> str:
        return f"Eligibility check {self.trace_number} ({self.get_status_display()})"

    @property
    def awaiting_response(self) -> bool:
        return self.status in (self.Status.SENT, self.Status.ERROR)


class BenefitVerification(TenantModel):
    """What the payer said about benefits on one day, by phone, portal or an electronic 271."""

    class Method(models.TextChoices):
        PHONE = "phone", "Phone"
        PORTAL = "portal", "Payer portal"
        ELECTRONIC = "electronic", "Electronic (270/271)"

    coverage = models.ForeignKey(Coverage, on_delete=models.PROTECT, related_name="verifications")
    method = models.CharField(max_length=10, choices=Method.choices)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField()
    reference_number = models.CharField(max_length=80, blank=True)
    coverage_active = models.CharField(
        max_length=7, choices=YesNoUnknown.choices, default=YesNoUnknown.UNKNOWN
    )
    iop_covered = models.CharField(
        "IOP covered", max_length=7, choices=YesNoUnknown.choices, default="unknown"
    )
    php_covered = models.CharField(
        "PHP covered", max_length=7, choices=YesNoUnknown.choices, default="unknown"
    )
    copay_amount = models.DecimalField(
        max_digits=9, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    coinsurance_percent = models.DecimalField(
        "Coinsurance %",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    deductible_amount = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    deductible_met = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    out_of_pocket_max = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    out_of_pocket_met = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    prior_authorization_required = models.CharField(
        max_length=7, choices=YesNoUnknown.choices, default=YesNoUnknown.UNKNOWN
    )
    in_network = models.CharField(max_length=7, choices=YesNoUnknown.choices, default=YesNoUnknown.UNKNOWN)
    notes = models.TextField(blank=True, validators=[MaxLengthValidator(NOTES_MAX)])
    eligibility_check = models.OneToOneField(
        EligibilityCheck, on_delete=models.PROTECT, null=True, blank=True, related_name="verification"
    )

    class Meta:
        ordering = ["-verified_at", "-created_at"]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="verification_clinic_created"),
            models.Index(fields=["clinic", "coverage", "verified_at"], name="verification_clinic_cov"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(method="electronic") | models.Q(eligibility_check__isnull=True),
                name="verification_check_only_electronic",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} verification {self.verified_at:%Y-%m-%d}"


class Authorization(TenantModel):
    """A payer's authorization (utilization review) of units or days at one level of care."""

    class UnitType(models.TextChoices):
        DAYS = "days", "Days"
        SESSIONS = "sessions", "Sessions"
        UNITS = "units", "Units"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PENDING = "pending", "Pending"
        DENIED = "denied", "Denied"
        EXPIRED = "expired", "Expired"

    coverage = models.ForeignKey(Coverage, on_delete=models.PROTECT, related_name="authorizations")
    level_of_care = models.CharField(max_length=8, choices=LEVEL_CHOICES)
    authorization_number = models.CharField(max_length=50, blank=True)
    units_authorized = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(1000)])
    unit_type = models.CharField(max_length=8, choices=UnitType.choices, default=UnitType.DAYS)
    start_date = models.DateField()
    end_date = models.DateField()
    next_review_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    notes = models.TextField(blank=True, validators=[MaxLengthValidator(NOTES_MAX)])

    class Meta:
        ordering = ["-start_date", "-created_at"]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="auth_clinic_created"),
            models.Index(fields=["clinic", "coverage"], name="auth_clinic_coverage"),
            models.Index(fields=["clinic", "status", "next_review_date"], name="auth_clinic_review"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")), name="auth_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_level_of_care_display()} authorization {self.authorization_number or '(no number)'}"
        )


class AuthorizationUsage(TenantModel):
    """Units used against an authorization: entered by hand now, fed from attendance later."""

    class Source(models.TextChoices):
        MANUAL = "manual", "Manual entry"
        ATTENDANCE = "attendance", "Attendance"

    authorization = models.ForeignKey(Authorization, on_delete=models.PROTECT, related_name="usages")
    service_date = models.DateField("Date of service")
    units = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    # The attendance row this usage came from, so re-feeding attendance never counts a day twice.
    source_key = models.CharField(max_length=64, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-service_date", "-created_at"]
        indexes = [models.Index(fields=["clinic", "authorization"], name="authusage_clinic_auth")]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "authorization", "source", "source_key"],
                condition=~models.Q(source_key=""),
                name="authusage_source_key_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.units} on {self.service_date}"
