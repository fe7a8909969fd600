"""Why a backup or a restore stopped. Each refusal has its own exit code, so that a script
can tell a damaged file from a rollback from a failed check."""

from __future__ import annotations


class BackupRefused(Exception):
    """A backup or restore that cannot go on: the message says why and what to do."""

    exit_code = 1


class BackupFileError(BackupRefused):
    """The backup file is not one, or is cut short, damaged or altered."""


class RollbackRefused(BackupRefused):
    """The backup is older than a head already published: restoring it loses events."""

    exit_code = 3


#: The exit code of a restore whose database was restored but a check after it failed.
CHECKS_FAILED_EXIT = 4
