"""Coded values the patient record accepts: a curated ICD-10-CM subset and the benzodiazepine names.

Pure data, no Django. A diagnosis code outside this table is refused with an error naming it; the
table is deliberately small (what a benzodiazepine-taper IOP codes) rather than a copy of the whole
classification, so each entry could be checked.

ICD-10-CM source: CMS ICD-10-CM tabular list, FY2025 and FY2026 (codes effective Oct 1, 2024 and
Oct 1, 2025; the F13 codes below are unchanged between the two). `verified` says whether the wording
was checked against a public reproduction of that tabular list (a published code table and code
look-up pages quoting the CMS FY2025/FY2026 text) while this table was written; False marks an entry
typed from the tabular list but not re-checked. Re-check every entry against the CMS release files
(icd10cm-codes-<year>.txt) before relying on a description in a claim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ICD10_SOURCE = (
    "CMS ICD-10-CM tabular list, FY2025/FY2026 (https://www.cms.gov/medicare/coding-billing/icd-10-codes)"
)


@dataclass(frozen=True)
class DiagnosisCode:
    code: str
    description: str
    verified: bool = True

    @property
    def label(self) -> str:
        return f"{self.code} — {self.description}"


_SHA = "Sedative, hypnotic or anxiolytic"
_INDUCED = "sedative, hypnotic or anxiolytic-induced"

_F13 = [
    # Abuse (F13.1-)
    ("F13.10", f"{_SHA} abuse, uncomplicated"),
    ("F13.11", f"{_SHA} abuse, in remission"),
    ("F13.120", f"{_SHA} abuse with intoxication, uncomplicated"),
    ("F13.121", f"{_SHA} abuse with intoxication delirium"),
    ("F13.129", f"{_SHA} abuse with intoxication, unspecified"),
    ("F13.130", f"{_SHA} abuse with withdrawal, uncomplicated"),
    ("F13.131", f"{_SHA} abuse with withdrawal delirium"),
    ("F13.132", f"{_SHA} abuse with withdrawal with perceptual disturbance"),
    ("F13.139", f"{_SHA} abuse with withdrawal, unspecified"),
    ("F13.14", f"{_SHA} abuse with {_INDUCED} mood disorder"),
    ("F13.150", f"{_SHA} abuse with {_INDUCED} psychotic disorder with delusions"),
    ("F13.151", f"{_SHA} abuse with {_INDUCED} psychotic disorder with hallucinations"),
    ("F13.159", f"{_SHA} abuse with {_INDUCED} psychotic disorder, unspecified"),
    ("F13.180", f"{_SHA} abuse with {_INDUCED} anxiety disorder"),
    ("F13.181", f"{_SHA} abuse with {_INDUCED} sexual dysfunction"),
    ("F13.182", f"{_SHA} abuse with {_INDUCED} sleep disorder"),
    ("F13.188", f"{_SHA} abuse with other {_INDUCED} disorder"),
    ("F13.19", f"{_SHA} abuse with unspecified {_INDUCED} disorder"),
    # Dependence (F13.2-)
    ("F13.20", f"{_SHA} dependence, uncomplicated"),
    ("F13.21", f"{_SHA} dependence, in remission"),
    ("F13.220", f"{_SHA} dependence with intoxication, uncomplicated"),
    ("F13.221", f"{_SHA} dependence with intoxication delirium"),
    ("F13.229", f"{_SHA} dependence with intoxication, unspecified"),
    ("F13.230", f"{_SHA} dependence with withdrawal, uncomplicated"),
    ("F13.231", f"{_SHA} dependence with withdrawal delirium"),
    ("F13.232", f"{_SHA} dependence with withdrawal with perceptual disturbance"),
    ("F13.239", f"{_SHA} dependence with withdrawal, unspecified"),
    ("F13.24", f"{_SHA} dependence with {_INDUCED} mood disorder"),
    ("F13.250", f"{_SHA} dependence with {_INDUCED} psychotic disorder with delusions"),
    ("F13.251", f"{_SHA} dependence with {_INDUCED} psychotic disorder with hallucinations"),
    ("F13.259", f"{_SHA} dependence with {_INDUCED} psychotic disorder, unspecified"),
    ("F13.26", f"{_SHA} dependence with {_INDUCED} persisting amnestic disorder"),
    ("F13.27", f"{_SHA} dependence with {_INDUCED} persisting dementia"),
    ("F13.280", f"{_SHA} dependence with {_INDUCED} anxiety disorder"),
    ("F13.281", f"{_SHA} dependence with {_INDUCED} sexual dysfunction"),
    ("F13.282", f"{_SHA} dependence with {_INDUCED} sleep disorder"),
    ("F13.288", f"{_SHA} dependence with other {_INDUCED} disorder"),
    ("F13.29", f"{_SHA} dependence with unspecified {_INDUCED} disorder"),
    # Use, unspecified (F13.9-)
    ("F13.90", "Sedative, hypnotic, or anxiolytic use, unspecified, uncomplicated"),
    ("F13.91", f"{_SHA} use, unspecified, in remission"),
    ("F13.920", f"{_SHA} use, unspecified with intoxication, uncomplicated"),
    ("F13.921", f"{_SHA} use, unspecified with intoxication delirium"),
    ("F13.929", f"{_SHA} use, unspecified with intoxication, unspecified"),
    ("F13.930", f"{_SHA} use, unspecified with withdrawal, uncomplicated"),
    ("F13.931", f"{_SHA} use, unspecified with withdrawal delirium"),
    ("F13.932", f"{_SHA} use, unspecified with withdrawal with perceptual disturbances"),
    ("F13.939", f"{_SHA} use, unspecified with withdrawal, unspecified"),
    ("F13.94", f"{_SHA} use, unspecified with {_INDUCED} mood disorder"),
    ("F13.950", f"{_SHA} use, unspecified with {_INDUCED} psychotic disorder with delusions"),
    ("F13.951", f"{_SHA} use, unspecified with {_INDUCED} psychotic disorder with hallucinations"),
    ("F13.959", f"{_SHA} use, unspecified with {_INDUCED} psychotic disorder, unspecified"),
    ("F13.96", f"{_SHA} use, unspecified with {_INDUCED} persisting amnestic disorder"),
    ("F13.97", f"{_SHA} use, unspecified with {_INDUCED} persisting dementia"),
    ("F13.980", f"{_SHA} use, unspecified with {_INDUCED} anxiety disorder"),
    ("F13.981", f"{_SHA} use, unspecified with {_INDUCED} sexual dysfunction"),
    ("F13.982", f"{_SHA} use, unspecified with {_INDUCED} sleep disorder"),
    ("F13.988", f"{_SHA} use, unspecified with other {_INDUCED} disorder"),
    ("F13.99", f"{_SHA} use, unspecified with unspecified {_INDUCED} disorder"),
]

# Conditions that commonly co-occur in a benzodiazepine IOP: other substance use, mood, anxiety,
# trauma, sleep, ADHD, bipolar and personality disorders.
_CO_OCCURRING = [
    ("F10.10", "Alcohol abuse, uncomplicated", True),
    ("F10.20", "Alcohol dependence, uncomplicated", True),
    ("F10.21", "Alcohol dependence, in remission", True),
    ("F11.10", "Opioid abuse, uncomplicated", True),
    ("F11.20", "Opioid dependence, uncomplicated", True),
    ("F11.21", "Opioid dependence, in remission", True),
    ("F12.10", "Cannabis abuse, uncomplicated", True),
    ("F12.20", "Cannabis dependence, uncomplicated", True),
    ("F14.10", "Cocaine abuse, uncomplicated", True),
    ("F14.20", "Cocaine dependence, uncomplicated", True),
    ("F15.10", "Other stimulant abuse, uncomplicated", True),
    ("F15.20", "Other stimulant dependence, uncomplicated", True),
    ("F17.210", "Nicotine dependence, cigarettes, uncomplicated", True),
    ("F31.9", "Bipolar disorder, unspecified", True),
    ("F32.0", "Major depressive disorder, single episode, mild", True),
    ("F32.1", "Major depressive disorder, single episode, moderate", True),
    ("F32.2", "Major depressive disorder, single episode, severe without psychotic features", True),
    ("F32.3", "Major depressive disorder, single episode, severe with psychotic features", True),
    ("F32.4", "Major depressive disorder, single episode, in partial remission", True),
    ("F32.5", "Major depressive disorder, single episode, in full remission", True),
    ("F32.81", "Premenstrual dysphoric disorder", True),
    ("F32.89", "Other specified depressive episodes", True),
    ("F32.9", "Major depressive disorder, single episode, unspecified", True),
    ("F32.A", "Depression, unspecified", True),
    ("F33.0", "Major depressive disorder, recurrent, mild", True),
    ("F33.1", "Major depressive disorder, recurrent, moderate", True),
    ("F33.2", "Major depressive disorder, recurrent severe without psychotic features", True),
    ("F33.3", "Major depressive disorder, recurrent, severe with psychotic symptoms", True),
    ("F33.40", "Major depressive disorder, recurrent, in remission, unspecified", True),
    ("F33.41", "Major depressive disorder, recurrent, in partial remission", True),
    ("F33.42", "Major depressive disorder, recurrent, in full remission", True),
    ("F33.8", "Other recurrent depressive disorders", True),
    ("F33.9", "Major depressive disorder, recurrent, unspecified", True),
    ("F40.10", "Social phobia, unspecified", True),
    ("F41.0", "Panic disorder [episodic paroxysmal anxiety]", True),
    ("F41.1", "Generalized anxiety disorder", True),
    ("F41.9", "Anxiety disorder, unspecified", True),
    ("F42.2", "Mixed obsessional thoughts and acts", True),
    ("F43.10", "Post-traumatic stress disorder, unspecified", True),
    ("F43.12", "Post-traumatic stress disorder, chronic", True),
    ("F51.01", "Primary insomnia", True),
    ("F60.3", "Borderline personality disorder", False),
    ("F90.0", "Attention-deficit hyperactivity disorder, predominantly inattentive type", False),
    ("F90.2", "Attention-deficit hyperactivity disorder, combined type", False),
    ("G47.00", "Insomnia, unspecified", False),
]

DIAGNOSIS_CODES: dict[str, DiagnosisCode] = {
    **{code: DiagnosisCode(code, description) for code, description in _F13},
    **{code: DiagnosisCode(code, description, verified) for code, description, verified in _CO_OCCURRING},
}

_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")


def normalise_code(raw: str) -> str:
    """'f13.20', ' F1320 ' → 'F13.20' (the dot after the third character, as the tabular list prints)."""
    text = raw.strip().upper().replace(" ", "")
    if _SHAPE.match(text) and "." not in text and len(text) > 3:
        text = f"{text[:3]}.{text[3:]}"
    return text


def lookup(raw: str) -> DiagnosisCode | None:
    return DIAGNOSIS_CODES.get(normalise_code(raw))


def unknown_code_message(raw: str) -> str:
    shown = normalise_code(raw)[:12] or "(blank)"
    return (
        f"{shown} is not an ICD-10-CM code this clinic records. Use a billable code from the list "
        "(for example F13.20 for sedative, hypnotic or anxiolytic dependence)."
    )


# --- benzodiazepines ---------------------------------------------------------------------------------------
# Generic names (the drugs of ../shared/reference/clinical_data.json benzodiazepine_equivalence, without the
# Z-drugs, which are their own substance category) and US brand names, for the "is a benzodiazepine" flag on
# reported medications and the drug choice on substance-use history.
BENZODIAZEPINES: dict[str, str] = {
    "alprazolam": "Alprazolam",
    "chlordiazepoxide": "Chlordiazepoxide",
    "clobazam": "Clobazam",
    "clonazepam": "Clonazepam",
    "clorazepate": "Clorazepate",
    "diazepam": "Diazepam",
    "estazolam": "Estazolam",
    "flurazepam": "Flurazepam",
    "lorazepam": "Lorazepam",
    "midazolam": "Midazolam",
    "oxazepam": "Oxazepam",
    "quazepam": "Quazepam",
    "temazepam": "Temazepam",
    "triazolam": "Triazolam",
}
BENZODIAZEPINE_CHOICES = [*BENZODIAZEPINES.items(), ("other", "Other benzodiazepine")]

BENZODIAZEPINE_BRANDS: dict[str, str] = {
    "xanax": "alprazolam",
    "niravam": "alprazolam",
    "librium": "chlordiazepoxide",
    "onfi": "clobazam",
    "sympazan": "clobazam",
    "klonopin": "clonazepam",
    "tranxene": "clorazepate",
    "valium": "diazepam",
    "diastat": "diazepam",
    "valtoco": "diazepam",
    "prosom": "estazolam",
    "dalmane": "flurazepam",
    "ativan": "lorazepam",
    "loreev": "lorazepam",
    "seizalam": "midazolam",
    "serax": "oxazepam",
    "doral": "quazepam",
    "restoril": "temazepam",
    "halcion": "triazolam",
}


def is_benzodiazepine(medication_name: str) -> bool:
    """True when any word of the name is a benzodiazepine generic or brand name ('Xanax XR 1 mg')."""
    words = re.findall(r"[a-z]+", medication_name.lower())
    return any(word in BENZODIAZEPINES or word in BENZODIAZEPINE_BRANDS for word in words)
