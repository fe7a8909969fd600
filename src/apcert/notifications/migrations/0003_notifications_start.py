"""Record when notifications started: the moment this migration runs.

A database that already holds years of certificates, decisions and findings gets its start
now, so the first dispatch mails none of that history (the old status changes, the findings
late for years); only what is recorded from now on is news.
"""

from django.db import migrations
from django.db.models import Max
from django.utils import timezone


def forwards(apps, schema_editor):
    start = apps.get_model("notifications", "NotificationsStart")
    finding = apps.get_model("assessments", "Finding")
    now = timezone.now()
    floor = finding.objects.aggregate(top=Max("id"))["top"] or 0
    start.objects.get_or_create(
        id=1,
        defaults={
            "started_at": now,
            "started_on": timezone.localdate(now),
            "finding_floor": floor,
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_messages_preferences_start"),
        ("assessments", "0003_evidencefile"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
