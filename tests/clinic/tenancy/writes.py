"""What a block of code wrote to the database, from the SQL it sent (a query capture).

"A refused request wrote nothing" used to be two table snapshots around the request (a SELECT of every
tenant table before and after). Watching the statements instead costs nothing per request and sees every
table, not only the clinic's: any INSERT, UPDATE or DELETE (also inside a `WITH … AS (INSERT …)`) counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection

# A write and the table it names. `UPDATE` also occurs in `SELECT … FOR UPDATE [OF t]` (a lock) and in
# `ON CONFLICT … DO UPDATE SET` (part of the INSERT already counted): the word after it tells them apart.
_WRITE = re.compile(r'\b(INSERT\s+INTO|DELETE\s+FROM|UPDATE)\s+(?:ONLY\s+)?("[^"]+"|\w+)', re.IGNORECASE)
_NOT_A_TABLE = {"set", "of", "nowait", "skip"}


def written_tables(sql: str) -> list[str]:
    tables = []
    for _verb, name in _WRITE.findall(sql):
        table = name.strip('"')
        if table.lower() not in _NOT_A_TABLE:
            tables.append(table)
    return tables


# Token bookkeeping done while authenticating, before any permission check (api/authentication.py); DRF
# rolls it back with the refused request's transaction, so the old snapshots never saw it either.
TOKEN_LAST_USED = re.compile(
    r'^UPDATE "api_apiclient" SET "last_used_at" = %s WHERE "api_apiclient"\."id" = %s$'
)


@dataclass(frozen=True)
class Allowed:
    """Writes a block may send: to `tables`, or a statement matching one of `statements`."""

    tables: frozenset[str] = frozenset()
    statements: tuple[re.Pattern, ...] = ()

    def __contains__(self, write: tuple[str, str]) -> bool:
        table, sql = write
        return table in self.tables or any(pattern.match(sql) for pattern in self.statements)


# Every request may write these, before anything is decided: the session, which the idle-timeout middleware
# stamps (`stepdown_last_seen`), and the token's `last_used_at`. The old snapshots never read sessions and
# never saw the stamp (DRF rolls it back with a refused request).
REQUEST_BOOKKEEPING = Allowed(tables=frozenset({"django_session"}), statements=(TOKEN_LAST_USED,))


def refused_request_may_write() -> Allowed:
    """What a request refused by the role table (403) may write, mirroring exactly what
    `snapshot(skip_append_only=True)` ignored before: the append-only tables (the audit trail may record the
    refusal) and the audit chain head that appending moves; plus the request bookkeeping above. Rate-limit
    counters live in Redis, not in the database."""
    from clinic.audit.models import AuditChainHead
    from clinic.tenancy.rls import tenant_models

    append_only = {m._meta.db_table for m in tenant_models() if getattr(m, "append_only", False)}
    return Allowed(
        tables=REQUEST_BOOKKEEPING.tables | {*append_only, AuditChainHead._meta.db_table},
        statements=REQUEST_BOOKKEEPING.statements,
    )


class Writes(list):
    """(table, statement) pairs, in the order they were sent."""

    def describe(self) -> str:
        return "; ".join(f"{table}: {sql[:160]}" for table, sql in self)


@contextmanager
def capture_writes(*, allowed: Allowed = Allowed()) -> Iterator[Writes]:
    """Collect the writes sent on the default connection inside the block, except the `allowed` ones.

    Statements count when sent, even if a rollback undoes them later: a refused request has no business
    starting a write."""
    found = Writes()

    def watch(execute, sql, params, many, context):
        for table in written_tables(sql):
            if (table, sql) not in allowed:
                found.append((table, sql))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        yield found
