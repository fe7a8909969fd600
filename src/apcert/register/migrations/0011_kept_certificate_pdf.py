"""Kept certificate PDFs in the database, one row per issue, in place of files on one
server's disk."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("certificates", "0011_expiry_indexes"),
        ("register", "0010_csv_row_formula_cells"),
    ]

    operations = [
        migrations.CreateModel(
            name="KeptCertificatePdf",
            fields=[
                (
                    "issue",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="certificates.certificateissue",
                    ),
                ),
                ("digest", models.CharField(max_length=64)),
                ("content", models.BinaryField()),
                ("drawn_at", models.DateTimeField()),
            ],
        ),
    ]
