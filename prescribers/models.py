"""Prescribers, pharmacies, every medication a patient has from every source, PDMP imports and their fills,
and the coordination that consolidates benzodiazepine prescribing under one plan.

Rows are written only by prescribers.services. A medication or a dispensation is classified (ingredient,
class) once, when it is written, from the drug table (prescribers/drugs.py); the co-prescription rules read
those columns. The drug table itself is reference data shared by every clinic (`Drug`, not a tenant table).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from clinic.tenancy.models import TenantModel
from patients.consent.models import Disclosure, Recipient
from patients.models import Patient
from patients.validators import name_validator, phone_validator
from prescribers import drugs

AMOUNT = {"max_digits": 12, "decimal_places": 4, "null": True, "blank": True}
DRUG_CLASS_CHOICES = [(code, spec.label) for code, spec in drugs.classes().items()]


class StrengthUnit(models.TextChoices):
    MG = "mg", "mg"
    MCG_PER_HOUR = "mcg/h", "mcg/hour (patch)"
    MG_PER_ML = "mg/mL", "mg/mL (liquid)"


class DoseUnit(models.TextChoices):
    MG = "mg", "mg"
    TABLET = "tablet", "tablet(s)"
    CAPSULE = "capsule", "capsule(s)"
    PATCH = "patch", "patch(es)"
    ML = "mL", "mL"


class Drug(models.Model):
    """The drug table loaded from prescribers/data/drugs.json by `manage.py load_drug_table` (and the data
    migration). Shared reference data, like a code system: not owned by a clinic."""

    ingredient = models.CharField(max_length=60, unique=True)
    drug_class = models.CharField(max_length=24, choices=DRUG_CLASS_CHOICES)
    rxcui = models.CharField("RxNorm ingredient code", max_length=12, blank=True)
    rxcui_status = models.CharField(max_length=1)
    names = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    source = models.CharField(max_length=500)
    table_version = models.PositiveIntegerField()

    class Meta:
        ordering = ["drug_class", "ingredient"]

    def __str__(self) -> str:
        return f"{self.ingredient} ({self.get_drug_class_display()})"


class Prescriber(TenantModel):
    """A prescriber the clinic coordinates with: outside the program (the patient's PCP, a pain clinic…)
    or in it (the program's psychiatrist). NPI and DEA are unique per clinic when given."""

    first_name = models.CharField(max_length=80, validators=[name_validator])
    last_name = models.CharField(max_length=80, validators=[name_validator])
    credentials = models.CharField(max_length=40, blank=True, help_text="e.g. MD, DO, NP, PA-C")
    npi = models.CharField("NPI", max_length=10, blank=True)
    dea = models.CharField("DEA number", max_length=9, blank=True)
    state_license = models.CharField("state licence number", max_length=30, blank=True)
    license_state = models.CharField("licence state", max_length=2, blank=True)
    specialty = models.CharField(max_length=100, blank=True)
    practice = models.CharField(max_length=200, blank=True)
    address = models.CharField(max_length=500, blank=True)
    phone = models.CharField(max_length=30, blank=True, validators=[phone_validator])
    fax = models.CharField(max_length=30, blank=True, validators=[phone_validator])
    secure_address = models.CharField(
        "secure message address", max_length=254, blank=True, help_text="Direct address or secure e-mail"
    )
    in_program = models.BooleanField(
        "prescribes in this program",
        default=False,
        help_text="The program's own prescriber: not counted as an extra prescriber when looking for "
        "multiple-provider episodes.",
    )
    recipient = models.OneToOneField(
        Recipient,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="prescriber",
        help_text="The Part 2 recipient consents name when the clinic writes to this prescriber.",
    )
    is_active = models.BooleanField(default=True)
    notes = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "npi"], condition=~Q(npi=""), name="prescriber_npi_unique"
            ),
            models.UniqueConstraint(
                fields=["clinic", "dea"], condition=~Q(dea=""), name="prescriber_dea_unique"
            ),
        ]
        # Name order with `id` last: the API list's page order (api.pagination) read without a sort.
        indexes = [
            models.Index(fields=["clinic", "last_name", "first_name", "id"], name="prescriber_name_id")
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}"
        return f"{name}, {self.credentials}" if self.credentials else name

    @property
    def key(self) -> str:
        """How the rules tell prescribers apart (the same person in a PDMP report and in the registry)."""
        if self.npi:
            return f"npi:{self.npi}"
        if self.dea:
            return f"dea:{self.dea}"
        return f"id:{self.pk}"


class Pharmacy(TenantModel):
    name = models.CharField(max_length=200, validators=[name_validator])
    npi = models.CharField("NPI", max_length=10, blank=True)
    ncpdp = models.CharField("NCPDP id", max_length=7, blank=True)
    dea = models.CharField("DEA number", max_length=9, blank=True)
    phone = models.CharField(max_length=30, blank=True, validators=[phone_validator])
    address = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "pharmacies"
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "npi"], condition=~Q(npi=""), name="pharmacy_npi_unique"
            ),
            models.UniqueConstraint(
                fields=["clinic", "ncpdp"], condition=~Q(ncpdp=""), name="pharmacy_ncpdp_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def key(self) -> str:
        if self.npi:
            return f"npi:{self.npi}"
        if self.ncpdp:
            return f"ncpdp:{self.ncpdp}"
        if self.dea:
            return f"dea:{self.dea}"
        return f"id:{self.pk}"


class ClassifiedDrug(TenantModel):
    """What every medication-like row shares: the drug as the source wrote it, and its classification."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    drug_text = models.CharField("drug", max_length=300, validators=[name_validator])
    rxnorm = models.CharField("RxNorm code", max_length=12, blank=True)
    # Set by the service from the drug table, never typed.
    ingredient = models.CharField(max_length=60, blank=True, editable=False)
    drug_class = models.CharField(max_length=24, blank=True, choices=DRUG_CLASS_CHOICES, editable=False)
    strength = models.DecimalField(**AMOUNT)
    strength_unit = models.CharField(max_length=6, blank=True, choices=StrengthUnit.choices)
    form = models.CharField(max_length=40, blank=True)
    prescriber = models.ForeignKey(
        Prescriber, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    pharmacy = models.ForeignKey(Pharmacy, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        abstract = True

    @property
    def class_label(self) -> str:
        return self.get_drug_class_display() if self.drug_class else "Not classified"


class Medication(ClassifiedDrug):
    """A medication order or statement: entered by staff or sent by an EHR. PDMP fills are Dispensations;
    what the patient reported at inquiry/intake stays in patients.ReportedMedication; the program's own
    benzodiazepine is the taper plan. The medication list shows all four."""

    class Source(models.TextChoices):
        STAFF = "staff", "Entered by staff"
        EHR = "ehr", "Imported from an EHR"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        STOPPED = "stopped", "Stopped"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="medications")
    source = models.CharField(max_length=8, choices=Source.choices, editable=False)
    route = models.CharField(max_length=40, blank=True, default="oral")
    dose = models.DecimalField(**AMOUNT)
    dose_unit = models.CharField(max_length=8, blank=True, choices=DoseUnit.choices)
    doses_per_day = models.DecimalField(
        "doses per day", max_digits=6, decimal_places=3, null=True, blank=True
    )
    as_needed = models.BooleanField("as needed (PRN)", default=False)
    sig = models.CharField("directions as written", max_length=300, blank=True)
    indication = models.CharField(
        max_length=10, blank=True, choices=[("", "—"), ("oud", "Opioid-use disorder"), ("pain", "Pain")]
    )
    quantity = models.DecimalField(**AMOUNT)
    days_supply = models.PositiveSmallIntegerField(null=True, blank=True)
    written_on = models.DateField(null=True, blank=True)
    start_on = models.DateField()
    end_on = models.DateField(null=True, blank=True, help_text="Last day covered; empty while it continues")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    stopped_on = models.DateField(null=True, blank=True)
    stop_reason = models.CharField(max_length=300, blank=True)
    external_system = models.CharField(max_length=200, blank=True, editable=False)
    external_id = models.CharField(max_length=200, blank=True, editable=False)
    provenance = models.CharField(max_length=300, blank=True, editable=False)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    entered_by_label = models.CharField(max_length=254, blank=True, editable=False)

    class Meta:
        ordering = ["status", "-start_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "external_system", "external_id"],
                condition=~Q(external_id=""),
                name="medication_one_per_ehr_id",
            ),
            models.CheckConstraint(
                condition=Q(end_on__isnull=True) | Q(end_on__gte=models.F("start_on")),
                name="medication_end_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["clinic", "patient", "start_on"], name="medication_patient"),
            models.Index(fields=["clinic", "updated_at", "id"], name="medication_updated"),
        ]

    def __str__(self) -> str:
        return self.drug_text


class PdmpImport(TenantModel):
    """One PDMP report brought in for one patient, with its provenance. What is kept of the report itself
    follows the state's storage policy at the time of the import."""

    class Format(models.TextChoices):
        FHIR = "fhir", "FHIR bundle ($pdmp-history)"
        CSV = "csv", "CSV report export"
        PDF = "pdf", "PDF report"
        VIEWED = "viewed", "Viewed at the state portal"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="pdmp_imports")
    state = models.CharField(max_length=2)
    format = models.CharField(max_length=8, choices=Format.choices)
    storage_policy = models.CharField(max_length=8)
    queried_at = models.DateTimeField(null=True, blank=True, help_text="When the PDMP was queried")
    transaction_id = models.CharField("gateway transaction id", max_length=200, blank=True)
    report_sha256 = models.CharField(max_length=64, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    raw = models.TextField(blank=True, help_text="The report as received (only where the state allows)")
    pdf = models.BinaryField(null=True, blank=True, editable=False)
    patient_name_on_report = models.CharField(max_length=200, blank=True)
    patient_birth_date_on_report = models.DateField(null=True, blank=True)
    fill_count = models.PositiveIntegerField(default=0, help_text="Fills in the report")
    new_fill_count = models.PositiveIntegerField(default=0, help_text="Fills not already on file")
    note = models.CharField(max_length=1000, blank=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    imported_by_label = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "patient", "report_sha256"],
                condition=~Q(report_sha256=""),
                name="pdmpimport_once_per_report",
            )
        ]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="pdmpimport_clinic_created"),
            models.Index(fields=["clinic", "patient", "created_at"], name="pdmpimport_patient"),
        ]

    def __str__(self) -> str:
        return f"PDMP {self.state} {self.created_at:%Y-%m-%d}"


class Dispensation(ClassifiedDrug):
    """A fill the state PDMP reports (mirrors the HL7 PDMP IG's MedicationDispense). Immutable facts: the
    same fill in a later report (same fingerprint) adds nothing."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="dispensations")
    pdmp_import = models.ForeignKey(PdmpImport, on_delete=models.PROTECT, related_name="dispensations")
    fingerprint = models.CharField(max_length=64)
    filled_on = models.DateField()
    written_on = models.DateField(null=True, blank=True)
    supply_end = models.DateField(help_text="Last day the days supply covers")
    ndc = models.CharField("NDC", max_length=11, blank=True)
    quantity = models.DecimalField(max_digits=12, decimal_places=4)
    quantity_unit = models.CharField(max_length=20, blank=True)
    days_supply = models.PositiveSmallIntegerField()
    daily_amount = models.DecimalField(
        **AMOUNT, help_text="Ingredient per day: mg (mcg/hour for a patch), from strength × quantity ÷ days"
    )
    fill_number = models.PositiveSmallIntegerField(null=True, blank=True)
    refills_authorized = models.PositiveSmallIntegerField(null=True, blank=True)
    rx_number = models.CharField(max_length=40, blank=True)
    payment_method = models.CharField(max_length=40, blank=True)
    reported_mme = models.DecimalField("MME/day as reported", **AMOUNT)
    reported_lme = models.DecimalField("LME/day as reported", **AMOUNT)
    prescriber_name = models.CharField(max_length=200, blank=True, help_text="As the report names them")
    pharmacy_name = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-filled_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "patient", "fingerprint"], name="dispensation_once"),
            models.CheckConstraint(
                condition=Q(supply_end__gte=models.F("filled_on")), name="dispensation_supply"
            ),
        ]
        indexes = [
            models.Index(fields=["clinic", "patient", "filled_on"], name="dispensation_patient"),
            models.Index(fields=["clinic", "supply_end"], name="dispensation_supply_end"),
            models.Index(fields=["clinic", "updated_at", "id"], name="dispensation_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.drug_text} filled {self.filled_on}"


class PdmpStatePolicy(TenantModel):
    """What the clinic may keep of a state's PDMP report (state rules differ: raw data, a stored PDF only,
    or display only). Set by the clinic admin; an import from a state without a policy is refused."""

    class Storage(models.TextChoices):
        RAW = "raw", "Keep the data (fills are stored and checked by the rules)"
        PDF = "pdf", "Keep the PDF report only"
        DISPLAY = "display", "Display only (record that the report was reviewed)"

    state = models.CharField(max_length=2)
    storage = models.CharField(max_length=8, choices=Storage.choices)
    note = models.CharField(max_length=500, blank=True, help_text="e.g. the state rule this follows")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["state"]
        verbose_name_plural = "PDMP state policies"
        constraints = [models.UniqueConstraint(fields=["clinic", "state"], name="pdmppolicy_one_per_state")]

    def __str__(self) -> str:
        return f"{self.state}: {self.get_storage_display()}"


class PrescribingSettings(TenantModel):
    """A clinic's co-prescription thresholds: overrides of prescribers/data/corx_rules.json that may only
    tighten the guideline values (checked by prescribers.rules.thresholds_for)."""

    overrides = models.JSONField(default=dict, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name_plural = "prescribing settings"
        constraints = [models.UniqueConstraint(fields=["clinic"], name="prescribingsettings_one_per_clinic")]


class PatientPrescriber(TenantModel):
    """A prescriber of record for a patient. At most one current benzodiazepine prescriber of record: the
    consolidation the taper plan depends on."""

    class Role(models.TextChoices):
        BENZODIAZEPINE = "benzo", "Benzodiazepine prescriber of record"
        OTHER = "other", "Other prescriber"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="prescribers_of_record")
    prescriber = models.ForeignKey(Prescriber, on_delete=models.PROTECT, related_name="patients_of_record")
    role = models.CharField(max_length=8, choices=Role.choices)
    since = models.DateField()
    until = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["role", "-since", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "patient"],
                condition=Q(role="benzo", until__isnull=True),
                name="one_benzo_prescriber_of_record",
            ),
            models.UniqueConstraint(
                fields=["clinic", "patient", "prescriber"],
                condition=Q(until__isnull=True),
                name="patientprescriber_current_once",
            ),
        ]
        indexes = [models.Index(fields=["clinic", "patient", "role"], name="patientprescriber_patient")]

    def __str__(self) -> str:
        return f"{self.prescriber} — {self.get_role_display()}"


class CoordinationEntry(TenantModel):
    """The coordination log: calls, faxes, letters and replies with a patient's prescribers. Append-only."""

    class Kind(models.TextChoices):
        CALL = "call", "Phone call"
        FAX = "fax", "Fax"
        LETTER = "letter", "Letter"
        MESSAGE = "message", "Secure message"
        REPLY = "reply", "Reply received"
        NOTE = "note", "Note"

    class Direction(models.TextChoices):
        OUT = "out", "To the prescriber"
        IN = "in", "From the prescriber"
        NONE = "", "—"

    append_only = True

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="coordination_entries")
    prescriber = models.ForeignKey(
        Prescriber, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    direction = models.CharField(max_length=3, choices=Direction.choices, blank=True)
    at = models.DateTimeField()
    summary = models.CharField(max_length=2000, validators=[name_validator])
    disclosure = models.ForeignKey(
        Disclosure, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_by_label = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["-at", "-created_at"]
        verbose_name_plural = "coordination entries"
        indexes = [models.Index(fields=["clinic", "patient", "at"], name="coordination_patient")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d}"


class CoordinationTask(TenantModel):
    """Something to do with a prescriber by a date (shown on Today). Tasks Stepdown opens itself carry a
    reason key, so finding the same reason twice opens one task."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="coordination_tasks")
    prescriber = models.ForeignKey(
        Prescriber, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    title = models.CharField(max_length=300, validators=[name_validator])
    due_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    reason_key = models.CharField(max_length=200, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["status", "due_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "reason_key"],
                condition=~Q(reason_key=""),
                name="coordinationtask_once_per_reason",
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(done_at__isnull=False), name="coordinationtask_closed_when"
            ),
        ]
        indexes = [models.Index(fields=["clinic", "status", "due_on"], name="coordinationtask_due")]

    def __str__(self) -> str:
        return self.title
