"""Record when notifications started: the first e-mail of the outbox if a dispatcher already
ran, else the moment this migration runs.

A database that already holds years of certificates, decisions and findings that were never
told gets its start now, so the first dispatch mails none of that history (the old status
changes, the findings late for years); only what is recorded from now on is news. Where a
dispatcher already ran, what it has not told yet since its first e-mail is still told.
"""

from django.db import migrations
from django.db.models import Max, Min
from django.utils import timezone


def forwards(apps, schema_editor):
    start = apps.get_model("notifications", "NotificationsStart")
    finding = apps.get_model("assessments", "Finding")
    sent = apps.get_model("notifications", "NotificationSent")
    started = sent.objects.aggregate(first=Min("created_at"))["first"] or timezone.now()
    floor = finding.objects.aggregate(top=Max("id"))["top"] or 0
    start.objects.get_or_create(
        id=1,
        defaults={
            "started_at": started,
            "started_on": timezone.localdate(started),
            "finding_floor": floor,
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_messages_preferences_start"),
        ("assessments", "0003_evidencefile"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
