"""The database refuses UPDATE and DELETE on credentials_issuecredential (see
apcert.audit.triggers): an issue's signed credential, once made, is never replaced."""

from django.db import migrations

TABLE = "credentials_issuecredential"


def forwards(apps, schema_editor):
    from apcert.audit import triggers

    triggers.install(schema_editor.connection, TABLE)


def backwards(apps, schema_editor):
    from apcert.audit import triggers

    triggers.remove(schema_editor.connection, TABLE)


class Migration(migrations.Migration):
    dependencies = [("credentials", "0002_register_keys"), ("audit", "0002_append_only")]
    operations = [migrations.RunPython(forwards, backwards)]
