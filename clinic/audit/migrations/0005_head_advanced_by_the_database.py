"""Only the database moves a chain head: the app role may read `audit_auditchainhead`, never write it.

- `stepdown_audit_lock_head(chain)` (SECURITY DEFINER, owned by the owner role): creates the chain's head
  row if missing and locks it FOR UPDATE, returning its last hash. The lock belongs to the caller's
  transaction, so it orders one chain's appends exactly as the old `SELECT … FOR UPDATE` did.
- `stepdown_audit_head` (AFTER INSERT, once per statement, SECURITY DEFINER): moves each touched chain's
  head to the statement's last event and adds the number of events (`event_count`, written into every
  signed checkpoint). It moves a head only from the hash the first new event names as its predecessor,
  so an insert that does not continue its chain (a fork, a replay) is refused.
- The app role's INSERT/UPDATE/DELETE/TRUNCATE on the head table are revoked after every migrate
  (`AuditChainHead.app_role_read_only`, applied by `clinic.tenancy.rls.grants_sql`).

Both functions pin `search_path` (pg_temp last) and name the tables with their schema, so a temporary
table of the caller's cannot stand in for the head.
"""

from django.db import migrations, models

GENESIS = "0" * 64


def _schema(schema_editor) -> str:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return schema_editor.connection.ops.quote_name(cursor.fetchone()[0])


def forward(apps, schema_editor) -> None:
    schema = _schema(schema_editor)
    head = f"{schema}.audit_auditchainhead"
    events = f"{schema}.audit_auditevent"
    path = f"SET search_path = pg_catalog, {schema}, pg_temp"
    statements = [
        # Existing chains: their event count, read past row-level security (the owner, in this migration).
        f"""
        DO $$
        DECLARE forced boolean;
        BEGIN
          SELECT relforcerowsecurity INTO forced FROM pg_class WHERE oid = '{events}'::regclass;
          EXECUTE 'ALTER TABLE {events} NO FORCE ROW LEVEL SECURITY';
          UPDATE {head} h SET event_count = counted.n
            FROM (SELECT CASE WHEN clinic_id IS NULL THEN 'platform' ELSE 'clinic:' || clinic_id END AS chain,
                         count(*) AS n
                    FROM {events} GROUP BY 1) counted
           WHERE counted.chain = h.chain;
          IF forced THEN
            EXECUTE 'ALTER TABLE {events} FORCE ROW LEVEL SECURITY';
          END IF;
        END $$
        """,
        f"""
        CREATE OR REPLACE FUNCTION stepdown_audit_lock_head(p_chain text) RETURNS text
        LANGUAGE plpgsql SECURITY DEFINER {path} AS $$
        DECLARE found_hash text;
        BEGIN
          IF p_chain IS NULL OR p_chain !~ '^(platform|clinic:[0-9]+)$' THEN
            RAISE EXCEPTION 'not an audit chain: %', p_chain USING ERRCODE = 'invalid_parameter_value';
          END IF;
          SELECT last_hash INTO found_hash FROM {head} WHERE chain = p_chain FOR UPDATE;
          IF NOT FOUND THEN
            -- First event of the chain: a concurrent first append waits on the key, then both lock one row.
            INSERT INTO {head} (chain, last_hash, last_event_id, event_count)
              VALUES (p_chain, '{GENESIS}', NULL, 0) ON CONFLICT (chain) DO NOTHING;
            SELECT last_hash INTO found_hash FROM {head} WHERE chain = p_chain FOR UPDATE;
          END IF;
          RETURN found_hash;
        END $$
        """,
        f"""
        CREATE OR REPLACE FUNCTION stepdown_audit_advance_head() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER {path} AS $$
        DECLARE link record;
        BEGIN
          FOR link IN
            SELECT CASE WHEN clinic_id IS NULL THEN 'platform' ELSE 'clinic:' || clinic_id END AS chain,
                   (array_agg(prev_hash ORDER BY id))[1] AS first_prev,
                   (array_agg(hash ORDER BY id DESC))[1] AS last_hash,
                   min(id) AS first_id, max(id) AS last_id, count(*) AS added
              FROM appended GROUP BY 1
          LOOP
            UPDATE {head}
               SET last_hash = link.last_hash, last_event_id = link.last_id,
                   event_count = event_count + link.added
             WHERE chain = link.chain AND last_hash = link.first_prev;
            IF NOT FOUND AND link.first_prev = '{GENESIS}' THEN
              INSERT INTO {head} (chain, last_hash, last_event_id, event_count)
                VALUES (link.chain, link.last_hash, link.last_id, link.added) ON CONFLICT (chain) DO NOTHING;
            END IF;
            IF NOT FOUND THEN
              RAISE EXCEPTION 'audit event #% does not continue the % chain: its prev_hash is not the head',
                link.first_id, link.chain USING ERRCODE = 'integrity_constraint_violation';
            END IF;
          END LOOP;
          RETURN NULL;
        END $$
        """,
        f"DROP TRIGGER IF EXISTS stepdown_audit_head ON {events}",
        f"""
        CREATE TRIGGER stepdown_audit_head AFTER INSERT ON {events}
          REFERENCING NEW TABLE AS appended FOR EACH STATEMENT EXECUTE FUNCTION stepdown_audit_advance_head()
        """,
    ]
    with schema_editor.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def backward(apps, schema_editor) -> None:
    events = f"{_schema(schema_editor)}.audit_auditevent"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS stepdown_audit_head ON {events}")
        cursor.execute("DROP FUNCTION IF EXISTS stepdown_audit_advance_head()")
        cursor.execute("DROP FUNCTION IF EXISTS stepdown_audit_lock_head(text)")


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_generic_append_only_trigger")]
    operations = [
        migrations.AddField(
            model_name="auditchainhead",
            name="event_count",
            field=models.BigIntegerField(default=0),
        ),
        migrations.RunPython(forward, backward),
    ]
