"""`Idempotency-Key` on POST: retries replay the first answer; reuse with another body is refused."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.test import Client

from api.models import IdempotencyKey
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.models import Patient
from tests.conftest import token_client

PATIENTS = "/api/v1/patients/"
BODY = {"first_name": "Idem", "last_name": "Potent", "date_of_birth": "1979-04-02"}


def _client(clinic, name="EHR sync") -> Client:
    return token_client(clinic, Role.ADMISSIONS, name=name)


def _post(client: Client, body: dict, key: str | None):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(PATIENTS, data=json.dumps(body), content_type="application/json", headers=headers)


def _patients(clinic) -> int:
    with tenant_context(clinic):
        return Patient.objects.filter(last_name="Potent").count()


@pytest.mark.django_db
def test_a_retry_with_the_same_key_replays_the_first_answer(clinic_a):
    client = _client(clinic_a)
    first = _post(client, BODY, "sync-2026-11-27-0001")
    again = _post(client, BODY, "sync-2026-11-27-0001")
    assert first.status_code == 201 and again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert _patients(clinic_a) == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_refused_and_writes_nothing(clinic_a):
    client = _client(clinic_a)
    _post(client, BODY, "k-1")
    reused = _post(client, {**BODY, "first_name": "Other"}, "k-1")
    assert reused.status_code == 422
    assert reused["Content-Type"] == "application/problem+json"
    assert _patients(clinic_a) == 1


@pytest.mark.django_db
def test_keys_belong_to_their_sender_and_without_a_key_nothing_is_kept(clinic_a):
    one, other = _client(clinic_a, "EHR one"), _client(clinic_a, "EHR two")
    assert _post(one, BODY, "shared-key").status_code == 201
    assert _post(other, BODY, "shared-key").status_code in (201, 400)  # a second sender: its own request
    assert "Idempotent-Replayed" not in _post(other, BODY | {"first_name": "Third"}, None)
    with tenant_context(clinic_a):
        assert IdempotencyKey.objects.count() == 2


@pytest.mark.django_db
def test_a_malformed_key_is_a_400_problem(clinic_a):
    response = _post(_client(clinic_a), BODY, "bad key with spaces")
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["errors"]
    assert _patients(clinic_a) == 0


@pytest.mark.django_db
def test_a_failed_request_keeps_no_claim_so_the_key_can_be_retried(clinic_a):
    client = _client(clinic_a)
    bad = _post(client, {**BODY, "date_of_birth": "2999-01-01"}, "retry-me")
    assert bad.status_code == 400
    with tenant_context(clinic_a):
        assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_create_one_record(clinic_a):
    """Two connections race with the same key: the second waits on the claim, then replays."""
    client_token = _client(clinic_a)
    results: list[int] = []

    def send() -> None:
        try:
            results.append(_post(client_token, BODY, "race-1").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201, 201]
    assert _patients(clinic_a) == 1


@pytest.mark.django_db
def test_keys_older_than_a_day_are_purged_per_clinic(clinic_a, clinic_b):
    import datetime

    from django.utils import timezone

    from api.tasks import purge_idempotency_keys

    for clinic in (clinic_a, clinic_b):
        _post(_client(clinic), BODY, "old-key")
        with tenant_context(clinic):
            IdempotencyKey.objects.update(created_at=timezone.now() - datetime.timedelta(hours=25))
    _post(_client(clinic_a, "fresh"), BODY | {"first_name": "Fresh"}, "new-key")
    assert purge_idempotency_keys(clinic_a.pk) == 1  # the task body, run in-process
    with tenant_context(clinic_a):
        assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new-key"]
    with tenant_context(clinic_b):
        assert IdempotencyKey.objects.count() == 1  # another clinic's keys are its own sweep's business
