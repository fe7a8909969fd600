"""``apcert keys-generate --cb CODE``: a new signing key for a CB (key rotation)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apcert.core.errors import DomainError
from apcert.credentials import keyfiles, services


class Command(BaseCommand):
    help = (
        "Generate a new Ed25519 signing key for a certification body and sign its "
        "certificates' credentials with it from now on. The previous key is retired: it "
        "signs nothing more and still verifies what it signed. The private key is written to "
        "APCERT_KEY_DIR/<CB code>/ (mode 0600); only the public key is kept in the database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cb", required=True, metavar="CODE", help="the CB's code")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            cb = services.cb_by_code(options["cb"])
            key = services.signing_key_generate(
                actor=None, cb=cb, actor_label="command line (keys-generate)"
            )
        except DomainError as exc:
            raise CommandError(f"keys-generate: {exc.message}") from None
        path = keyfiles.key_path(cb.code, key.public_key_multibase)
        self.stdout.write(f"keys-generate: {key.key_id} now signs for {cb.code}")
        self.stdout.write(f"  public key {key.public_key_multibase}")
        self.stdout.write(f"  private key file {path} (back it up; never share it)")
