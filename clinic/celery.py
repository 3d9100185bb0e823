"""The Celery app. Configuration comes from Django settings (CELERY_*); tasks from each app's tasks.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("stepdown", task_cls="clinic.jobs.base:StepdownTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
