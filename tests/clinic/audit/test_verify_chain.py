"""`manage.py verify_audit_chain`: an intact trail verifies; an edited, deleted or cut-off event is
named as the first broken link; chains are independent; concurrent appends never fork a chain."""

from __future__ import annotations

import itertools
import threading

import pytest
from django.db import connection

from clinic.audit.chain import GENESIS
from clinic.audit.models import AuditChainHead
from clinic.audit.services import audit, audit_platform_event
from clinic.audit.verify import Head, verify_chain
from clinic.tenancy.context import tenant_context
from tests.clinic.audit.conftest import add_events, as_owner_in, clinic_events, tamper, verify

pytestmark = pytest.mark.django_db(transaction=True)


def test_intact_chains_verify_ok(clinic_a, clinic_b, patient_a):
    add_events(clinic_a, 5, patient=patient_a)
    add_events(clinic_b, 3)
    audit_platform_event(action="login_failed", actor=None, detail={"email": "who@example.org"})
    intact, output = verify()
    assert intact, output
    assert "clinic clinic-a" in output and "5 events checked, OK" in output
    assert "3 events checked, OK" in output
    assert "platform (no clinic): 1 event checked, OK" in output
    assert "All 3 audit chain(s) intact" in output


def test_empty_trail_verifies_ok(clinic_a):
    intact, output = verify()
    assert intact and "clinic clinic-a (id" in output and "0 events checked, OK" in output


def test_edited_event_is_named_as_the_first_broken_link(clinic_a):
    events = add_events(clinic_a, 5)
    victim = events[2]
    tamper(clinic_a, "UPDATE audit_auditevent SET detail = '{\"n\": 99}' WHERE id = %s", [victim.pk])
    intact, output = verify()
    assert not intact
    assert f"BROKEN at event #{victim.pk}" in output
    assert "hash mismatch" in output and "edited" in output
    assert f"stored   {victim.hash}" in output
    assert "1 of 2 audit chain(s) BROKEN" in output


def test_edited_actor_is_detected_too(clinic_a, staff_a):
    events = add_events(clinic_a, 3)
    tamper(
        clinic_a, "UPDATE audit_auditevent SET actor_label = 'someone@else.org' WHERE id = %s", [events[0].pk]
    )
    intact, output = verify("--clinic", "clinic-a")
    assert not intact and f"BROKEN at event #{events[0].pk}" in output


def test_deleted_middle_event_is_detected_at_the_next_one(clinic_a):
    events = add_events(clinic_a, 5)
    tamper(clinic_a, "DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
    intact, output = verify()
    assert not intact
    assert f"BROKEN at event #{events[3].pk}" in output
    assert "prev_hash mismatch" in output and f"(#{events[1].pk})" in output and "deleted" in output
    assert f"expected {events[1].hash}" in output


def test_deleted_first_event_is_detected(clinic_a):
    events = add_events(clinic_a, 3)
    tamper(clinic_a, "DELETE FROM audit_auditevent WHERE id = %s", [events[0].pk])
    intact, output = verify()
    assert not intact and f"BROKEN at event #{events[1].pk}" in output and "genesis" in output


def test_truncated_tail_is_detected_by_the_chain_head(clinic_a):
    events = add_events(clinic_a, 4)
    tamper(clinic_a, "DELETE FROM audit_auditevent WHERE id = %s", [events[-1].pk])
    intact, output = verify()
    assert not intact
    assert "3 events checked" in output and "head mismatch" in output and "truncated tail" in output
    assert f"BROKEN at event #{events[-1].pk}" in output


def test_rewritten_event_with_recomputed_hash_breaks_the_next_link(clinic_a):
    """An attacker who also recomputes the edited event's hash still breaks the link after it."""
    from clinic.audit.chain import link_hash

    events = add_events(clinic_a, 3)
    middle = events[1]
    fields = {name: getattr(middle, name) for name in ("clinic_id", "occurred_at", "actor_id", "actor_label")}
    fields.update(action="list", object_type=middle.object_type, object_id="", patient_id=None)
    fields.update(ip_address=None, request_id="", detail={"n": 1})
    forged = link_hash(middle.prev_hash, fields)
    tamper(
        clinic_a, "UPDATE audit_auditevent SET action = 'list', hash = %s WHERE id = %s", [forged, middle.pk]
    )
    intact, output = verify()
    assert not intact and f"BROKEN at event #{events[2].pk}" in output and "prev_hash mismatch" in output


def test_chains_of_two_clinics_are_independent(clinic_a, clinic_b):
    a_events = add_events(clinic_a, 3)
    b_events = add_events(clinic_b, 3)
    assert a_events[0].prev_hash == b_events[0].prev_hash == GENESIS
    assert {e.hash for e in a_events}.isdisjoint(e.prev_hash for e in b_events)
    tamper(clinic_b, "DELETE FROM audit_auditevent WHERE id = %s", [b_events[1].pk])
    assert verify("--clinic", "clinic-a")[0]
    intact, output = verify()
    assert not intact
    assert "clinic clinic-a" in output and "3 events checked, OK" in output
    assert f"BROKEN at event #{b_events[2].pk}" in output


def test_unknown_clinic_is_an_error(clinic_a):
    intact, output = verify("--clinic", "no-such-clinic")
    assert not intact and "No clinic with slug" in output


def test_small_batches_walk_the_whole_chain(clinic_a):
    add_events(clinic_a, 25)
    intact, output = verify("--batch-size", "4")
    assert intact and "25 events checked, OK" in output


def test_platform_chain_tampering_is_detected(clinic_a):
    from clinic.tenancy.maintenance import owner_connection

    first = audit_platform_event(action="login_failed", actor=None, detail={"email": "a@example.org"})
    audit_platform_event(action="login_failed", actor=None, detail={"email": "b@example.org"})
    with owner_connection(), connection.cursor() as cursor:
        # No policy lets anyone UPDATE a platform row; the owner has to switch row security off first.
        cursor.execute("BEGIN")
        cursor.execute("ALTER TABLE audit_auditevent NO FORCE ROW LEVEL SECURITY")
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER stepdown_append_only")
        cursor.execute("UPDATE audit_auditevent SET actor_label = 'c@example.org' WHERE id = %s", [first.pk])
        assert cursor.rowcount == 1
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER stepdown_append_only")
        cursor.execute("ALTER TABLE audit_auditevent FORCE ROW LEVEL SECURITY")
        cursor.execute("COMMIT")
    intact, output = verify()
    assert not intact and "platform (no clinic)" in output and f"BROKEN at event #{first.pk}" in output


@pytest.mark.parametrize("first_append_race", [True, False], ids=["first-events", "steady-state"])
def test_concurrent_appends_in_one_clinic_never_fork_the_chain(clinic_a, first_append_race):
    if not first_append_race:
        add_events(clinic_a, 1)
    per_thread, threads = 15, 4
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            barrier.wait(timeout=10)
            for n in range(per_thread):
                with tenant_context(clinic_a):
                    audit(actor=None, action="view", object_type="test", detail={"worker": worker, "n": n})
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=append, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors
    events = clinic_events(clinic_a)
    assert len(events) == per_thread * threads + (0 if first_append_race else 1)
    prevs = [event.prev_hash for event in events]
    assert len(set(prevs)) == len(prevs), "two events share a predecessor: the chain forked"
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events))
    intact, output = verify("--clinic", "clinic-a")
    assert intact, output


def test_head_row_tracks_the_last_event(clinic_a):
    events = add_events(clinic_a, 2)
    head = AuditChainHead.objects.get(chain=f"clinic:{clinic_a.pk}")
    assert (head.last_event_id, head.last_hash) == (events[-1].pk, events[-1].hash)


def test_verify_runs_as_owner_and_leaves_the_app_connection_alone(clinic_a):
    add_events(clinic_a, 1)
    verify()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == connection.settings_dict["USER"]
    with as_owner_in(clinic_a) as cursor:
        cursor.execute("SELECT current_user = tableowner FROM pg_tables WHERE tablename = 'audit_auditevent'")
        assert cursor.fetchone()[0]


# --- The pure walker --------------------------------------------------------------------------------------


def _rows(count: int) -> list[dict]:
    from datetime import UTC, datetime

    from clinic.audit.chain import link_hash

    rows, prev = [], GENESIS
    for n in range(count):
        fields = {"clinic_id": 1, "occurred_at": datetime(2026, 1, 1, 0, 0, n, tzinfo=UTC), "action": "view"}
        digest = link_hash(prev, fields)
        rows.append({"id": n + 1, "prev_hash": prev, "hash": digest, **fields})
        prev = digest
    return rows


@pytest.mark.django_db(transaction=False)
def test_walker_reports_ok_and_the_first_break_only():
    rows = _rows(4)
    assert verify_chain("t", rows, Head(rows[-1]["hash"], 4)).ok
    rows[1]["action"], rows[3]["action"] = "delete", "delete"
    report = verify_chain("t", rows, Head(rows[-1]["hash"], 4))
    assert (report.broken.kind, report.broken.event_id, report.checked) == ("hash", 2, 2)


@pytest.mark.django_db(transaction=False)
def test_walker_flags_a_missing_head_and_events_beyond_the_head():
    rows = _rows(3)
    assert verify_chain("t", rows, None).broken.kind == "head"
    assert verify_chain("t", rows, Head(rows[1]["hash"], 2)).broken.kind == "head"
    assert verify_chain("t", [], None).ok
    assert verify_chain("t", [], Head(GENESIS, None)).ok
    assert verify_chain("t", [], Head(rows[0]["hash"], 1)).broken.kind == "head"


def test_batch_appends_chain_like_single_ones(clinic_a, patient_a):
    from clinic.audit.services import audit_many

    add_events(clinic_a, 2, patient=patient_a)
    with tenant_context(clinic_a):
        batch = audit_many(
            actor=None,
            action="create",
            items=[
                {"object_type": "x.y", "object_id": str(n), "patient": patient_a, "detail": {"n": n}}
                for n in range(4)
            ],
        )
        audit(actor=None, action="view", object_type="x.y", object_id="after")
    assert [e.prev_hash for e in batch[1:]] == [e.hash for e in batch[:-1]]
    intact, output = verify()
    assert intact and "7 events checked, OK" in output, output
