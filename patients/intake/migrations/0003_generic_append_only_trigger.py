"""Amendments now use the project-wide append-only guard (`append_only = True`, applied by
`clinic.tenancy.rls` after each migrate); drop this app's own copy. The signed-assessment lock stays."""

from django.db import migrations

FORWARD = """
DROP TRIGGER IF EXISTS intake_amendment_append_only ON intake_assessmentamendment;
DROP FUNCTION IF EXISTS intake_amendment_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("intake", "0002_lock_signed")]
    operations = [migrations.RunSQL(FORWARD, migrations.RunSQL.noop)]
