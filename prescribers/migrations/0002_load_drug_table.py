from django.db import migrations


def load(apps, schema_editor):
    from prescribers.loader import load_drug_table

    load_drug_table(apps.get_model("prescribers", "Drug"))


class Migration(migrations.Migration):
    dependencies = [("prescribers", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
