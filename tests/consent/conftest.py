from __future__ import annotations

import pytest

from tests.consent.factories import recipient_in


@pytest.fixture
def prescriber(clinic_a):
    return recipient_in(clinic_a)
