"""``apcert trust-bundle --out FILE``: every CB's DID document, for offline verification."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apcert.credentials import selectors


class Command(BaseCommand):
    help = (
        "Write the trust bundle: a JSON file with every certification body's DID, its DID "
        "document (public keys as Multikeys, a compromised key with its 'revoked' date). "
        "'apcert verify --trust-bundle FILE' checks credentials with it and no network. "
        "Written under a temporary name and renamed when complete."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, metavar="FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        out: Path = options["out"]
        if out.is_dir() or not out.parent.is_dir():
            raise CommandError(f"trust-bundle: cannot write {out}; name a file in a directory.")
        bundle = selectors.trust_bundle()
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(bundle, fh, indent=2, ensure_ascii=False)
                fh.write("\n")
            os.chmod(tmp, 0o644)  # public keys only: anyone may read it
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        keys = sum(len(i["didDocument"]["verificationMethod"]) for i in bundle["issuers"])
        self.stdout.write(
            f"trust-bundle: {len(bundle['issuers'])} issuers, {keys} keys written to {out}"
        )
