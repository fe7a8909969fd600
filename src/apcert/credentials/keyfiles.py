"""The private halves of the CBs' signing keys: one PEM file a key under ``settings.KEY_DIR``.

``<KEY_DIR>/<CB code>/<publicKeyMultibase>.pem``, PKCS #8, unencrypted, mode 0600, in
directories of mode 0700. Written under a temporary name and linked into place, so a file is
whole or absent, and an existing key is never overwritten. Never in the database.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from apcert.core.errors import ValidationFailed
from apcert.credentials import multikey
from apcert.credentials.errors import KEY_FILE_MISSING, KEY_FILE_UNREADABLE

if TYPE_CHECKING:
    from apcert.credentials.models import SigningKey

_SAFE = re.compile(r"[A-Za-z0-9_-]+")


#: The directory (under the key directory) of the register's own keys, which sign the
#: verification receipts; no CB code starts with "_", so it names no CB.
REGISTER_DIR = "_register"


def key_dir() -> Path:
    return Path(settings.KEY_DIR)


def owner_dir(key: SigningKey) -> str:
    """The directory name of a key's file: its CB's code, or :data:`REGISTER_DIR`."""
    return REGISTER_DIR if key.cb is None else key.cb.code


def key_path(cb_code: str, public_key_multibase: str) -> Path:
    if not _SAFE.fullmatch(cb_code) or not _SAFE.fullmatch(public_key_multibase):
        raise ValueError("a key file is named by a CB code and a base58 public key")
    return key_dir() / cb_code / f"{public_key_multibase}.pem"


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def write_private_key(cb_code: str, public_key_multibase: str, key: Ed25519PrivateKey) -> Path:
    """Write the private key beside no other copy; refuse to replace an existing file."""
    path = key_path(cb_code, public_key_multibase)
    _private_dir(key_dir())
    _private_dir(path.parent)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # mkstemp creates the file with mode 0600 before a byte is written.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)  # fails if the file exists: a key is never overwritten
    finally:
        os.unlink(tmp)
    return path


def remove_private_key(cb_code: str, public_key_multibase: str) -> None:
    """Remove a key file whose database row was not written (the transaction failed)."""
    with contextlib.suppress(FileNotFoundError):
        key_path(cb_code, public_key_multibase).unlink()


def read_private_key(cb_code: str, public_key_multibase: str) -> Ed25519PrivateKey:
    """The private key of a CB's signing key; a clear :class:`ValidationFailed` if missing,
    unreadable or not the key the database names."""
    path = key_path(cb_code, public_key_multibase)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValidationFailed(
            f"The private key file {path} of CB {cb_code} is missing. Restore it from the "
            "backup of the key directory, or generate a new key (apcert keys-generate).",
            code=KEY_FILE_MISSING,
            params={"path": str(path)},
        ) from None
    except OSError as exc:
        raise ValidationFailed(
            f"The private key file {path} cannot be read: {exc.strerror}.",
            code=KEY_FILE_UNREADABLE,
            params={"path": str(path)},
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValidationFailed(
            f"The file {path} does not hold an Ed25519 private key.",
            code=KEY_FILE_UNREADABLE,
            params={"path": str(path)},
        )
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if multikey.public_key_multibase(raw) != public_key_multibase:
        raise ValidationFailed(
            f"The file {path} holds another key than the one it is named for.",
            code=KEY_FILE_UNREADABLE,
            params={"path": str(path)},
        )
    return key
