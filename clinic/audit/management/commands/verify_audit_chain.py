"""`manage.py verify_audit_chain [--clinic SLUG]`: re-compute every audit hash chain.

Each clinic's chain and the platform chain (events with no clinic: sign-ins, failed sign-ins) are
walked in id order through a server-side cursor, `--batch-size` rows at a time, so memory stays flat
however long the trail is. For each chain it prints the number of events checked and either OK or
the first broken link: the event, its time, the expected and the stored hash, and what kind of break
it is (prev_hash mismatch = an event deleted or reordered; hash mismatch = an event edited; head
mismatch = events cut off the end; checkpoint mismatch = the chain no longer agrees with a signed
checkpoint). It exits non-zero when any chain is broken.

The signed checkpoints (`clinic.audit.checkpoints`, files outside the database, HMAC under
`AUDIT_HMAC_KEY`) catch what the chain alone cannot: the owner role re-hashing everything after an edit,
or deleting the tail and moving the head back. A log line with a bad signature is reported too, and so
is a log whose chain is gone from the database. Each chain's log is read *before* its snapshot, so every
checkpoint names events the snapshot can see.

How it reads what nobody else may read (the explicit maintenance bypass):
- It connects as the table-owner role through `owner_connection()`. Row-level security is FORCEd,
  so the owner sees only what the policies allow, like the application does.
- A clinic's chain is read inside `tenant_context(clinic)`: the ordinary `clinic_isolation` policy.
- The platform chain is visible to no clinic. Migration `audit.0003` adds one more policy,
  `audit_platform_maintenance_read`: SELECT only, for the table owner only, and only while the
  transaction-local setting `stepdown.audit_platform_read` is 'on'. The application role is not the
  owner, so that policy cannot apply to request or job code whatever it sets; the owner role is reached
  only through `owner_connection()`, which only management commands and tests may use. The ORM
  scope is lifted with `scopes_disabled()` for that one query (clinic IS NULL).
- Each chain is read in one REPEATABLE READ, READ ONLY transaction, so the head row and the events come
  from the same snapshot: an event appended while the command runs is never mistaken for tampering.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import QuerySet
from django_scopes import scopes_disabled

from clinic.audit.chain import CHAINED_FIELDS, chain_key
from clinic.audit.checkpoints import chains_with_logs, log_path, read_checkpoints
from clinic.audit.models import AuditChainHead, AuditEvent
from clinic.audit.signing import CheckpointLog
from clinic.audit.verify import BrokenLink, ChainReport, Head, verify_chain
from clinic.tenancy.context import tenant_context
from clinic.tenancy.maintenance import owner_connection
from clinic.tenancy.models import Clinic

PLATFORM_READ_SETTING = "stepdown.audit_platform_read"
ROW_FIELDS = ("id", "prev_hash", "hash", *CHAINED_FIELDS)


@contextmanager
def chain_snapshot() -> Iterator[None]:
    """One consistent, read-only snapshot for a chain and its head."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


@contextmanager
def platform_chain_visible() -> Iterator[QuerySet[AuditEvent]]:
    """Inside `owner_connection()`: yield the platform chain's events (see the module docstring)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user = tableowner FROM pg_tables"
            " WHERE schemaname = current_schema() AND tablename = %s",
            [AuditEvent._meta.db_table],
        )
        is_owner = cursor.fetchone()[0]
    if not is_owner:
        raise CommandError("The platform chain can only be read as the table owner (owner_connection()).")
    with chain_snapshot(), scopes_disabled():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', true)", [PLATFORM_READ_SETTING])
        yield AuditEvent.objects.filter(clinic__isnull=True)


def _head(key: str) -> Head | None:
    row = AuditChainHead.objects.filter(chain=key).values_list("last_hash", "last_event_id").first()
    return Head(*row) if row else None


def _walk(
    label: str, key: str, events: QuerySet[AuditEvent], batch_size: int, signed: CheckpointLog
) -> ChainReport:
    head = _head(key)
    rows = events.order_by("id").values(*ROW_FIELDS).iterator(chunk_size=batch_size)
    problem = f"checkpoint log {log_path(key)}: {signed.problem}" if signed.problem else None
    return verify_chain(label, rows, head, signed.checkpoints, checkpoint_problem=problem)


def verify_clinic(clinic: Clinic, batch_size: int) -> ChainReport:
    signed = read_checkpoints(chain_key(clinic.pk))  # before the snapshot: see the module docstring
    with chain_snapshot(), tenant_context(clinic):
        events = AuditEvent.objects.filter(clinic=clinic)
        label = f"clinic {clinic.slug} (id {clinic.pk})"
        return _walk(label, chain_key(clinic.pk), events, batch_size, signed)


def verify_platform(batch_size: int) -> ChainReport:
    signed = read_checkpoints(chain_key(None))
    with platform_chain_visible() as events:
        return _walk("platform (no clinic)", chain_key(None), events, batch_size, signed)


def orphaned_log(key: str) -> ChainReport:
    """A chain with signed checkpoints whose clinic is gone from the database."""
    signed = read_checkpoints(key)
    report = ChainReport(label=f"{key} (signed checkpoints, no such clinic in the database)")
    last = signed.checkpoints[-1] if signed.checkpoints else None
    report.broken = BrokenLink(
        kind="checkpoint",
        event_id=last.last_event_id if last else None,
        occurred_at=None,
        expected=last.last_hash if last else "(a verified checkpoint)",
        stored="(no clinic, no events)",
        explanation=f"{log_path(key)} holds signed checkpoints of this chain"
        + (f" (the last: {last.count} events up to #{last.last_event_id} at {last.at})" if last else "")
        + ", but the database has no such clinic: the clinic and its events were deleted",
    )
    return report


class Command(BaseCommand):
    help = "Re-compute every audit hash chain (each clinic and the platform) and name the first broken link."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--clinic", metavar="SLUG", help="Check only this clinic's chain.")
        parser.add_argument(
            "--batch-size", type=int, default=5000, help="Rows fetched per round trip (default 5000)."
        )

    def handle(self, *args, clinic: str | None = None, batch_size: int = 5000, **options) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        broken = 0
        checked_chains = 0
        with owner_connection():
            clinics = list(Clinic.objects.order_by("id").filter(**({"slug": clinic} if clinic else {})))
            if clinic and not clinics:
                raise CommandError(f"No clinic with slug {clinic!r}")
            for one in clinics:
                broken += not self._print(verify_clinic(one, batch_size))
                checked_chains += 1
            if not clinic:
                broken += not self._print(verify_platform(batch_size))
                checked_chains += 1
                known = {chain_key(one.pk) for one in clinics} | {chain_key(None)}
                for key in sorted(chains_with_logs() - known):
                    broken += not self._print(orphaned_log(key))
                    checked_chains += 1
        if broken:
            raise CommandError(f"{broken} of {checked_chains} audit chain(s) BROKEN", returncode=2)
        self.stdout.write(self.style.SUCCESS(f"All {checked_chains} audit chain(s) intact."))

    def _print(self, report: ChainReport) -> bool:
        events = f"{report.checked} event{'s' if report.checked != 1 else ''} checked"
        link = report.broken
        if link is None:
            line = f"{report.label}: {events}, " + ("OK" if report.ok else "chain OK")
            self.stdout.write(line if report.ok else self.style.ERROR(line))
        else:
            when = f" at {link.occurred_at.isoformat()}" if link.occurred_at else ""
            self.stdout.write(
                self.style.ERROR(f"{report.label}: {events}, BROKEN at event #{link.event_id}{when}")
                + f"\n  {link.kind} mismatch: {link.explanation}"
                + f"\n  expected {link.expected}\n  stored   {link.stored}"
            )
        if report.checkpoint_problem:
            self.stdout.write(self.style.ERROR(f"  checkpoint log BROKEN: {report.checkpoint_problem}"))
        pin = report.last_checkpoint
        if link is None and pin is not None:
            self.stdout.write(
                f"  signed checkpoint of {pin.at}: {pin.count} events up to #{pin.last_event_id} agree; "
                f"{report.after_checkpoint} newer event(s) rest on the hash chain alone until the next one"
            )
        elif link is None and report.checked:
            self.stdout.write("  no signed checkpoint yet: these events rest on the hash chain alone")
        return report.ok
