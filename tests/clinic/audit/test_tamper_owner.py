"""The audit trail outlives its database owner.

Each attack is made the way the attack run made it: with the owner role's connection (not a superuser),
switching the append-only trigger off inside a transaction, changing rows, moving the chain head and
switching the trigger back on. The chain head is checkpointed first by the beat job, as in production, and
`manage.py verify_audit_chain` must report every one of them in plain words.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from clinic.audit import tasks
from clinic.audit.chain import chain_key, link_hash
from clinic.audit.checkpoints import HeadState, _append, log_path, read_checkpoints
from clinic.audit.management.commands.verify_audit_chain import ROW_FIELDS
from clinic.audit.models import AuditChainHead, AuditEvent
from clinic.audit.services import audit_platform_event
from clinic.tenancy.context import tenant_context
from tests.clinic.audit.conftest import add_events, as_owner_in, verify

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[3]
GUARD = "stepdown_append_only"


def checkpoint() -> int:
    """What beat runs every 10 minutes (the task body, in this process)."""
    return tasks.write_checkpoints()


def _rows(clinic) -> list[dict]:
    return list(AuditEvent.objects.filter(clinic=clinic).order_by("id").values(*ROW_FIELDS))


def _move_head(cursor, clinic, last: dict | None, count: int) -> None:
    cursor.execute(
        "UPDATE audit_auditchainhead SET last_hash = %s, last_event_id = %s, event_count = %s"
        " WHERE chain = %s",
        [last["hash"] if last else "0" * 64, last["id"] if last else None, count, chain_key(clinic.pk)],
    )
    assert cursor.rowcount == 1


def owner_rewrites(clinic, *, edit: int | None = None, delete: tuple[int, ...] = ()) -> None:
    """The owner's full attack: trigger off, edit and/or delete events, re-hash every event after the first
    change so the chain verifies on its own again, move the head to the new last event, trigger on."""
    with as_owner_in(clinic) as cursor:
        cursor.execute(f"ALTER TABLE audit_auditevent DISABLE TRIGGER {GUARD}")
        if edit is not None:
            cursor.execute("UPDATE audit_auditevent SET action = 'list' WHERE id = %s", [edit])
            assert cursor.rowcount == 1
        for event_id in delete:
            cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event_id])
            assert cursor.rowcount == 1
        rows = _rows(clinic)
        prev = "0" * 64
        for row in rows:
            digest = link_hash(prev, row)
            if (row["prev_hash"], row["hash"]) != (prev, digest):
                cursor.execute(
                    "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
                    [prev, digest, row["id"]],
                )
            row["hash"] = prev = digest
        _move_head(cursor, clinic, rows[-1] if rows else None, len(rows))
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # a row changed twice queues its deferred FK checks
        cursor.execute(f"ALTER TABLE audit_auditevent ENABLE TRIGGER {GUARD}")


def test_intact_trail_with_checkpoints_verifies_and_says_what_is_pinned(clinic_a, checkpoint_dir):
    add_events(clinic_a, 3)
    audit_platform_event(action="login_failed", actor=None, detail={"email": "who@example.org"})
    assert checkpoint() == 2  # the clinic's chain and the platform chain
    assert checkpoint() == 0  # nothing moved: no new line
    add_events(clinic_a, 2)
    assert checkpoint() == 1
    intact, output = verify()
    assert intact, output
    assert "5 events checked, OK" in output
    assert "5 events up to" in output and "0 newer event(s)" in output
    log = read_checkpoints(chain_key(clinic_a.pk))
    assert log.problem is None and [c.count for c in log.checkpoints] == [3, 5]
    assert (checkpoint_dir / f"clinic-{clinic_a.pk}.jsonl").exists() and (
        checkpoint_dir / "platform.jsonl"
    ).exists()


def test_beat_writes_checkpoints_every_ten_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["audit-checkpoints"]
    assert entry["task"] == tasks.write_checkpoints.name and entry["schedule"] == 600.0


def test_edited_event_is_detected(clinic_a):
    events = add_events(clinic_a, 5)
    checkpoint()
    with as_owner_in(clinic_a) as cursor:
        cursor.execute(f"ALTER TABLE audit_auditevent DISABLE TRIGGER {GUARD}")
        cursor.execute(
            "UPDATE audit_auditevent SET actor_label = 'someone else' WHERE id = %s", [events[1].pk]
        )
        cursor.execute(f"ALTER TABLE audit_auditevent ENABLE TRIGGER {GUARD}")
    intact, output = verify()
    assert not intact
    assert f"BROKEN at event #{events[1].pk}" in output and "hash mismatch" in output and "edited" in output


def test_deleted_middle_event_is_detected(clinic_a):
    events = add_events(clinic_a, 5)
    checkpoint()
    with as_owner_in(clinic_a) as cursor:
        cursor.execute(f"ALTER TABLE audit_auditevent DISABLE TRIGGER {GUARD}")
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
        cursor.execute(f"ALTER TABLE audit_auditevent ENABLE TRIGGER {GUARD}")
    intact, output = verify()
    assert not intact
    assert f"BROKEN at event #{events[3].pk}" in output and "prev_hash mismatch" in output
    assert "deleted" in output


def test_deleted_tail_is_detected(clinic_a):
    events = add_events(clinic_a, 5)
    checkpoint()
    with as_owner_in(clinic_a) as cursor:
        cursor.execute(f"ALTER TABLE audit_auditevent DISABLE TRIGGER {GUARD}")
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[-1].pk])
        cursor.execute(f"ALTER TABLE audit_auditevent ENABLE TRIGGER {GUARD}")
    intact, output = verify()
    assert not intact and "4 events checked" in output and "truncated tail" in output


def test_deleted_tail_with_the_head_moved_back_is_detected(clinic_a, checkpoint_dir):
    events = add_events(clinic_a, 5)
    checkpoint()
    with as_owner_in(clinic_a) as cursor:
        cursor.execute(f"ALTER TABLE audit_auditevent DISABLE TRIGGER {GUARD}")
        cursor.execute("DELETE FROM audit_auditevent WHERE id >= %s", [events[3].pk])
        assert cursor.rowcount == 2
        _move_head(cursor, clinic_a, {"hash": events[2].hash, "id": events[2].pk}, 3)
        cursor.execute(f"ALTER TABLE audit_auditevent ENABLE TRIGGER {GUARD}")
    intact, output = verify("--clinic", "clinic-a")
    assert not intact
    assert "3 events checked, BROKEN" in output and "checkpoint mismatch" in output
    assert f"recorded event #{events[-1].pk} as event 5" in output
    assert f"the chain now ends at #{events[2].pk} after 3 events" in output and "head moved back" in output
    # Without the signed checkpoint the chain and its head agree: this is what the attack run got away with.
    log_path(chain_key(clinic_a.pk)).unlink()
    assert verify("--clinic", "clinic-a")[0]


def test_the_checkpoint_job_does_not_record_a_head_that_went_back(clinic_a):
    events = add_events(clinic_a, 4)
    checkpoint()
    with as_owner_in(clinic_a) as cursor:
        cursor.execute(f"ALTER TABLE audit_auditevent DISABLE TRIGGER {GUARD}")
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[-1].pk])
        _move_head(cursor, clinic_a, {"hash": events[2].hash, "id": events[2].pk}, 3)
        cursor.execute(f"ALTER TABLE audit_auditevent ENABLE TRIGGER {GUARD}")
    assert checkpoint() == 0
    assert [c.count for c in read_checkpoints(chain_key(clinic_a.pk)).checkpoints] == [4]


@pytest.mark.parametrize("attack", ["edit", "delete"])
def test_owner_rehashing_everything_after_a_change_is_detected(clinic_a, attack):
    """Trigger off, change event 2 (edit it, or delete it), re-hash events 2…7, move the head: the chain
    verifies on its own, but event 5 no longer carries the hash (and position) the checkpoint signed."""
    events = add_events(clinic_a, 5)
    checkpoint()
    later = add_events(clinic_a, 2)  # after the checkpoint: the chain alone covers these
    if attack == "edit":
        owner_rewrites(clinic_a, edit=events[1].pk)
    else:
        owner_rewrites(clinic_a, delete=(events[1].pk,))
    with tenant_context(clinic_a):
        head = AuditChainHead.objects.get(chain=chain_key(clinic_a.pk))
        assert head.last_event_id == later[-1].pk  # the attacker left a consistent head behind
    intact, output = verify()
    assert not intact
    assert f"BROKEN at event #{events[-1].pk}" in output and "checkpoint mismatch" in output
    assert "rewritten and re-hashed" in output
    assert f"expected {events[-1].hash}" in output
    assert (
        "event 4 with another hash" in output if attack == "delete" else "event 5 with another hash" in output
    )


def test_deleted_checkpointed_event_with_the_rest_rehashed_is_named(clinic_a):
    events = add_events(clinic_a, 4)
    checkpoint()
    add_events(clinic_a, 1)
    owner_rewrites(clinic_a, delete=(events[-1].pk,))
    intact, output = verify()
    assert not intact and f"there is no event #{events[-1].pk}" in output and "deleted" in output


def _rewrite_log(path: Path, change) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(change(lines)))


def test_edited_checkpoint_line_is_detected(clinic_a):
    add_events(clinic_a, 3)
    checkpoint()
    path = log_path(chain_key(clinic_a.pk))

    def lower_the_count(lines):
        data = json.loads(lines[0])
        data["count"] = 2
        return [json.dumps(data) + "\n"]

    _rewrite_log(path, lower_the_count)
    intact, output = verify()
    assert not intact
    assert "3 events checked, chain OK" in output
    assert (
        "checkpoint log BROKEN" in output and "line 1 has a bad signature: it was forged or edited" in output
    )


def test_forged_checkpoint_line_with_another_key_is_detected(clinic_a, settings):
    add_events(clinic_a, 2)
    checkpoint()
    add_events(clinic_a, 1)
    real_key = settings.AUDIT_HMAC_KEY
    settings.AUDIT_HMAC_KEY = "an attacker's guess at the key, which the database never held"
    checkpoint()  # a well-formed line, chained to the first, signed with the wrong key
    settings.AUDIT_HMAC_KEY = real_key
    intact, output = verify()
    assert not intact and "line 2 has a bad signature" in output


def test_removed_checkpoint_line_is_detected(clinic_a):
    add_events(clinic_a, 1)
    checkpoint()
    add_events(clinic_a, 1)
    checkpoint()
    add_events(clinic_a, 1)
    checkpoint()
    _rewrite_log(log_path(chain_key(clinic_a.pk)), lambda lines: [lines[0], lines[2]])
    intact, output = verify()
    assert not intact and "line 2 does not follow the line before it" in output


def test_signed_checkpoints_of_a_clinic_the_database_no_longer_has_are_reported(clinic_a):
    _append(HeadState("clinic:987654", 41, "ab" * 32, 17), "2026-12-01T10:00:00+00:00")
    intact, output = verify()
    assert not intact
    assert "clinic:987654 (signed checkpoints, no such clinic in the database)" in output
    assert "17 events up to #41" in output


# --- The head: only the database moves it ------------------------------------------------------------


HEAD_WRITES = {
    "update": "UPDATE audit_auditchainhead SET last_hash = %s",
    "delete": "DELETE FROM audit_auditchainhead WHERE last_hash <> %s",
    "insert": "INSERT INTO audit_auditchainhead (chain, last_hash, event_count) VALUES ('clinic:999', %s, 0)",
    "truncate": "TRUNCATE audit_auditchainhead -- %s",
}


@pytest.mark.parametrize("statement", HEAD_WRITES.values(), ids=HEAD_WRITES.keys())
def test_app_role_cannot_write_the_chain_head(clinic_a, statement):
    add_events(clinic_a, 1)
    denied = pytest.raises(DatabaseError, match="permission denied")
    with denied, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement.replace("%s", "'" + "0" * 64 + "'"))


def test_app_role_cannot_lock_the_head_for_update_itself(clinic_a):
    add_events(clinic_a, 1)
    denied = pytest.raises(DatabaseError, match="permission denied")
    with denied, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM audit_auditchainhead FOR UPDATE")


def test_an_event_that_does_not_continue_its_chain_is_refused(clinic_a):
    """The app role may insert events, but the trigger moves the head only from the hash an event names."""
    first, _second = add_events(clinic_a, 2)
    refused = pytest.raises(IntegrityError, match="does not continue")
    with tenant_context(clinic_a), refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (clinic_id, occurred_at, actor_label, action, object_type,"
            " object_id, request_id, detail, prev_hash, hash)"
            " VALUES (%s, now(), '', 'view', '', '', '', '{}', %s, %s)",
            [clinic_a.pk, first.hash, "f" * 64],  # a fork from the first event
        )
    assert verify("--clinic", "clinic-a")[0]


def test_the_head_counts_events_of_batches_and_single_appends(clinic_a):
    from clinic.audit.services import audit_many

    add_events(clinic_a, 2)
    with tenant_context(clinic_a):
        batch = audit_many(
            actor=None, action="create", items=[{"object_type": "x.y", "object_id": str(n)} for n in range(3)]
        )
    head = AuditChainHead.objects.get(chain=chain_key(clinic_a.pk))
    assert (head.event_count, head.last_event_id, head.last_hash) == (5, batch[-1].pk, batch[-1].hash)


# --- The owner URL stays with migrate and maintenance ----------------------------------------------------


def _dev_module():
    spec = importlib.util.spec_from_file_location("stepdown_dev_launcher", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.django_db(transaction=False)
def test_dev_children_get_no_owner_url(monkeypatch, capsys):
    dev = _dev_module()
    given = {
        "DATABASE_URL": "postgres://stepdown_app:x@h/db",
        "DATABASE_OWNER_URL": "postgres://o:y@h/db",
        "A": "1",
    }
    assert dev.child_env(given) == {"DATABASE_URL": given["DATABASE_URL"], "A": "1"}
    # The children really start with it: web, worker and beat are all `Child`ren.
    monkeypatch.setenv("DATABASE_OWNER_URL", "postgres://stepdown_owner:secret@127.0.0.1/stepdown")
    probe = "import os; print('owner url:', os.environ.get('DATABASE_OWNER_URL'))"
    child = dev.Child("probe", [sys.executable, "-c", probe])
    assert child.process.wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    seen = ""
    while "owner url:" not in seen and time.monotonic() < deadline:
        time.sleep(0.05)
        seen += capsys.readouterr().out
    assert "[probe ] owner url: None" in seen


@pytest.mark.django_db(transaction=False)
def test_a_child_with_an_explicit_database_url_has_no_owner_in_its_settings():
    dev = _dev_module()
    env = dev.child_env(
        {
            **dev.os.environ,
            "STEPDOWN_ENV": "development",
            "DATABASE_URL": "postgres://stepdown_app:stepdown_app@127.0.0.1:5432/stepdown",
            "DATABASE_OWNER_URL": "postgres://stepdown_owner:stepdown_owner@127.0.0.1:5432/stepdown",
        }
    )
    show = "from django.conf import settings; print('owner:', settings.DATABASE_OWNER)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", show],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "owner: None" in result.stdout, result.stdout + result.stderr
