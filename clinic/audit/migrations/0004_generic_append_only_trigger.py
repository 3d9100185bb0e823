"""The append-only guard moved to `clinic.tenancy.rls` (every `append_only` model gets the same trigger
after each migrate); drop this app's own copy."""

from django.db import migrations

FORWARD = """
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_platform_chain_maintenance_read")]
    operations = [migrations.RunSQL(FORWARD, migrations.RunSQL.noop)]
