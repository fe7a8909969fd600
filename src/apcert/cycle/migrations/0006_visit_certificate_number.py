"""Keep the certificate's number on each stored visit, filled from the certificates, and
index the visits in the order of their lists (due date, number, kind, sequence), ending on
the window's end for the dashboard's counts. Reversed by dropping the column and going back
to the previous indexes."""

from django.db import migrations, models


def fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    certificate = apps.get_model("certificates", "Certificate")
    visit = apps.get_model("cycle", "ScheduledVisit")
    visit.objects.update(
        certificate_number=models.Subquery(
            certificate.objects.filter(pk=models.OuterRef("certificate_id")).values("number")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("bodies", "0001_initial"),
        ("certificates", "0010_cb_lapses_on_index"),
        ("cycle", "0005_sweep_run_times"),
        ("organizations", "0002_organization_name_index"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="scheduledvisit",
            options={"ordering": ["due_date", "certificate_number", "kind", "sequence"]},
        ),
        migrations.RemoveIndex(model_name="scheduledvisit", name="scheduled_visit_due"),
        migrations.RemoveIndex(model_name="scheduledvisit", name="scheduled_visit_cb_due"),
        migrations.AddField(
            model_name="scheduledvisit",
            name="certificate_number",
            field=models.CharField(default="", max_length=40),
            preserve_default=False,
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="scheduledvisit",
            index=models.Index(
                fields=["due_date", "certificate_number", "kind", "sequence", "window_end"],
                name="scheduled_visit_day",
            ),
        ),
        migrations.AddIndex(
            model_name="scheduledvisit",
            index=models.Index(
                fields=["cb", "due_date", "certificate_number", "kind", "sequence", "window_end"],
                name="scheduled_visit_cb_day",
            ),
        ),
    ]
