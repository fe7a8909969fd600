"""``apcert keys-list``: every CB's signing keys and their state."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apcert.credentials import keyfiles, selectors


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


class Command(BaseCommand):
    help = (
        "List every signing key: CB, key id, state (signing, retired, compromised), dates, "
        "and whether its private key file is present in APCERT_KEY_DIR."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        keys = list(selectors.signing_keys())
        if not keys:
            self.stdout.write("keys-list: no signing keys yet (apcert keys-generate --cb CODE)")
            return
        for key in keys:
            if key.compromised_from is not None:
                state = f"compromised since {_when(key.compromised_from)}"
            elif key.retired_at is not None:
                state = f"retired {_when(key.retired_at)}"
            else:
                state = "signing"
            present = keyfiles.key_path(keyfiles.owner_dir(key), key.public_key_multibase).is_file()
            owner = key.cb.code if key.cb is not None else "register"
            self.stdout.write(
                f"{owner}\t{key.key_id}\t{state}\tactive from {_when(key.active_from)}"
                f"\tprivate key file {'present' if present else 'MISSING'}"
            )
