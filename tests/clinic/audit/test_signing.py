"""Pure: the signed checkpoint log and the walker's comparison with it (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from clinic.audit.chain import GENESIS, link_hash
from clinic.audit.signing import FIRST_PREV, read_log, signed_next
from clinic.audit.verify import Head, verify_chain

KEY = b"k" * 32


def _log(counts: list[int], chain: str = "clinic:1"):
    lines, previous = [], None
    for count in counts:
        previous = signed_next(
            KEY,
            previous,
            chain=chain,
            clinic_id=1,
            last_event_id=count,
            last_hash=f"{count:064x}",
            count=count,
            at="2026-12-04T10:00:00+00:00",
        )
        lines.append(previous.line())
    return lines


def _rows(count: int) -> list[dict]:
    rows, prev = [], GENESIS
    for n in range(count):
        fields = {"clinic_id": 1, "occurred_at": datetime(2026, 1, 1, 0, 0, n, tzinfo=UTC), "action": "view"}
        digest = link_hash(prev, fields)
        rows.append({"id": n + 1, "prev_hash": prev, "hash": digest, **fields})
        prev = digest
    return rows


def test_a_log_verifies_line_by_line_and_chains_its_lines():
    lines = _log([1, 3, 5])
    log = read_log(lines, KEY, "clinic:1")
    assert log.problem is None and [c.seq for c in log.checkpoints] == [1, 2, 3]
    assert log.checkpoints[0].prev == FIRST_PREV and log.checkpoints[1].prev == log.checkpoints[0].mac


def test_edited_forged_reordered_or_foreign_lines_are_named():
    lines = _log([1, 3, 5])
    assert (
        "line 2 has a bad signature"
        in read_log([lines[0], lines[1].replace('"count":3', '"count":2'), lines[2]], KEY, "clinic:1").problem
    )
    assert "line 1 has a bad signature" in read_log(lines, b"another key" * 3, "clinic:1").problem
    assert "line 2 does not follow" in read_log([lines[0], lines[2]], KEY, "clinic:1").problem
    assert "line 1 is a checkpoint of clinic:1, not of clinic:2" in read_log(lines, KEY, "clinic:2").problem
    assert "line 3 is not a checkpoint" in read_log([*lines[:2], "{oops\n"], KEY, "clinic:1").problem
    # Everything before the first bad line is still used.
    assert len(read_log([lines[0], lines[2]], KEY, "clinic:1").checkpoints) == 1


def test_the_walker_holds_the_chain_to_its_checkpoints():
    rows = _rows(5)
    head = Head(rows[-1]["hash"], 5)
    pin = signed_next(
        KEY, None, chain="clinic:1", clinic_id=1, last_event_id=3, last_hash=rows[2]["hash"], count=3, at="t"
    )
    report = verify_chain("t", rows, head, [pin])
    assert report.ok and report.last_checkpoint == pin and report.after_checkpoint == 2
    wrong_hash = verify_chain("t", rows, head, [replace(pin, last_hash="e" * 64)])
    assert (wrong_hash.broken.kind, wrong_hash.broken.event_id) == ("checkpoint", 3)
    wrong_count = verify_chain("t", rows, head, [replace(pin, count=4)])
    assert wrong_count.broken.kind == "checkpoint" and "now it is event 3" in wrong_count.broken.explanation
    missing = verify_chain("t", [rows[0], rows[1], rows[3], rows[4]], head, [pin])
    assert missing.broken.kind in {"prev_hash", "checkpoint"}
    short = verify_chain("t", rows[:2], Head(rows[1]["hash"], 2), [pin])
    assert short.broken.kind == "checkpoint" and "head moved back" in short.broken.explanation
    assert not verify_chain("t", rows, head, [pin], checkpoint_problem="line 2 …").ok
