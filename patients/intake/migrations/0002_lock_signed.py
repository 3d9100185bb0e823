"""The database refuses to change or remove a signed assessment, and any amendment, whoever asks.

Signing itself is the last UPDATE an assessment row sees (OLD.status is still 'draft' then).
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION intake_assessment_refuse_signed_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'signed' THEN
    RAISE EXCEPTION 'intake assessment % is signed and locked (% refused); add an amendment', OLD.id, TG_OP
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER intake_assessment_signed_locked BEFORE UPDATE OR DELETE ON intake_intakeassessment
  FOR EACH ROW EXECUTE FUNCTION intake_assessment_refuse_signed_change();

CREATE OR REPLACE FUNCTION intake_amendment_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'assessment amendments are append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER intake_amendment_append_only BEFORE UPDATE OR DELETE ON intake_assessmentamendment
  FOR EACH ROW EXECUTE FUNCTION intake_amendment_refuse_change();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS intake_amendment_append_only ON intake_assessmentamendment;
DROP FUNCTION IF EXISTS intake_amendment_refuse_change();
DROP TRIGGER IF EXISTS intake_assessment_signed_locked ON intake_intakeassessment;
DROP FUNCTION IF EXISTS intake_assessment_refuse_signed_change();
"""


class Migration(migrations.Migration):
    dependencies = [("intake", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
