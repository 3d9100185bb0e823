"""Stepdown settings: one module, every value from the environment, strict parsing.

`STEPDOWN_ENV=production` refuses to start with development defaults (see `_refuse_insecure_production`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from clinic.env import ConfigError, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

STEPDOWN_ENV = env_str("STEPDOWN_ENV", "development")
if STEPDOWN_ENV not in {"development", "test", "production"}:
    raise ConfigError(f"STEPDOWN_ENV={STEPDOWN_ENV!r} must be development, test or production")
PRODUCTION = STEPDOWN_ENV == "production"

_DEV_SECRET = "dev-only-insecure-secret-key-never-use-in-production-0123456789"  # noqa: S105 - refused in production
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET)
DEBUG = env_bool("DEBUG", not PRODUCTION and STEPDOWN_ENV != "test")
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    # Ours. clinic.tenancy overrides `migrate` and `flush` so they run as the owner role.
    "clinic.tenancy",
    "clinic.accounts",
    "clinic.audit",
    "clinic.jobs",
    "patients",
    # Sub-apps of patients/ (own migrations, so each capability evolves on its own):
    "patients.admissions",
    "patients.intake",
    "patients.insurance",
    "patients.consent",
    "taper",
    "vitals",
    "prescribers",
    "scheduling",
    "vitals.checkins",
    "safety",
    "api",
    "workspace",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "clinic.middleware.RequestIdMiddleware",
    # Early, so refusals and redirects written by the middleware below carry the headers too.
    "clinic.headers.NoStoreMiddleware",
    "clinic.headers.StepdownCSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "clinic.input_guard.RefuseNulMiddleware",  # a NUL in a query string or form: 400, not a DataError
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "clinic.accounts.middleware.IdleTimeoutMiddleware",
    "clinic.tenancy.middleware.ClinicMiddleware",
    "clinic.accounts.middleware.RequireMfaMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"
ASGI_APPLICATION = "clinic.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clinic.tenancy.context_processors.clinic",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# The application connects as a role that is neither superuser, table owner nor BYPASSRLS, so the
# row-level-security policies bind it. Migrations and other maintenance run as the owner role
# (`clinic.tenancy.maintenance.owner_connection`), reachable only from management commands.
DATABASE_URL = env_str("DATABASE_URL", "postgres://stepdown_app:stepdown_app@127.0.0.1:5432/stepdown")
# Only `migrate` and maintenance commands need the owner role; web, worker and beat run without it (then
# DATABASE_OWNER is None). It is derived only for the built-in development URL (no DATABASE_URL given, e.g.
# `manage.py` by hand or the test suite), never in production: give it only to the processes that need it.
DATABASE_OWNER_URL = env_str(
    "DATABASE_OWNER_URL",
    ""
    if PRODUCTION or "DATABASE_URL" in os.environ
    else DATABASE_URL.replace("stepdown_app", "stepdown_owner"),
)
DATABASES = {
    "default": {
        **dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0)),
        "ATOMIC_REQUESTS": True,
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"NAME": env_str("TEST_DATABASE_NAME", "test_stepdown")},
    }
}
DATABASE_OWNER = dj_database_url.parse(DATABASE_OWNER_URL) if DATABASE_OWNER_URL else None
DATABASE_APP_ROLE = DATABASES["default"]["USER"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, Celery broker, rate limits ---------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
# Fails open (clinic/cache.py): Redis down is a cache miss and a logged warning, never a 500; short socket
# timeouts so a Redis that does not answer costs at most a second. Sessions stay in the database.
CACHES = {
    "default": {
        "BACKEND": "clinic.cache.FailOpenRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "stepdown"),
        "TIMEOUT": 300,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0, "retry_after": 5},
    }
}

# --- Auth ----------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if STEPDOWN_ENV == "test":
    # Hashing dominates a suite that logs in hundreds of times; production keeps the default PBKDF2.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "clinic.accounts.adapter.StepdownAccountAdapter"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = False
# Throttling of failed logins (allauth, in the cache): per address, and per account *at that address* (the
# adapter makes `key` the account plus the address), escalating from 5 per 15 minutes to 30 a day. There is
# no per-account limit on its own: it would let anyone who knows an email lock its owner out. At the
# two-factor step `key` is the person (the password was right). "login" (30/m per address, allauth's
# default) answers 429 before the form; every refusal is audited (clinic/accounts/signin.py).
ACCOUNT_RATE_LIMITS = {
    "login_failed": env_str("LOGIN_FAILED_RATE", "20/m/ip,5/15m/key,30/24h/key"),
    "reset_password": "5/m/ip,3/m/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Stepdown"
MFA_ADAPTER = "allauth.mfa.adapter.DefaultMFAAdapter"
# The two-factor forms audit a code refused by the throttle (a wrong code is audited by allauth's signal).
MFA_FORMS = {
    "authenticate": "clinic.accounts.signin.AuditedAuthenticateForm",
    "reauthenticate": "clinic.accounts.signin.AuditedReauthenticateForm",
}

SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600, minimum=300)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
DEFAULT_IDLE_TIMEOUT_MINUTES = 15

# --- I18N ----------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static ----------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Email -------------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Stepdown <no-reply@stepdown.invalid>")
# Day-before session reminders sent to patients: off unless a transport is named (a dotted path to a class
# with `send(*, booking, text)`; scheduling.reminders.EmailTransport ships; an SMS vendor plugs in alike).
STEPDOWN_REMINDER_TRANSPORT = env_str("STEPDOWN_REMINDER_TRANSPORT", "")
# From this hour of the clinic's own day, the hourly job sends reminders for tomorrow's sessions (later
# bookings are picked up by the next hour's run; a patient is never messaged twice).
STEPDOWN_REMINDER_HOUR = env_int("STEPDOWN_REMINDER_HOUR", 16)
# Where staff reach this site: links in emails sent by background jobs (no request to build them from).
SITE_URL = env_str("SITE_URL", "http://localhost:8000").rstrip("/")

# --- REST API -----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ClinicTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.StepdownAutoSchema",  # declares each operation's problem+json errors
    # Input at the edge (api/parsers.py, api/filters.py): JSON bodies only, bounded; strict filters. JSON out
    # only: the browsable API's filter forms queried outside the clinic scope (`?format=api` is a 404).
    "DEFAULT_PARSER_CLASSES": ["api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["api.filters.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.StableCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "api.errors.problem_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"api_client": "600/min"},
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Stepdown API",
    "DESCRIPTION": "Clinic management for benzodiazepine taper programs. Every call acts inside one clinic.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI is served from the app (sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One schema enum for the pipeline stages, whatever the field is called (stage, to_stage, from_stage).
    "ENUM_NAME_OVERRIDES": {
        "InquiryStageEnum": "patients.admissions.stages.CHOICES",
        "AsamRiskRatingEnum": "patients.intake.models.RATING_CHOICES",
        "LevelOfCareEnum": "patients.levels_of_care.CHOICES",
        "YesNoUnknownEnum": "patients.insurance.models.YesNoUnknown",
        "TaperPlanStatusEnum": "taper.models.TaperPlan.Status",
        "DoseRecordSourceEnum": "taper.models.DoseRecord.Source",
        "AlertStatusEnum": "safety.models.Alert.Status",
        "VitalsApiSourceEnum": "api.vitals.API_SOURCES",
        "VitalSourceEnum": "vitals.models.Source",  # what a vital's source may be when read (any channel)
        "MedicationStatusEnum": "prescribers.models.Medication.Status",
    },
}

# --- Celery --------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TIMEZONE = "UTC"
# Keep every countdown/ETA shorter than this, or Redis redelivers the task while it still waits.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "stepdown")
# Publishing is bounded: a broker that refuses or does not answer fails a publish in about a second (the
# defaults retried the result backend's subscription for ~19 s inside the request). What must run anyway is
# in the outbox (clinic/jobs/outbox.py), committed with the write and drained by the worker every minute.
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
CELERY_BROKER_TRANSPORT_OPTIONS.update(socket_connect_timeout=1.0, socket_timeout=5.0)
_ONE_QUICK_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_TASK_PUBLISH_RETRY_POLICY = _ONE_QUICK_RETRY
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 1.0
CELERY_REDIS_SOCKET_TIMEOUT = 5.0
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": _ONE_QUICK_RETRY}
# /healthz: this many seconds after the process started, no worker or heartbeat yet is "starting", not 503.
HEALTHZ_STARTUP_GRACE = env_int("HEALTHZ_STARTUP_GRACE", 120, minimum=0)
CELERY_BEAT_SCHEDULE: dict = {
    "heartbeat": {"task": "clinic.jobs.tasks.heartbeat", "schedule": 60.0},
    # Tasks recorded in the outbox whose publish failed (broker down at commit time) are sent again.
    "outbox-drain": {"task": "clinic.jobs.tasks.drain_all_outboxes", "schedule": 60.0},
    # Signed checkpoints of every audit chain's head, outside the database (clinic/audit/checkpoints.py).
    "audit-checkpoints": {"task": "clinic.audit.tasks.write_checkpoints", "schedule": 10 * 60.0},
    "census": {"task": "patients.tasks.refresh_all_census", "schedule": 15 * 60.0},
    "idempotency-keys": {"task": "api.tasks.purge_all_idempotency_keys", "schedule": 3600.0},
    "eligibility-responses": {
        "task": "patients.insurance.tasks.poll_all_eligibility_responses",
        "schedule": 2 * 60.0,
    },
    # Unacknowledged high/critical alerts escalate after each clinic's own delay: check every minute.
    "safety-escalation": {"task": "safety.tasks.escalate_all_clinics", "schedule": 60.0},
    # The safety net: missed check-ins, threshold crossings and withdrawal trends, every clinic.
    "safety-sweep": {"task": "safety.tasks.sweep_all_clinics", "schedule": 15 * 60.0},
    # Unsafe co-prescription and multiple-provider episodes, nightly (fills arrive by import, not by the
    # minute; the on-save job covers each import as it lands).
    "corx-sweep": {"task": "safety.tasks.sweep_all_coprescriptions", "schedule": crontab(hour=2, minute=30)},
    # Sessions exist 56 days ahead; nightly, every running series is extended to keep the horizon rolling.
    "schedule-horizon": {
        "task": "scheduling.tasks.extend_all_horizons",
        "schedule": crontab(hour=3, minute=0),
    },
    # Day-before reminders (only when a transport is configured); hourly so each clinic's own evening counts.
    "session-reminders": {"task": "scheduling.tasks.send_all_reminders", "schedule": crontab(minute=5)},
    # Weekly hours below the program's minimum, and missed sessions (the safety net of the on-save job).
    "attendance-sweep": {"task": "safety.tasks.sweep_all_attendance", "schedule": crontab(hour=3, minute=30)},
}

# --- Electronic eligibility (X12 270/271) ------------------------------------------------------------------
# The transport class; the default drops 270s into an outbox folder and reads 271s from an inbox folder
# (a clearinghouse's SFTP sync, or staff, move the files).
ELIGIBILITY_TRANSPORT = env_str("ELIGIBILITY_TRANSPORT", "patients.eligibility.transport.FileDropTransport")
ELIGIBILITY_OUTBOX = Path(env_str("ELIGIBILITY_OUTBOX", str(BASE_DIR / ".data" / "eligibility" / "outbox")))
ELIGIBILITY_INBOX = Path(env_str("ELIGIBILITY_INBOX", str(BASE_DIR / ".data" / "eligibility" / "inbox")))

# --- Audit anchoring (clinic/audit/checkpoints.py) -----------------------------------------------------
# Every chain's head is checkpointed into append-only JSONL files, each line HMAC-signed and chained to the
# one before. The database owner can switch the database's own guards off but has neither this key nor
# these files, so `verify_audit_chain` still sees a rewritten, shortened or re-hashed chain. The key is
# held by web/worker and the verifier only; development and tests derive it from SECRET_KEY.
_DEV_AUDIT_KEY = hmac.new(SECRET_KEY.encode(), b"stepdown audit checkpoints", hashlib.sha256).hexdigest()
AUDIT_HMAC_KEY = env_str("AUDIT_HMAC_KEY", "" if PRODUCTION else _DEV_AUDIT_KEY)
_CHECKPOINTS = (
    Path(tempfile.gettempdir()) / f"stepdown-audit-checkpoints-{os.getpid()}"  # tests: per process
    if STEPDOWN_ENV == "test"
    else BASE_DIR / ".data" / "audit-checkpoints"
)
AUDIT_CHECKPOINT_DIR = Path(env_str("AUDIT_CHECKPOINT_DIR", str(_CHECKPOINTS)))

# --- Security ----------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the cookie-less meta tag; cookie stays default
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp 4, written by clinic.headers.StepdownCSPMiddleware): no inline script,
# no inline event handler, no inline style, no eval. Code comes from the app's own static files (htmx,
# stepdown.js, safety.js); data reaches it through data-* attributes or `json_script`. The TOTP QR code
# is a data: image. Only the Swagger UI page widens it (api/urls.py, that view alone).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SILENCED_SYSTEM_CHECKS: list[str] = []

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "clinic.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}


def _refuse_insecure_production() -> None:
    if not PRODUCTION:
        return
    problems = []
    if SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 50:
        problems.append("SECRET_KEY must be set to a random value of at least 50 characters")
    if DEBUG:
        problems.append("DEBUG must be false")
    if not ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must list the hosts this site answers to")
    if EMAIL_BACKEND.endswith("console.EmailBackend"):
        problems.append("EMAIL_BACKEND must deliver mail (the console backend only prints it)")
    if DATABASE_OWNER_URL == DATABASE_URL:
        problems.append("DATABASE_URL must not be the owner role: row-level security would not bind it")
    if len(AUDIT_HMAC_KEY) < 32 or AUDIT_HMAC_KEY == SECRET_KEY:
        problems.append("AUDIT_HMAC_KEY must be a random value of at least 32 characters, not SECRET_KEY")
    if problems:
        raise ConfigError("Refusing to start in production: " + "; ".join(problems))


_refuse_insecure_production()
