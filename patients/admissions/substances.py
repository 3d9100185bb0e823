"""What a caller may report about current use at first contact. Pure data, no Django.

The dose ceilings are a data-entry guard, not clinical limits: each sits well above any daily dose a
person is likely to report (roughly ten times the "high" band of ../shared/reference/clinical.md §1-2,
itself > 15 mg diazepam-equivalent), so a real report always fits and a slip of the keyboard
(micrograms typed as milligrams, an extra zero) is caught with a message that names the drug.
"""

from __future__ import annotations

from decimal import Decimal

BENZODIAZEPINES: tuple[tuple[str, str], ...] = (
    ("alprazolam", "Alprazolam (Xanax)"),
    ("clonazepam", "Clonazepam (Klonopin)"),
    ("diazepam", "Diazepam (Valium)"),
    ("lorazepam", "Lorazepam (Ativan)"),
    ("chlordiazepoxide", "Chlordiazepoxide (Librium)"),
    ("clorazepate", "Clorazepate (Tranxene)"),
    ("oxazepam", "Oxazepam"),
    ("temazepam", "Temazepam (Restoril)"),
    ("triazolam", "Triazolam (Halcion)"),
    ("other", "Other / unknown benzodiazepine"),
)
BENZODIAZEPINE_CODES = frozenset(code for code, _ in BENZODIAZEPINES)

MAX_DAILY_DOSE_MG: dict[str, Decimal] = {
    "alprazolam": Decimal("40"),
    "clonazepam": Decimal("40"),
    "diazepam": Decimal("400"),
    "lorazepam": Decimal("60"),
    "chlordiazepoxide": Decimal("1000"),
    "clorazepate": Decimal("500"),
    "oxazepam": Decimal("1000"),
    "temazepam": Decimal("600"),
    "triazolam": Decimal("10"),
    "other": Decimal("1000"),
}

OTHER_SUBSTANCES: tuple[tuple[str, str], ...] = (
    ("alcohol", "Alcohol"),
    ("opioids", "Opioids"),
    ("stimulants", "Stimulants"),
    ("cannabis", "Cannabis"),
    ("other", "Other"),
)


def dose_error(drug: str, dose_mg: Decimal | None) -> str | None:
    """Why a reported daily dose cannot be right, or None."""
    if dose_mg is None:
        return "Give the daily dose in mg."
    if dose_mg <= 0:
        return "The daily dose must be more than 0 mg."
    ceiling = MAX_DAILY_DOSE_MG.get(drug)
    if ceiling is not None and dose_mg > ceiling:
        return (
            f"{dose_mg.normalize():f} mg a day is above the {ceiling:f} mg this form accepts for {drug}; "
            "check the units (mg, not micrograms) and the number of zeros."
        )
    return None
