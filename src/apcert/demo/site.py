"""Whether a kept demo data set belongs to the address the demo is served at.

The CBs' keys, their DIDs and every signed credential name the register's address
(``APCERT_SITE_URL``) once, when they are made, and a signed credential is never changed.
A demo data set made for one address and served at another would hand out QR codes and
credentials that point elsewhere, and DID documents whose keys name another DID: the demo
refuses, and says what to do, instead.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import connection

from apcert.credentials import identifiers
from apcert.credentials.models import SigningKey

#: How a CB's DID goes on from the register's (``did:web:<host>:cbs:<code>``).
_CB_PART = ":cbs:"


def _site_did(key: SigningKey) -> str:
    """The register's DID (``did:web:<host>``) under which ``key`` was made."""
    did = key.key_id.partition("#")[0]
    return did if key.cb_id is None else did.rpartition(_CB_PART)[0]


def _address(did: str) -> str:
    """``host[:port][/path]`` from a ``did:web`` DID (the scheme is not in it)."""
    segments = [unquote(s) for s in did.removeprefix("did:web:").split(":")]
    return "/".join(segments)


def _fresh_start() -> str:
    """What to delete to start again: the database and the private keys."""
    database = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        name = str(database["NAME"])
        where = f"delete the database ({name}, with its -wal and -shm files)"
    else:
        where = f"drop and create again the database {database['NAME']!r}"
    # Evidence files are in the database: they go with it.
    return f"{where} and the private keys ({settings.KEY_DIR})"


def demo_site_conflict() -> str | None:
    """None when every stored key names the current ``APCERT_SITE_URL``; otherwise what is
    wrong and what to do about it."""
    expected = identifiers.register_did()
    for key in SigningKey.objects.order_by("pk"):
        stored = _site_did(key)
        if stored == expected:
            continue
        address = _address(stored)
        parts = urlsplit(f"//{address}")
        again = (
            f" (make demo HOST={parts.hostname} PORT={parts.port})"
            if parts.hostname and parts.port and not parts.path
            else ""
        )
        return (
            f"this data set was signed for {address}: its signing keys and signed "
            f"certificates name {stored}, but APCERT_SITE_URL is now "
            f"{identifiers.site_url()} ({expected}). Signed certificates are never changed, "
            f"so a data set keeps the address it was made for. Either serve it there again"
            f"{again}, or, to make a new data set for the new address, {_fresh_start()}, "
            "and run the demo again."
        )
    return None
