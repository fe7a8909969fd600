"""Plan every live certificate's visits again (surveillance now falls due within the interval
of the one actually carried out) and fill the certificates' date facts,
``surveillance_due_by`` and ``lapses_on``, from the programme rules over this migration's
historical models. Reversed by nothing: the previous schema simply ignores the columns."""

from django.db import migrations


def fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    from apcert.cycle.schedule import Models, visit_schedule_rebuild

    visit_schedule_rebuild(
        models=Models(
            certificate=apps.get_model("certificates", "Certificate"),
            issue=apps.get_model("certificates", "CertificateIssue"),
            assessment=apps.get_model("assessments", "Assessment"),
            rules=apps.get_model("schemes", "SchemeRules"),
            visit=apps.get_model("cycle", "ScheduledVisit"),
            strict=False,
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("certificates", "0004_status_dates"),
        ("cycle", "0003_fill_scheduled_visits"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop, elidable=True)]
