"""Findings are numbered 1, 2, 3 ... within their assessment.

The column is added empty, the findings already recorded are numbered in the order they were
recorded (by id within each assessment), then the column is made required and unique within
the assessment. One statement numbers every finding, on SQLite as on PostgreSQL: each
finding's number is how many findings of its assessment have an id up to its own, counted
through the index on the assessment."""

from django.db import migrations, models

NUMBER_EXISTING = """
UPDATE assessments_finding
SET number = (
    SELECT COUNT(*) FROM assessments_finding AS earlier
    WHERE earlier.assessment_id = assessments_finding.assessment_id
    AND earlier.id <= assessments_finding.id
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0003_evidencefile"),
    ]

    operations = [
        migrations.AddField(
            model_name="finding",
            name="number",
            field=models.PositiveIntegerField(null=True),
        ),
        migrations.RunSQL(NUMBER_EXISTING, reverse_sql=migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="finding",
            name="number",
            field=models.PositiveIntegerField(
                help_text="1, 2, 3 ... within its assessment, in the order the findings were "
                "recorded."
            ),
        ),
        migrations.AddConstraint(
            model_name="finding",
            constraint=models.UniqueConstraint(
                fields=("assessment", "number"), name="finding_number_unique_in_assessment"
            ),
        ),
        migrations.AddConstraint(
            model_name="finding",
            constraint=models.CheckConstraint(
                condition=models.Q(number__gte=1), name="finding_number_from_1"
            ),
        ),
    ]
