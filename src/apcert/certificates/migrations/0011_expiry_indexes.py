"""Index the certificates by end of validity, number and status, for the dashboards'
certificates expiring soon (everything's, and a CB's): the first few in order, and the
counts from the index alone."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0002_list_order_indexes"),
        ("bodies", "0001_initial"),
        ("certificates", "0010_cb_lapses_on_index"),
        ("organizations", "0002_organization_name_index"),
        ("schemes", "0002_schemerules_publication_review"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="certificate",
            index=models.Index(
                fields=["expires_on", "number", "status"], name="certificate_expiry"
            ),
        ),
        migrations.AddIndex(
            model_name="certificate",
            index=models.Index(
                fields=["cb", "expires_on", "number", "status"], name="certificate_cb_expiry"
            ),
        ),
    ]
