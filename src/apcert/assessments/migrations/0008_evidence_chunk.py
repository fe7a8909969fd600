"""Evidence content in the database: each file as chunks of its row, in order."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0007_calendar_covering_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="evidencefile",
            name="storage_key",
            field=models.CharField(
                help_text="A name apcert made for the file (its path under EVIDENCE_DIR before the content moved to the database).",
                max_length=64,
                unique=True,
            ),
        ),
        migrations.CreateModel(
            name="EvidenceChunk",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("index", models.PositiveIntegerField()),
                ("data", models.BinaryField()),
                (
                    "evidence",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="chunks",
                        to="assessments.evidencefile",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("evidence", "index"), name="evidence_chunk_unique"
                    )
                ],
            },
        ),
    ]
