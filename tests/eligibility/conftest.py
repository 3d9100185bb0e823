"""Eligibility tests are pure Python: no database, no Django settings, no Redis."""

from pathlib import Path

import pytest

SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture(autouse=True)
def _clear_cache():
    """Overrides the project-wide autouse fixture (which needs Django and Redis) with a no-op."""
    yield


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()
