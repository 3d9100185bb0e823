"""The patient record core. Intake, insurance and consent (a later issue) extend it."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from clinic.tenancy.models import TenantModel
from patients.codes import BENZODIAZEPINE_CHOICES
from patients.levels_of_care import CHOICES as LEVEL_CHOICES
from patients.validators import (
    identifier_system_validator,
    identifier_value_validator,
    mrn_validator,
    name_validator,
    phone_validator,
    validate_date_of_birth,
    validate_diagnosis_code,
    validate_not_future,
    zip_validator,
)

US_STATES = [
    ("AL", "Alabama"), ("AK", "Alaska"), ("AZ", "Arizona"), ("AR", "Arkansas"), ("CA", "California"),
    ("CO", "Colorado"), ("CT", "Connecticut"), ("DE", "Delaware"), ("DC", "District of Columbia"),
    ("FL", "Florida"), ("GA", "Georgia"), ("HI", "Hawaii"), ("ID", "Idaho"), ("IL", "Illinois"),
    ("IN", "Indiana"), ("IA", "Iowa"), ("KS", "Kansas"), ("KY", "Kentucky"), ("LA", "Louisiana"),
    ("ME", "Maine"), ("MD", "Maryland"), ("MA", "Massachusetts"), ("MI", "Michigan"), ("MN", "Minnesota"),
    ("MS", "Mississippi"), ("MO", "Missouri"), ("MT", "Montana"), ("NE", "Nebraska"), ("NV", "Nevada"),
    ("NH", "New Hampshire"), ("NJ", "New Jersey"), ("NM", "New Mexico"), ("NY", "New York"),
    ("NC", "North Carolina"), ("ND", "North Dakota"), ("OH", "Ohio"), ("OK", "Oklahoma"), ("OR", "Oregon"),
    ("PA", "Pennsylvania"), ("RI", "Rhode Island"), ("SC", "South Carolina"), ("SD", "South Dakota"),
    ("TN", "Tennessee"), ("TX", "Texas"), ("UT", "Utah"), ("VT", "Vermont"), ("VA", "Virginia"),
    ("WA", "Washington"), ("WV", "West Virginia"), ("WI", "Wisconsin"), ("WY", "Wyoming"),
    ("AS", "American Samoa"), ("GU", "Guam"), ("MP", "Northern Mariana Islands"), ("PR", "Puerto Rico"),
    ("VI", "U.S. Virgin Islands"),
]  # fmt: skip


class Patient(TenantModel):
    class Status(models.TextChoices):
        INTAKE = "intake", "In intake"
        ACTIVE = "active", "Active"
        ON_HOLD = "on_hold", "On hold"
        DISCHARGED = "discharged", "Discharged"

    class SexAtBirth(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        INTERSEX = "intersex", "Intersex"
        UNKNOWN = "unknown", "Unknown / not disclosed"

    class MaritalStatus(models.TextChoices):
        SINGLE = "single", "Single"
        MARRIED = "married", "Married"
        PARTNERED = "partnered", "Domestic partner"
        SEPARATED = "separated", "Separated"
        DIVORCED = "divorced", "Divorced"
        WIDOWED = "widowed", "Widowed"
        UNDISCLOSED = "undisclosed", "Prefer not to say"

    mrn = models.CharField(
        "MRN", max_length=20, validators=[mrn_validator], help_text="Clinic medical record number"
    )
    first_name = models.CharField(max_length=100, validators=[name_validator])
    last_name = models.CharField(max_length=100, validators=[name_validator])
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField(validators=[validate_date_of_birth])
    sex_at_birth = models.CharField(max_length=10, choices=SexAtBirth.choices, default=SexAtBirth.UNKNOWN)
    pronouns = models.CharField(max_length=40, blank=True)
    phone = models.CharField(max_length=30, blank=True, validators=[phone_validator])
    email = models.EmailField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.INTAKE)
    address_line1 = models.CharField("Address line 1", max_length=200, blank=True)
    address_line2 = models.CharField("Address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, choices=US_STATES, blank=True)
    zip_code = models.CharField("ZIP code", max_length=10, blank=True, validators=[zip_validator])
    preferred_language = models.CharField(max_length=60, blank=True, help_text="e.g. English, Spanish")
    marital_status = models.CharField(max_length=12, choices=MaritalStatus.choices, blank=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "mrn"], name="patient_mrn_unique_per_clinic")
        ]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="patient_clinic_created"),
            models.Index("clinic", Upper("last_name"), Upper("first_name"), name="patient_clinic_name"),
            models.Index(fields=["clinic", "status"], name="patient_clinic_status"),
            models.Index(fields=["clinic", "updated_at"], name="patient_clinic_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.mrn})"

    @property
    def display_name(self) -> str:
        first = self.preferred_name or self.first_name
        return f"{first} {self.last_name}"

    @property
    def age(self) -> int:
        today = timezone.localdate()
        born = self.date_of_birth
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

    @property
    def address_lines(self) -> list[str]:
        place = " ".join(
            part for part in (f"{self.city}," if self.city else "", self.state, self.zip_code) if part
        )
        return [line for line in (self.address_line1, self.address_line2, place.rstrip(",")) if line]


class CareEpisode(TenantModel):
    """One stretch of treatment at one level of care (PHP → IOP → outpatient step-down).

    Episodes are closed, never edited away: a step-down ends one episode and opens the next, so the
    history of levels and the reasons for each change stay readable.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="care_episodes")
    level = models.CharField(max_length=8, choices=LEVEL_CHOICES)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    start_reason = models.CharField(max_length=500, blank=True)
    end_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["started_on", "created_at"]
        indexes = [models.Index(fields=["clinic", "patient", "started_on"], name="episode_clinic_patient")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_on__isnull=True) | models.Q(ended_on__gte=models.F("started_on")),
                name="episode_ends_after_start",
            ),
            models.UniqueConstraint(
                fields=["clinic", "patient"],
                condition=models.Q(ended_on__isnull=True),
                name="episode_one_open_per_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} from {self.started_on}"


# --- the rest of the record: each row belongs to one patient; rows that carry history are closed
# (inactive / resolved / stopped), never deleted ----------------------------------------------------------
NOTE_MAX = 1000


class RecordSource(models.TextChoices):
    """Where a substance-use or medication row came from. Set by the services, never typed in a form."""

    STAFF = "staff", "Entered by staff"
    INQUIRY = "inquiry", "Reported at first contact (inquiry)"


class PatientRecordEntry(TenantModel):
    """Common shape of the record's child rows."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT)

    class Meta:
        abstract = True

    @property
    def is_closed(self) -> bool:
        return False


class PatientContact(PatientRecordEntry):
    """Family, friends and others to call. Whether information may be shared with them is governed by
    42 CFR Part 2 consent; `may_receive_information` is a reminder of the patient's wish, not a consent."""

    class Relationship(models.TextChoices):
        SPOUSE = "spouse", "Spouse / partner"
        PARENT = "parent", "Parent"
        CHILD = "child", "Adult child"
        SIBLING = "sibling", "Sibling"
        FRIEND = "friend", "Friend"
        GUARDIAN = "guardian", "Legal guardian"
        SPONSOR = "sponsor", "Recovery sponsor"
        OTHER = "other", "Other"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="contacts")
    name = models.CharField(max_length=150, validators=[name_validator])
    relationship = models.CharField(max_length=10, choices=Relationship.choices)
    phone = models.CharField(max_length=30, blank=True, validators=[phone_validator])
    email = models.EmailField(blank=True)
    is_emergency_contact = models.BooleanField("Emergency contact", default=False)
    may_receive_information = models.BooleanField(
        "Patient would like this person informed",
        default=False,
        help_text="A reminder only: disclosure needs a signed 42 CFR Part 2 consent naming this person.",
    )
    notes = models.TextField(blank=True, max_length=NOTE_MAX, validators=[MaxLengthValidator(NOTE_MAX)])
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-is_active", "-is_emergency_contact", "name"]
        indexes = [models.Index(fields=["clinic", "patient"], name="contact_clinic_patient")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_relationship_display()})"

    @property
    def is_closed(self) -> bool:
        return not self.is_active


class ExternalIdentifier(PatientRecordEntry):
    """The patient's id in another system (an EHR, a lab, a state registry), for record sync."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="external_identifiers")
    system = models.CharField(
        max_length=255,
        validators=[identifier_system_validator],
        help_text="A URI naming the issuing system, e.g. urn:oid:2.16.840.1.113883.3.1 or https://ehr.example.org/mrn",
    )
    value = models.CharField(max_length=100, validators=[identifier_value_validator])
    label = models.CharField(
        max_length=100, blank=True, help_text="A name staff recognise, e.g. “County EHR MRN”"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-is_active", "system", "value"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "system", "value"], name="identifier_unique_per_clinic")
        ]
        indexes = [models.Index(fields=["clinic", "patient"], name="identifier_clinic_patient")]

    def __str__(self) -> str:
        return f"{self.label or self.system}: {self.value}"

    @property
    def is_closed(self) -> bool:
        return not self.is_active


class Allergy(PatientRecordEntry):
    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"
        UNKNOWN = "unknown", "Unknown"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="allergies")
    substance = models.CharField(max_length=150, validators=[name_validator])
    reaction = models.CharField(max_length=300, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.UNKNOWN)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    noted_on = models.DateField(null=True, blank=True, validators=[validate_not_future])

    class Meta:
        ordering = ["status", "substance"]
        verbose_name_plural = "allergies"
        indexes = [models.Index(fields=["clinic", "patient"], name="allergy_clinic_patient")]

    def __str__(self) -> str:
        return self.substance

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.INACTIVE


class Diagnosis(PatientRecordEntry):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RESOLVED = "resolved", "Resolved"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="diagnoses")
    code = models.CharField("ICD-10-CM code", max_length=8, validators=[validate_diagnosis_code])
    # Copied from patients/codes.py when saved, so the record keeps the wording it was coded with.
    description = models.CharField(max_length=255, editable=False)
    is_primary = models.BooleanField("Primary diagnosis", default=False)
    onset_on = models.DateField("Onset date", null=True, blank=True, validators=[validate_not_future])
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    resolved_on = models.DateField(null=True, blank=True, validators=[validate_not_future])
    notes = models.TextField(blank=True, max_length=NOTE_MAX, validators=[MaxLengthValidator(NOTE_MAX)])

    class Meta:
        ordering = ["status", "-is_primary", "code"]
        verbose_name_plural = "diagnoses"
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="diagnosis_clinic_created"),
            models.Index(fields=["clinic", "patient"], name="diagnosis_clinic_patient"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "patient"],
                condition=models.Q(is_primary=True, status="active"),
                name="diagnosis_one_active_primary",
            ),
            models.CheckConstraint(
                condition=models.Q(resolved_on__isnull=True)
                | models.Q(onset_on__isnull=True)
                | models.Q(resolved_on__gte=models.F("onset_on")),
                name="diagnosis_resolved_after_onset",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.description}"

    def clean(self) -> None:
        if self.onset_on and self.resolved_on and self.resolved_on < self.onset_on:
            raise ValidationError({"resolved_on": "The diagnosis cannot resolve before its onset."})
        if self.status == self.Status.ACTIVE and self.resolved_on:
            raise ValidationError({"resolved_on": "Leave this empty while the diagnosis is active."})

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.RESOLVED


class SubstanceUse(PatientRecordEntry):
    """One substance in the patient's use history, as reported."""

    class Category(models.TextChoices):
        BENZODIAZEPINE = "benzodiazepine", "Benzodiazepine"
        ALCOHOL = "alcohol", "Alcohol"
        OPIOID = "opioid", "Opioid"
        STIMULANT = "stimulant", "Stimulant"
        CANNABIS = "cannabis", "Cannabis"
        Z_DRUG = "z_drug", "Sedative-hypnotic (Z-drug)"
        OTHER = "other", "Other"

    class Unit(models.TextChoices):
        MG = "mg", "mg"
        DRINKS = "drinks", "standard drinks"
        G = "g", "g"
        ML = "mL", "mL"
        OTHER = "other", "other"

    class Route(models.TextChoices):
        ORAL = "oral", "Oral"
        SUBLINGUAL = "sublingual", "Sublingual"
        INTRANASAL = "intranasal", "Intranasal"
        INJECTION = "injection", "Injection"
        SMOKED = "smoked", "Smoked / inhaled"
        OTHER = "other", "Other"

    class Prescribed(models.TextChoices):
        YES = "yes", "Yes"
        NO = "no", "No"
        PARTLY = "partly", "Partly"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="substance_uses")
    category = models.CharField(max_length=16, choices=Category.choices)
    benzodiazepine = models.CharField(max_length=20, choices=BENZODIAZEPINE_CHOICES, blank=True)
    drug_name = models.CharField(max_length=100, blank=True, help_text="For other substances, the name used")
    daily_amount = models.DecimalField(
        "Typical daily amount",
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("10000"))],
    )
    unit = models.CharField(max_length=8, choices=Unit.choices, blank=True)
    route = models.CharField(max_length=12, choices=Route.choices, blank=True)
    frequency = models.CharField(max_length=100, blank=True, help_text="e.g. three times a day, weekends")
    duration_months = models.PositiveSmallIntegerField(
        "Duration of use (months)", null=True, blank=True, validators=[MaxValueValidator(1200)]
    )
    age_at_first_use = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    last_used_on = models.DateField("Last use", null=True, blank=True, validators=[validate_not_future])
    prescribed = models.CharField(max_length=8, choices=Prescribed.choices, blank=True)
    notes = models.TextField(blank=True, max_length=NOTE_MAX, validators=[MaxLengthValidator(NOTE_MAX)])
    source = models.CharField(
        max_length=10, choices=RecordSource.choices, default=RecordSource.STAFF, editable=False
    )

    class Meta:
        ordering = ["category", "created_at"]
        indexes = [models.Index(fields=["clinic", "patient"], name="substance_clinic_patient")]

    def __str__(self) -> str:
        return self.substance_name

    @property
    def substance_name(self) -> str:
        if self.benzodiazepine and self.benzodiazepine != "other":
            return self.get_benzodiazepine_display()
        return self.drug_name or self.get_category_display()

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.category == self.Category.BENZODIAZEPINE:
            if not self.benzodiazepine:
                errors["benzodiazepine"] = (
                    "Choose the benzodiazepine (or “Other benzodiazepine” and name it)."
                )
            elif self.benzodiazepine == "other" and not self.drug_name.strip():
                errors["drug_name"] = "Name the benzodiazepine."
        elif self.benzodiazepine:
            errors["benzodiazepine"] = "Only for the benzodiazepine category."
        if self.daily_amount is not None and not self.unit:
            errors["unit"] = "Give the unit of the daily amount."
        patient = getattr(self, "patient", None) if self.patient_id else None
        if patient is not None:
            if self.age_at_first_use and self.age_at_first_use > patient.age:
                errors["age_at_first_use"] = (
                    f"The patient is {patient.age}; first use cannot be at an older age."
                )
            if self.last_used_on and self.last_used_on < patient.date_of_birth:
                errors["last_used_on"] = "Last use cannot be before the patient's date of birth."
            if self.duration_months and self.duration_months > patient.age * 12 + 12:
                errors["duration_months"] = (
                    "Longer than the patient has been alive; check the number of months."
                )
        if errors:
            raise ValidationError(errors)


class ReportedMedication(PatientRecordEntry):
    """A medication the patient reports taking (at intake or later), not a prescription by the clinic."""

    class Status(models.TextChoices):
        CURRENT = "current", "Current"
        STOPPED = "stopped", "Stopped"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="reported_medications")
    name = models.CharField(max_length=150, validators=[name_validator])
    strength = models.CharField(max_length=60, blank=True, help_text="e.g. 1 mg")
    dose_frequency = models.CharField(
        "Dose and frequency", max_length=150, blank=True, help_text="e.g. 1 tablet twice a day"
    )
    prescriber_name = models.CharField(max_length=150, blank=True)
    indication = models.CharField(max_length=150, blank=True)
    # Set by the service from patients/codes.py, never typed: the flag must follow the name.
    is_benzodiazepine = models.BooleanField(default=False, editable=False)
    reported_on = models.DateField(validators=[validate_not_future])
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CURRENT)
    source = models.CharField(
        max_length=10, choices=RecordSource.choices, default=RecordSource.STAFF, editable=False
    )

    class Meta:
        ordering = ["status", "-is_benzodiazepine", "name"]
        indexes = [models.Index(fields=["clinic", "patient"], name="medication_clinic_patient")]

    def __str__(self) -> str:
        return " ".join(part for part in (self.name, self.strength) if part)

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.STOPPED
