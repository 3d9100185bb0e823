from tests.clinic.jobs.worker import celery_worker  # noqa: F401 - a fixture, used by name
