"""``apcert keys-generate --cb CODE`` or ``--register``: a new signing key for a CB, or for
the register's verification receipts (key rotation). ``--missing``: a first key for every
CB, and the register, that has none (what ``make demo`` runs; a second run does nothing)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apcert.bodies.models import CertificationBody
from apcert.core.errors import DomainError
from apcert.credentials import keyfiles, selectors, services
from apcert.credentials.models import SigningKey


class Command(BaseCommand):
    help = (
        "Generate a new Ed25519 signing key for a certification body and sign its "
        "certificates' credentials with it from now on. The previous key is retired: it "
        "signs nothing more and still verifies what it signed. The private key is written to "
        "APCERT_KEY_DIR/<CB code>/ (mode 0600); only the public key is kept in the database. "
        "With --register instead of --cb: the register's own key, which signs verification "
        "receipts (APCERT_KEY_DIR/_register/; its DID document is /.well-known/did.json)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        owner = parser.add_mutually_exclusive_group(required=True)
        owner.add_argument("--cb", metavar="CODE", help="the CB's code")
        owner.add_argument(
            "--register", action="store_true", help="the register's own key (receipts)"
        )
        owner.add_argument(
            "--missing",
            action="store_true",
            help="a first key for every CB and for the register that has none; keys already "
            "there are left as they are",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["missing"]:
            self._missing()
            return
        try:
            cb = None if options["register"] else services.cb_by_code(options["cb"])
            key = services.signing_key_generate(
                actor=None, cb=cb, actor_label="command line (keys-generate)"
            )
        except DomainError as exc:
            raise CommandError(f"keys-generate: {exc.message}") from None
        owner = cb.code if cb is not None else keyfiles.REGISTER_DIR
        path = keyfiles.key_path(owner, key.public_key_multibase)
        whom = cb.code if cb is not None else "the register (verification receipts)"
        self.stdout.write(f"keys-generate: {key.key_id} now signs for {whom}")
        self.stdout.write(f"  public key {key.public_key_multibase}")
        self.stdout.write(f"  private key file {path} (back it up; never share it)")

    def _missing(self) -> None:
        owners: list[CertificationBody | None] = list(
            CertificationBody.objects.exclude(
                pk__in=SigningKey.objects.filter(cb__isnull=False).values("cb_id")
            ).order_by("code")
        )
        if selectors.current_register_key() is None:
            owners.append(None)
        made = 0
        for cb in owners:
            try:
                key = services.signing_key_generate(
                    actor=None, cb=cb, actor_label="command line (keys-generate --missing)"
                )
            except DomainError as exc:
                raise CommandError(f"keys-generate: {exc.message}") from None
            made += 1
            self.stdout.write(f"keys-generate: {key.key_id} now signs")
        self.stdout.write(
            f"keys-generate: {made} new key(s); every CB and the register have one"
            if made
            else "keys-generate: every CB and the register already have a key; nothing to do"
        )
