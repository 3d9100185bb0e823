from __future__ import annotations

import pytest

from tests.patients.consent.factories import recipient_in


@pytest.fixture
def prescriber(clinic_a):
    return recipient_in(clinic_a)
