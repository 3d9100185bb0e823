"""Forms for the prescriber pages. They check shapes (numbers, dates, choices from this clinic); the services
decide everything else and the views put the services' refusals back on these fields (apply_errors)."""

from __future__ import annotations

from django import forms

from patients.consent import rules as consent_rules
from patients.consent.models import Disclosure
from prescribers import services
from prescribers.models import (
    CoordinationEntry,
    CoordinationTask,
    Medication,
    PatientPrescriber,
    PdmpStatePolicy,
    Pharmacy,
    Prescriber,
)

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ServiceModelForm(forms.ModelForm):
    """A ModelForm that only parses: the service sets the clinic, patient and classification and validates
    the whole row (one set of messages, in the service's words), so the form skips model validation."""

    def _post_clean(self) -> None:
        return None


class PrescriberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Prescriber) -> str:
        bits = [obj.display_name]
        if obj.practice:
            bits.append(obj.practice)
        if obj.npi:
            bits.append(f"NPI {obj.npi}")
        if not obj.is_active:
            bits.append("inactive")
        return " — ".join(bits)


def active_prescribers(include=None):
    """Active prescribers of this clinic (the tenant manager scopes it), plus `include` (a current choice
    that has since been deactivated)."""
    query = Prescriber.objects.filter(is_active=True)
    if include is not None:
        query = Prescriber.objects.filter(pk=include) | query
    return query.order_by("last_name", "first_name", "id")


# --- the registry -------------------------------------------------------------------------------------
class PrescriberForm(ServiceModelForm):
    class Meta:
        model = Prescriber
        fields = list(services.PRESCRIBER_FIELDS)
        widgets = {
            "address": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 3}),
            "npi": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
            "dea": forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
            "license_state": forms.TextInput(attrs={"size": 2, "autocapitalize": "characters"}),
        }
        help_texts = {
            "npi": "10 digits; the check digit is verified.",
            "dea": "Two letters and seven digits; the check digit is verified.",
        }


class RegistrySearchForm(forms.Form):
    q = forms.CharField(label="Search by name, NPI, DEA or practice", required=False, max_length=100)
    inactive = forms.BooleanField(label="Include inactive prescribers", required=False)


class ActiveForm(forms.Form):
    is_active = forms.TypedChoiceField(
        label="Status",
        choices=[("0", "Deactivate"), ("1", "Reactivate")],
        coerce=lambda value: value == "1",
    )


# --- medications --------------------------------------------------------------------------------------
class MedicationForm(ServiceModelForm):
    prescriber = PrescriberChoiceField(
        queryset=Prescriber.objects.none(),
        required=False,
        empty_label="Not known / not in the registry",
        help_text="Add them to the prescriber registry first if they are missing.",
    )
    pharmacy = forms.ModelChoiceField(
        queryset=Pharmacy.objects.none(), required=False, empty_label="Not known"
    )

    class Meta:
        model = Medication
        fields = list(services.MEDICATION_FIELDS)
        widgets = {
            "start_on": DATE,
            "end_on": DATE,
            "written_on": DATE,
            "sig": forms.TextInput(attrs={"placeholder": "e.g. 1 tablet by mouth twice a day"}),
        }
        labels = {
            "drug_text": "Medicine (name and strength as written)",
            "start_on": "First day",
            "end_on": "Last day covered",
            "written_on": "Date written",
            "doses_per_day": "Doses a day",
        }
        help_texts = {
            "drug_text": "e.g. Alprazolam 1 mg tablet. The drug class is found from this name or the RxNorm "
            "code.",
            "doses_per_day": "For as-needed medicines, the most a day.",
            "end_on": "Leave empty while it continues.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        current = self.instance.prescriber_id if self.instance and self.instance.pk else None
        self.fields["prescriber"].queryset = active_prescribers(include=current)
        self.fields["pharmacy"].queryset = Pharmacy.objects.order_by("name", "id")

    def service_fields(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in services.MEDICATION_FIELDS}


class StopForm(forms.Form):
    stopped_on = forms.DateField(label="Stopped on", widget=DATE)
    reason = forms.CharField(
        label="Why",
        max_length=300,
        widget=forms.TextInput(attrs={"placeholder": "e.g. prescriber agreed to consolidate under the plan"}),
    )


# --- prescribers of record ----------------------------------------------------------------------------
class OfRecordForm(forms.Form):
    prescriber = PrescriberChoiceField(queryset=Prescriber.objects.none(), empty_label="Choose a prescriber")
    role = forms.ChoiceField(
        label="Role",
        choices=PatientPrescriber.Role.choices,
        initial=PatientPrescriber.Role.OTHER,
        widget=forms.RadioSelect,
        help_text="Only a psychiatrist names the benzodiazepine prescriber of record (it is part of the "
        "taper plan). Naming one asks every other prescriber of an active benzodiazepine to consolidate.",
    )
    since = forms.DateField(label="Since", required=False, widget=DATE, help_text="Empty: today.")
    note = forms.CharField(label="Note", max_length=500, required=False)

    def __init__(self, *args, may_name_benzo: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["prescriber"].queryset = active_prescribers()
        if not may_name_benzo:
            self.fields["role"].help_text = (
                "Only a psychiatrist names the benzodiazepine prescriber of record (it is part of the taper "
                "plan); you can add other prescribers of record."
            )


class EndForm(forms.Form):
    until = forms.DateField(label="Ended on", widget=DATE)


# --- coordination -------------------------------------------------------------------------------------
class EntryForm(forms.Form):
    kind = forms.ChoiceField(label="What", choices=CoordinationEntry.Kind.choices, initial="call")
    direction = forms.ChoiceField(
        label="Direction",
        choices=[
            (CoordinationEntry.Direction.OUT, "We contacted the prescriber"),
            (CoordinationEntry.Direction.IN, "The prescriber contacted us"),
            (CoordinationEntry.Direction.NONE, "Not applicable"),
        ],
        initial=CoordinationEntry.Direction.OUT,
        required=False,
    )
    at = forms.DateTimeField(label="When", widget=DATETIME, help_text="Clinic time.")
    prescriber = PrescriberChoiceField(
        queryset=Prescriber.objects.none(), required=False, empty_label="No particular prescriber"
    )
    summary = forms.CharField(
        label="What was said or sent",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Plain facts: who you spoke to, what was agreed, what happens next.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["prescriber"].queryset = active_prescribers()


class TaskForm(forms.Form):
    title = forms.CharField(
        label="What to do",
        max_length=300,
        widget=forms.TextInput(
            attrs={"placeholder": "e.g. Call Dr Hale's office about the alprazolam refill"}
        ),
    )
    due_on = forms.DateField(label="Due", widget=DATE)
    prescriber = PrescriberChoiceField(
        queryset=Prescriber.objects.none(), required=False, empty_label="No particular prescriber"
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["prescriber"].queryset = active_prescribers()


class TaskCloseForm(forms.Form):
    status = forms.ChoiceField(
        label="Outcome",
        choices=[(CoordinationTask.Status.DONE, "Done"), (CoordinationTask.Status.CANCELLED, "Cancelled")],
        widget=forms.RadioSelect,
        initial=CoordinationTask.Status.DONE,
    )
    outcome = forms.CharField(
        label="What happened",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="e.g. Dr Hale agreed not to renew the alprazolam; the plan's prescriber takes over.",
    )


# --- the letter ---------------------------------------------------------------------------------------
SEND_CHANNELS = [
    (Disclosure.Channel.FAX.value, "I will fax the PDF"),
    (Disclosure.Channel.PDF.value, "I will hand over or upload the PDF"),
    (Disclosure.Channel.MAIL.value, "I will print and mail it"),
]


class LetterForm(forms.Form):
    prescriber = PrescriberChoiceField(queryset=Prescriber.objects.none(), empty_label="Choose a prescriber")
    purpose = forms.ChoiceField(
        label="Purpose",
        choices=list(consent_rules.PURPOSES.items()),
        initial="treatment",
        help_text="Coordinating the taper with a prescriber is treatment.",
    )
    channel = forms.ChoiceField(
        label="How you will send it",
        choices=SEND_CHANNELS,
        initial=Disclosure.Channel.FAX.value,
        help_text="Stepdown does not fax or e-mail: you download the PDF and send it yourself.",
    )
    note = forms.CharField(
        label="A note to add (optional)",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["prescriber"].queryset = active_prescribers()


# --- clinic settings ----------------------------------------------------------------------------------
class StatePolicyForm(forms.Form):
    state = forms.CharField(
        label="State",
        max_length=2,
        min_length=2,
        widget=forms.TextInput(attrs={"size": 2, "autocapitalize": "characters", "placeholder": "OR"}),
    )
    storage = forms.ChoiceField(
        label="What may be kept", choices=PdmpStatePolicy.Storage.choices, widget=forms.RadioSelect
    )
    note = forms.CharField(
        label="Note",
        max_length=500,
        required=False,
        help_text="e.g. the state rule or agreement this follows",
    )


class ThresholdsForm(forms.Form):
    """The clinic's co-prescription thresholds. Blank means "the reference value"; the rules module decides
    what counts as tighter (prescribers.rules.thresholds_for) and its refusals land on the field they name."""

    mme_reassess = forms.DecimalField(
        label="Reassess at (MME/day)", required=False, min_value=0, decimal_places=2
    )
    mme_avoid = forms.DecimalField(label="Avoid at (MME/day)", required=False, min_value=0, decimal_places=2)
    mpe_definition = forms.ChoiceField(
        label="Multiple-provider episodes: definition", widget=forms.RadioSelect
    )
    mpe_prescribers_min = forms.IntegerField(label="Prescribers (at least)", required=False)
    mpe_pharmacies_min = forms.IntegerField(label="Pharmacies (at least)", required=False)
    mpe_window_days = forms.IntegerField(label="Within (days)", required=False)
    mpe_classes = forms.MultipleChoiceField(
        label="Fills counted", required=False, widget=forms.CheckboxSelectMultiple
    )
    recent_days = forms.IntegerField(label="Report what reaches into the last (days)", required=False)
    overlap_min_days = forms.IntegerField(label="Shortest overlap reported (days)", required=False)

    DECIMALS = ("mme_reassess", "mme_avoid")

    def __init__(self, *args, overrides: dict | None = None, **kwargs) -> None:
        from prescribers import drugs, rules

        spec = rules.spec()
        current = dict(overrides or {})
        definition = current.get("mpe_definition") or spec.mpe_default
        base = spec.mpe_definitions.get(definition) or spec.mpe_definitions[spec.mpe_default]
        kwargs.setdefault("initial", {**current, "mpe_definition": base.name})
        kwargs["initial"].setdefault("mpe_classes", sorted(base.classes))
        super().__init__(*args, **kwargs)
        self.spec = spec
        settings = spec.settings
        self.fields["mpe_definition"].choices = [(d.name, d.label) for d in spec.mpe_definitions.values()]
        self.fields["mpe_classes"].choices = [(c.code, c.label) for c in drugs.classes().values()]
        bounds = {  # the rules' own limits, so an out-of-range number is a plain field error
            "mpe_prescribers_min": (rules.MIN_MPE_COUNT, None),
            "mpe_pharmacies_min": (rules.MIN_MPE_COUNT, None),
            "mpe_window_days": (1, rules.MAX_MPE_WINDOW_DAYS),
            "recent_days": (1, int(settings["recent_days"]["max"])),
            "overlap_min_days": (int(settings["overlap_min_days"]["min"]), None),
        }
        for name, (low, high) in bounds.items():
            label = self.fields[name].label
            self.fields[name] = forms.IntegerField(label=label, required=False, min_value=low, max_value=high)
        self.fields[
            "mme_reassess"
        ].help_text = (
            f"Reference value {settings['mme_reassess']['value']} MME/day. Lower it to be told earlier."
        )
        self.fields[
            "mme_avoid"
        ].help_text = (
            f"Reference value {settings['mme_avoid']['value']} MME/day. Lower it to be told earlier."
        )
        self.fields["mpe_prescribers_min"].help_text = "Blank: the definition's number. May be lowered."
        self.fields["mpe_pharmacies_min"].help_text = "Blank: the definition's number. May be lowered."
        self.fields["mpe_window_days"].help_text = "Blank: the definition's window. May be lengthened."
        self.fields[
            "mpe_classes"
        ].help_text = "Classes may be added to the count; the definition's classes cannot be left out."
        self.fields[
            "recent_days"
        ].help_text = f"Default {settings['recent_days']['value']} days. May be lengthened."
        self.fields[
            "overlap_min_days"
        ].help_text = f"Default {settings['overlap_min_days']['value']} day. Cannot go below it."

    def overrides(self) -> dict:
        """The cleaned values as the settings row stores them: only what differs from the reference."""
        data = self.cleaned_data
        out: dict = {}
        definition = data.get("mpe_definition") or self.spec.mpe_default
        if definition != self.spec.mpe_default:
            out["mpe_definition"] = definition
        for name, value in data.items():
            if name in ("mpe_definition", "mpe_classes") or value is None:
                continue
            out[name] = format(value.normalize(), "f") if name in self.DECIMALS else value
        chosen = set(data.get("mpe_classes") or ())
        if chosen != set(self.spec.mpe_definitions[definition].classes):
            out["mpe_classes"] = sorted(chosen)
        return out

    def clean(self) -> dict:
        from prescribers import rules

        cleaned = super().clean()
        if self.errors:
            return cleaned
        overrides = self.overrides()
        definition = {k: v for k, v in overrides.items() if k == "mpe_definition"}
        for name, value in overrides.items():  # each refusal on the field it concerns
            try:
                rules.thresholds_for({**definition, name: value})
            except rules.SettingsError as error:
                self.add_error(name if name in self.fields else None, str(error))
        if not self.errors:
            try:  # what only the whole can refuse (reassess above avoid)
                rules.thresholds_for(overrides)
            except rules.SettingsError as error:
                self.add_error(None, str(error))
        return cleaned
