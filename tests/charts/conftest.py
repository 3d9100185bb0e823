"""Chart tests are pure Python: no database, no Django settings, no Redis."""

import pytest


@pytest.fixture(autouse=True)
def _clear_cache():
    """Overrides the project-wide autouse fixture (which needs Django and Redis) with a no-op."""
    yield
