"""Levels of care a benzodiazepine IOP works across, with the ASAM hours that define them.

Source: ASAM Criteria, 3rd ed. (2013), as tabulated in ../shared/reference/clinical.md §7a
(2.1 hours: V, Aetna ASAM criteria page; 1 and 2.5: S, secondary sources). Pure data, no Django.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LevelOfCare:
    code: str
    asam_level: str
    label: str
    adult_hours_per_week: str
    source_status: str


LEVELS: tuple[LevelOfCare, ...] = (
    LevelOfCare("php", "2.5", "Partial hospitalization (PHP)", "20 or more", "S"),
    LevelOfCare("iop", "2.1", "Intensive outpatient (IOP)", "9 to 19", "V"),
    LevelOfCare("op", "1", "Outpatient", "fewer than 9", "S"),
)
BY_CODE = {level.code: level for level in LEVELS}
CHOICES = [(level.code, f"{level.label} · ASAM {level.asam_level}") for level in LEVELS]
SOURCE = "ASAM Criteria 3rd ed. (2013); see shared/reference/clinical.md §7a"
