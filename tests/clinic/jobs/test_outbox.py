"""The task outbox (clinic/jobs/outbox.py): recorded with the write, sent after commit, drained once.

No broker here: publishing is replaced by a recorder (or by a failure). The real broker outage, with a real
worker and a Redis that is stopped mid-run, is tests/clinic/jobs/test_redis_outage.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from clinic.jobs import outbox
from clinic.jobs.models import OutboxTask
from clinic.tenancy.context import tenant_context
from tests.clinic.jobs.probe_tasks import echo

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _broker_presumed_up():
    outbox._broker_down_until = 0.0
    yield
    outbox._broker_down_until = 0.0


@pytest.fixture
def delays(monkeypatch):
    sent: list[tuple] = []
    monkeypatch.setattr(echo, "delay", lambda *args, **kwargs: sent.append(args))
    return sent


@pytest.fixture
def applied(monkeypatch):
    """What the drain publishes: (args, task_id)."""
    sent: list[tuple] = []
    monkeypatch.setattr(echo, "apply_async", lambda args, kwargs, task_id: sent.append(((*args,), task_id)))
    return sent


def _down(*args, **kwargs):
    raise ConnectionError("broker down")


def rows(clinic) -> list[OutboxTask]:
    with tenant_context(clinic):
        return list(OutboxTask.objects.order_by("created_at"))


def test_a_task_is_recorded_in_the_writing_transaction_and_marked_sent_after_commit(
    clinic_a, delays, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), tenant_context(clinic_a):
        echo.delay_on_commit("hello")
        [pending] = OutboxTask.objects.all()  # already there, before the commit
        assert (pending.task, pending.args, pending.sent_at) == (echo.name, ["hello"], None)
        assert delays == []
    assert delays == [("hello",)]
    [row] = rows(clinic_a)
    assert row.sent_at is not None and row.clinic_id == clinic_a.pk


def test_a_rolled_back_write_records_and_sends_nothing(clinic_a, delays, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks(execute=True)
    with capture, pytest.raises(RuntimeError), tenant_context(clinic_a), transaction.atomic():
        echo.delay_on_commit("rolled back")
        raise RuntimeError("write failed")
    assert rows(clinic_a) == [] and delays == []


def test_broker_down_leaves_the_row_for_the_drain_which_sends_it_once(
    clinic_a, monkeypatch, applied, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(echo, "delay", _down)
    with django_capture_on_commit_callbacks(execute=True), tenant_context(clinic_a):
        echo.delay_on_commit("during the outage")  # the write succeeds: no exception here
    [row] = rows(clinic_a)
    assert row.sent_at is None

    with tenant_context(clinic_a):
        assert outbox.drain(min_age=timedelta(0)) == {"sent": 1, "pending": 0, "failed": 0, "purged": 0}
    assert applied == [(("during the outage",), str(row.pk))]
    with tenant_context(clinic_a):
        assert outbox.drain(min_age=timedelta(0))["sent"] == 0  # drained twice: sent once
    assert len(applied) == 1 and rows(clinic_a)[0].sent_at is not None


def test_the_drain_stops_at_the_first_broker_failure_and_counts_the_attempt(clinic_a, monkeypatch):
    with tenant_context(clinic_a):
        for token in ("a", "b"):
            outbox.record(echo.name, (token,), {})
    monkeypatch.setattr(echo, "apply_async", _down)
    with tenant_context(clinic_a):
        assert outbox.drain(min_age=timedelta(0)) == {"sent": 0, "pending": 2, "failed": 1, "purged": 0}
    first, second = rows(clinic_a)
    assert (first.attempts, second.attempts) == (1, 0) and "broker down" in first.last_error
    assert first.sent_at is None and second.sent_at is None
    assert outbox.broker_presumed_down()


def test_the_drain_leaves_young_rows_to_their_own_send(clinic_a, applied):
    with tenant_context(clinic_a):
        outbox.record(echo.name, ("young",), {})
        assert outbox.drain()["sent"] == 0  # default min_age: the after-commit send may be under way
    assert applied == []


def test_after_a_failure_later_commits_skip_the_broker_for_a_while(
    clinic_a, monkeypatch, delays, django_capture_on_commit_callbacks
):
    outbox._broker_failed(ConnectionError("down"), "probe")
    with django_capture_on_commit_callbacks(execute=True), tenant_context(clinic_a):
        echo.delay_on_commit("skipped")
    assert delays == [] and rows(clinic_a)[0].sent_at is None  # recorded; the drain sends it


def test_outside_a_clinic_there_is_no_row_and_a_failure_is_not_raised(
    clinic_a, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(echo, "delay", _down)
    with django_capture_on_commit_callbacks(execute=True):
        echo.delay_on_commit("platform work")
    assert rows(clinic_a) == []


def test_each_clinic_drains_only_its_own_rows(clinic_a, clinic_b, applied):
    with tenant_context(clinic_a):
        outbox.record(echo.name, ("for a",), {})
    with tenant_context(clinic_b):
        assert OutboxTask.objects.count() == 0  # row-level security and the scoped manager
        assert outbox.drain(min_age=timedelta(0))["sent"] == 0
    assert applied == []
    with pytest.raises(Exception, match="scope"):
        OutboxTask.objects.count()  # outside any clinic the manager fails closed


def test_sent_rows_are_purged_after_a_week(clinic_a, applied):
    with tenant_context(clinic_a):
        old = outbox.record(echo.name, ("old",), {})
        OutboxTask.objects.filter(pk=old.pk).update(sent_at=timezone.now() - timedelta(days=8))
        outbox.record(echo.name, ("new",), {})
        assert outbox.drain(min_age=timedelta(0)) == {"sent": 1, "pending": 0, "failed": 0, "purged": 1}
        assert list(OutboxTask.objects.values_list("args", flat=True)) == [["new"]]
