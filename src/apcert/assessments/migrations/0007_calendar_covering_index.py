"""The CB's index of assessments by first day also holds the last day and the status, so that
the calendar reads a month's dates from the index alone."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("assessments", "0006_list_order_indexes")]

    operations = [
        migrations.RemoveIndex(model_name="assessment", name="assessment_cb_start"),
        migrations.AddIndex(
            model_name="assessment",
            index=models.Index(
                fields=["cb", "start_date", "id", "end_date", "status"],
                name="assessment_cb_start",
            ),
        ),
    ]
