"""Production mode: correct settings pass `check --deploy` cleanly; insecure ones refuse to start."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "STEPDOWN_ENV": "production",
    "ALLOWED_HOSTS": "stepdown.example.org",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "smtp.example.org",
    "DATABASE_URL": "postgres://stepdown_app:app-secret@db.example.org:5432/stepdown",
    "DATABASE_OWNER_URL": "postgres://stepdown_owner:owner-secret@db.example.org:5432/stepdown",
    "REDIS_URL": "redis://cache.example.org:6379/0",
    "AUDIT_HMAC_KEY": "audit-checkpoint-key-for-the-production-settings-test",
}


def check_deploy(*command: str, **overrides: str | None) -> subprocess.CompletedProcess:
    # Start from a clean slate: nothing from the developer's or CI's shell may make the check pass.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "SECRET_KEY"))}
    for key in ("DEBUG", "ALLOWED_HOSTS", "EMAIL_BACKEND", "STEPDOWN_ENV"):
        env.pop(key, None)
    env.update(PRODUCTION_ENV)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "manage.py", *(command or ("check", "--deploy", "--fail-level", "WARNING"))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_proper_production_settings_pass_check_deploy_without_warnings():
    result = check_deploy(SECRET_KEY=secrets.token_urlsafe(64))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output, output
    assert "WARNINGS" not in output


def test_development_secret_and_debug_are_refused():
    result = check_deploy(SECRET_KEY=None, DEBUG="true")
    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr
    assert "SECRET_KEY must be set" in result.stderr
    assert "DEBUG must be false" in result.stderr


def test_app_role_equal_to_owner_is_refused():
    same = PRODUCTION_ENV["DATABASE_URL"]
    result = check_deploy(SECRET_KEY=secrets.token_urlsafe(64), DATABASE_OWNER_URL=same)
    assert result.returncode != 0
    assert "row-level security would not bind it" in result.stderr


def test_missing_or_reused_audit_key_is_refused():
    """The key that signs the audit checkpoints must be given, and must not be the Django secret."""
    key = secrets.token_urlsafe(64)
    for audit_key in (None, "short", key):
        result = check_deploy(SECRET_KEY=key, AUDIT_HMAC_KEY=audit_key)
        assert result.returncode != 0, audit_key
        assert "AUDIT_HMAC_KEY must be a random value" in result.stderr


def test_web_and_worker_start_without_the_owner_url():
    """Only migrate and maintenance commands need the owner role; settings never guess it in production."""
    key = secrets.token_urlsafe(64)
    assert check_deploy(SECRET_KEY=key, DATABASE_OWNER_URL=None).returncode == 0
    show = "from django.conf import settings; print('owner:', settings.DATABASE_OWNER)"
    result = check_deploy("shell", "-c", show, SECRET_KEY=key, DATABASE_OWNER_URL=None)
    assert "owner: None" in result.stdout, result.stdout + result.stderr


def test_console_email_and_missing_hosts_are_refused():
    result = check_deploy(
        SECRET_KEY=secrets.token_urlsafe(64),
        EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
        ALLOWED_HOSTS="",
    )
    assert result.returncode != 0
    assert "EMAIL_BACKEND must deliver mail" in result.stderr
    assert "ALLOWED_HOSTS must list the hosts" in result.stderr


def test_models_and_migrations_agree():
    """A model change without its migration would pass the tests (they build the schema from migrations)
    yet fail on deploy."""
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
