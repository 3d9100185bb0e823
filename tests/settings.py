"""Django settings for pytest: the project's own, as `python3 dev.py test` runs them (STEPDOWN_ENV=test),
however pytest is started. A bare `pytest` would otherwise get development settings (PBKDF2 password
hashing: ~0.4 s for every member a test creates)."""

import os

os.environ.setdefault("STEPDOWN_ENV", "test")

from clinic.settings import *  # noqa: F403
