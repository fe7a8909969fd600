"""The database refuses UPDATE and DELETE on certificates_certificateissue (see apcert.audit.triggers)."""

from django.db import migrations

TABLE = "certificates_certificateissue"


def forwards(apps, schema_editor):
    from apcert.audit import triggers

    triggers.install(schema_editor.connection, TABLE)


def backwards(apps, schema_editor):
    from apcert.audit import triggers

    triggers.remove(schema_editor.connection, TABLE)


class Migration(migrations.Migration):
    dependencies = [("certificates", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
