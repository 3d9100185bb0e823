# Stepdown application image: web (gunicorn), Celery worker and Celery beat all run from it.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# WeasyPrint (PDFs) needs Pango/HarfBuzz and a font; nothing else is native.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 stepdown
WORKDIR /app

COPY . .
RUN pip install -e .

# Collect static files with production storage (hashed names + compressed copies). The values below
# only satisfy the production start-up checks for this build step; they are not in the final env.
RUN STEPDOWN_ENV=production \
    SECRET_KEY=build-only-collectstatic-key-not-used-at-runtime-0123456789abcdef \
    ALLOWED_HOSTS=build.invalid \
    EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend \
    DATABASE_URL=postgres://stepdown_app@build.invalid/stepdown \
    DATABASE_OWNER_URL=postgres://stepdown_owner@build.invalid/stepdown \
    AUDIT_HMAC_KEY=build-only-audit-key-not-used-at-runtime-0123456789 \
    python manage.py collectstatic --noinput -v 0

RUN mkdir -p /data && chown stepdown:stepdown /data
USER stepdown
EXPOSE 8000

CMD ["gunicorn", "clinic.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
