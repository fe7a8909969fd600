"""``apcert credentials-sign [--cb CODE] [--batch N] [--quiet]``: sign and store the
credential of every public certificate's latest issue that has none yet, in batches."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from apcert.core.errors import DomainError
from apcert.credentials import selectors, services


class Command(BaseCommand):
    help = (
        "Sign and store the credential of every public certificate's latest issue that has "
        "none yet, with its CB's current key: what each certificate service does for its own "
        "certificate, for a whole register at once (after 'apcert keys-generate --missing' on "
        "existing data, or a restore). Issues of a CB with no signing key are passed over. "
        "Batches of --batch issues, each in one transaction, the key files read once. A "
        "second run signs nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cb", metavar="CODE", help="only this CB's certificates")
        parser.add_argument(
            "--batch", type=int, default=1000, metavar="N", help="issues a transaction (1000)"
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch"] < 1:
            raise CommandError("credentials-sign: --batch wants 1 or more")
        try:
            cb = services.cb_by_code(options["cb"]) if options["cb"] else None
            total = selectors.unsigned_latest_issues(cb).count()
            show = not options["quiet"] and total > 1000
            with tqdm(total=total, unit="cred", disable=not show, file=self.stderr) as bar:

                def advance(n: int) -> None:
                    bar.update(n)

                signed = services.credentials_sign_missing(
                    cb=cb, batch_size=options["batch"], progress=advance
                )
        except DomainError as exc:
            raise CommandError(f"credentials-sign: {exc.message}") from None
        self.stdout.write(f"credentials-sign: {signed} credentials signed and stored")
