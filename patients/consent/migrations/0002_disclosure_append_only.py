"""The accounting of disclosures is a record of what left the program: the database refuses to change it."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION consent_disclosure_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'disclosures are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER consent_disclosure_append_only BEFORE UPDATE OR DELETE ON consent_disclosure
  FOR EACH ROW EXECUTE FUNCTION consent_disclosure_refuse_change();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS consent_disclosure_append_only ON consent_disclosure;
DROP FUNCTION IF EXISTS consent_disclosure_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
