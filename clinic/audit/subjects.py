"""Whom an audit event is about, in people's terms. Events store a patient id; the app that owns patients
registers, at start-up, how to find a patient by id or MRN and how to label one, so the platform reads
patients without importing a domain app (the layers flow one way)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class PatientDirectory:
    find: Callable[[str], uuid.UUID | None]  # an id or MRN typed by a person → this clinic's patient id
    labels: Callable[[Any], dict[uuid.UUID, str]]  # ids (or a subquery of them) → MRN, in one query


_directory: PatientDirectory | None = None


def register_patient_directory(directory: PatientDirectory) -> None:
    global _directory
    _directory = directory


def patient_directory() -> PatientDirectory:
    if _directory is None:
        raise ImproperlyConfigured("No app registered a patient directory (patients.apps does).")
    return _directory
