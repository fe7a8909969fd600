"""Fill the stored visit schedule of an existing database from the programme rules (the
planner of apcert.cycle.programme over this migration's historical models). Reversed by
emptying the table, which the previous migration then drops."""

from django.db import migrations


def _models(apps):  # type: ignore[no-untyped-def]
    from apcert.cycle.schedule import Models

    return Models(
        certificate=apps.get_model("certificates", "Certificate"),
        issue=apps.get_model("certificates", "CertificateIssue"),
        assessment=apps.get_model("assessments", "Assessment"),
        rules=apps.get_model("schemes", "SchemeRules"),
        visit=apps.get_model("cycle", "ScheduledVisit"),
        strict=False,
        status_dates=False,
    )


def fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    from apcert.cycle.schedule import visit_schedule_rebuild

    visit_schedule_rebuild(models=_models(apps))


def empty(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("cycle", "ScheduledVisit").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0003_evidencefile"),
        ("certificates", "0002_issues_append_only"),
        ("schemes", "0001_initial"),
        ("cycle", "0002_scheduled_visit"),
    ]

    operations = [migrations.RunPython(fill, empty, elidable=True)]
