"""The append-only guard moved to `clinic.tenancy.rls` (every `append_only` model gets the same trigger
after each migrate); drop this app's own copy."""

from django.db import migrations

FORWARD = """
DROP TRIGGER IF EXISTS consent_disclosure_append_only ON consent_disclosure;
DROP FUNCTION IF EXISTS consent_disclosure_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("consent", "0003_alter_disclosure_channel")]
    operations = [migrations.RunSQL(FORWARD, migrations.RunSQL.noop)]
