"""Evidence files kept under EVIDENCE_DIR, as every file was before its content moved to the
database, are copied into the database as the chunks of their rows.

Each file is copied in a transaction of its own (the migration itself is not atomic), one
chunk in memory at a time, and only when it is what its row records: a regular file (not a
link), of the recorded size, with the recorded SHA-256. A file that is missing, or is not
what its row records, is left out with a warning naming the row and the path, and the
migration goes on: such a row was already unreadable (the download answered that the file
is damaged), it stays exactly so, and one lost file does not hold back the upgrade of every
other. Once the file is back in place, ``apcert evidence-sweep --move`` copies it in the
same way.

A second run copies nothing twice: a row that has content in the database is skipped. The
files are left where they were, for the operator to delete once a backup of the database
holds them (``apcert evidence-sweep --delete`` removes those copied). Backwards: nothing to
do (the chunks go with migration 0008).
"""

import hashlib
import os
import re
import stat
import sys
from pathlib import Path

from django.conf import settings
from django.db import migrations, transaction

#: The size of each chunk, as it stood when this was written.
CHUNK = 1024 * 1024
KEY = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}")


class NotAsRecorded(Exception):
    pass


def _copy(chunks, evidence_id, path, size, sha256, using):
    """Copy one file into ``evidence_id``'s chunks, or raise NotAsRecorded (having written
    nothing) when it is not what the row records."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise NotAsRecorded(f"cannot be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as source:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size != size:
            raise NotAsRecorded(f"is {info.st_size} bytes, its record says {size}")
        digest = hashlib.sha256()
        with transaction.atomic(using=using):
            index = 0
            while piece := source.read(CHUNK):
                digest.update(piece)
                chunks.objects.using(using).create(evidence_id=evidence_id, index=index, data=piece)
                index += 1
            if digest.hexdigest() != sha256:
                # Leaving the block by an exception rolls back the chunks written.
                raise NotAsRecorded("is not the content uploaded (its SHA-256 differs)")


def move_files(files, chunks, *, root, using, warn):
    """Copy into the database every file under ``root`` whose row has no content there yet.
    Returns (copied, left out)."""
    rows = list(
        files.objects.using(using)
        .filter(chunks__isnull=True)
        .order_by("pk")
        .values_list("pk", "storage_key", "size", "sha256")
    )
    copied = left_out = 0
    for pk, key, size, sha256 in rows:
        path = root / key
        try:
            if not KEY.fullmatch(key):
                raise NotAsRecorded("is not named by a storage key apcert made")
            _copy(chunks, pk, path, size, sha256, using)
        except NotAsRecorded as why:
            left_out += 1
            warn(
                f"evidence file {pk}: {path} {why}; left out of the database (its download "
                "answers that the file is damaged until it is restored and copied in)"
            )
        else:
            copied += 1
    return copied, left_out


def _warn(message):
    # Each on a line of its own, under the migration's "Applying ..." line.
    sys.stderr.write(f"\n  warning: {message}")


def forwards(apps, schema_editor):
    root = Path(settings.EVIDENCE_DIR).resolve()
    copied, left_out = move_files(
        apps.get_model("assessments", "EvidenceFile"),
        apps.get_model("assessments", "EvidenceChunk"),
        root=root,
        using=schema_editor.connection.alias,
        warn=_warn,
    )
    if copied or left_out:
        sys.stderr.write(
            f"\n  evidence: {copied} file(s) copied from {root} into the database, {left_out} "
            f"left out; the files under {root} are left for you to delete once a backup of "
            "the database holds them\n"
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("assessments", "0008_evidence_chunk")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
