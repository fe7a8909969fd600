# The new index first, so that the dashboards' window is never without one.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("certificates", "0006_decision_deferral"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="certificatestatuschange",
            index=models.Index(
                fields=["effective_on", "to_status", "from_status"], name="status_change_window"
            ),
        ),
        migrations.RemoveIndex(
            model_name="certificatestatuschange",
            name="certificate_effecti_175f54_idx",
        ),
    ]
