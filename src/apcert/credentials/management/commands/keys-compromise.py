"""``apcert keys-compromise KEY_ID --since DATETIME``: distrust what a key signed from then."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apcert.core.errors import DomainError
from apcert.credentials import services


def _moment(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(
            f"keys-compromise: {value!r} is not a date-time such as 2026-03-01T08:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class Command(BaseCommand):
    help = (
        "Mark a signing key compromised from a date-time: credentials whose proof was created "
        "at or after it no longer verify; those signed before still do. The key is retired if "
        "it was the CB's signing key (generate a new one with keys-generate). Publish a new "
        "trust bundle afterwards."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key_id", metavar="KEY_ID", help="as keys-list shows it")
        parser.add_argument(
            "--since",
            required=True,
            metavar="DATETIME",
            help="ISO 8601, e.g. 2026-03-01T08:00:00Z (no zone means UTC)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since = _moment(options["since"])
        try:
            key = services.signing_key_compromise(
                actor=None,
                key_id=options["key_id"],
                since=since,
                actor_label="command line (keys-compromise)",
            )
        except DomainError as exc:
            raise CommandError(f"keys-compromise: {exc.message}") from None
        assert key.compromised_from is not None
        self.stdout.write(
            f"keys-compromise: {key.key_id} is compromised since "
            f"{key.compromised_from.isoformat()}; what it signed from then on no longer verifies"
        )
