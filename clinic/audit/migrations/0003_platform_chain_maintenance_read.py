"""Let `verify_audit_chain` read the platform chain (events with no clinic), and nothing else can.

The `clinic_isolation` policy shows a row only when its clinic is the current one, so platform
rows (logins, failed logins) are visible to nobody, the table owner included (FORCE). This adds a
second, SELECT-only policy for the table owner alone, and only while the transaction-local setting
`stepdown.audit_platform_read` is 'on'. The application role is not the owner and is no member of
it, so the policy never applies to request or job code, whatever settings that code makes; the owner
is reachable only through `clinic.tenancy.maintenance.owner_connection()` (management commands).
The owner must also set the flag on purpose, so `migrate`, `flush` or a shell as owner do not see
platform rows by accident.
"""

from django.db import migrations

FORWARD = """
DO $$
DECLARE owner_role name;
BEGIN
  SELECT tableowner INTO owner_role FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'audit_auditevent';
  EXECUTE format(
    'CREATE POLICY audit_platform_maintenance_read ON audit_auditevent AS PERMISSIVE FOR SELECT TO %I '
    'USING (clinic_id IS NULL AND current_setting(''stepdown.audit_platform_read'', true) = ''on'')',
    owner_role);
END $$;
"""
BACKWARD = "DROP POLICY IF EXISTS audit_platform_maintenance_read ON audit_auditevent;"


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
