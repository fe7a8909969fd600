"""The status of a signed credential from its Bitstring Status Lists (W3C Bitstring Status
List v1.0): the ``status`` check of a verification.

A certificate credential names two entries (``credentialStatus``): its index in the CB's
``suspension`` list and in its ``revocation`` list. Where the bits come from is the caller's
choice, given as a :data:`StatusLookup`: :func:`http_lookup` fetches each list from the
register over HTTP (``apcert verify --online URL``) and checks the list's own signature; the
register's verification page reads its own database. No database here.

The check's codes:

======================= ===============================================================
``status.revoked``      the revocation bit is set: the certificate was withdrawn or cancelled
``status.suspended``    the suspension bit is set
``status.unavailable``  a list could not be fetched or read, or its proof does not hold
``status.refused``      a list is not at the register the verifier was told to ask
======================= ===============================================================

The last two mean the status is unknown: the credential is neither shown current nor
revoked.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from apcert.core import bounded_json
from apcert.credentials.trust import TrustStore
from apcert.credentials.verification import Check, issuer_id_of, verify_credential
from apcert.statuslists import bitstring
from apcert.statuslists.selectors import status_bit

SUSPENSION = "suspension"
REVOCATION = "revocation"
#: The codes of a status that could not be told (``apcert verify`` exit 4).
UNKNOWN_CODES = frozenset({"status.unavailable", "status.refused"})
#: A status list of a few million certificates is well under this, compressed.
MAX_LIST_BYTES = 8 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 10.0
LIST_TYPE = "BitstringStatusListCredential"


class StatusUnavailable(Exception):
    """A status that cannot be told, with the reason for people and its code."""

    def __init__(self, message: str, code: str = "status.unavailable") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class StatusEntry:
    """One ``BitstringStatusListEntry`` of a credential."""

    purpose: str
    index: int
    list_url: str


#: The bit of one entry (True: set), or :class:`StatusUnavailable`.
StatusLookup = Callable[[StatusEntry], bool]


def status_entries_of(credential: Mapping[str, Any]) -> list[StatusEntry]:
    """The credential's Bitstring Status List entries (none: it names no status list)."""
    raw = credential.get("credentialStatus")
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    entries = []
    for item in items:
        if not isinstance(item, Mapping) or item.get("type") != "BitstringStatusListEntry":
            continue
        index = item.get("statusListIndex")
        url = item.get("statusListCredential")
        purpose = item.get("statusPurpose")
        if not (isinstance(index, str) and index.isdigit()) or not isinstance(url, str):
            raise StatusUnavailable("a status entry of the credential is malformed")
        if not isinstance(purpose, str):
            raise StatusUnavailable("a status entry of the credential names no purpose")
        entries.append(StatusEntry(purpose=purpose, index=int(index), list_url=url))
    return entries


def status_check(credential: Mapping[str, Any], lookup: StatusLookup) -> Check:
    """The ``status`` check of a credential whose signature holds: current, suspended or
    revoked, or unknown (with why). A credential that names no status list (a verification
    receipt) passes: it says nothing that a list could take back."""
    try:
        entries = status_entries_of(credential)
        if not entries:
            return Check("status", True, "the credential names no status list")
        bits = {entry.purpose: lookup(entry) for entry in entries}
    except StatusUnavailable as error:
        return Check("status", False, f"unknown: {error.message}", error.code)
    if bits.get(REVOCATION):
        return Check(
            "status",
            False,
            "revoked: the certification body has withdrawn or cancelled the certificate",
            "status.revoked",
        )
    if bits.get(SUSPENSION):
        return Check(
            "status", False, "suspended: the certificate is suspended now", "status.suspended"
        )
    return Check("status", True, "current: neither suspended nor revoked")


def is_under(url: str, base: str) -> bool:
    """Whether ``url`` is at or below ``base`` (same scheme and host, path prefix by whole
    segments, no ``..``)."""
    b = urlsplit(base.rstrip("/") + "/")
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or (u.scheme, u.netloc.lower()) != (
        b.scheme,
        b.netloc.lower(),
    ):
        return False
    if ".." in u.path.split("/"):
        return False
    return (u.path.rstrip("/") + "/").startswith(b.path)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect could lead off the register the verifier chose: never follow one."""

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> None:
        raise StatusUnavailable(
            f"{req.full_url} redirects to {newurl}; a status list is not followed elsewhere",
            "status.refused",
        )


def fetch_json(url: str, *, timeout: float = FETCH_TIMEOUT_SECONDS) -> object:
    """GET ``url`` as JSON, at most :data:`MAX_LIST_BYTES`; :class:`StatusUnavailable`."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked by is_under)
        url, headers={"Accept": "application/vc+ld+json, application/json"}
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            data = response.read(MAX_LIST_BYTES + 1)
    except StatusUnavailable:
        raise
    except urllib.error.HTTPError as error:
        raise StatusUnavailable(f"{url} answered HTTP {error.code}") from None
    except urllib.error.URLError as error:
        raise StatusUnavailable(f"{url} cannot be reached: {error.reason}") from None
    except (OSError, http.client.HTTPException, ValueError) as error:
        # (a timeout, a reset, a broken answer, an address urllib cannot use)
        raise StatusUnavailable(
            f"{url} cannot be reached: {error or type(error).__name__}"
        ) from None
    if len(data) > MAX_LIST_BYTES:
        raise StatusUnavailable(f"{url} sent more than {MAX_LIST_BYTES} bytes")
    try:
        return bounded_json.loads(data)
    except bounded_json.TooDeep as error:
        raise StatusUnavailable(f"{url} did not send a status list: {error}") from None
    except ValueError:
        raise StatusUnavailable(f"{url} did not send JSON") from None


def list_bit(
    document: object, entry: StatusEntry, *, trust: TrustStore, issuer_id: str | None
) -> bool:
    """The bit of ``entry`` in a fetched status list credential, once the list is shown to
    be signed by the credential's own issuer, for the entry's purpose."""
    result = verify_credential(document, trust=trust)
    if not result.signature_valid:
        raise StatusUnavailable(
            f"the status list {entry.list_url} does not verify ({result.code}): "
            + next((c.detail for c in result.checks if not c.ok), "")
        )
    assert isinstance(document, Mapping)
    if issuer_id_of(document) != issuer_id:
        raise StatusUnavailable(
            f"the status list {entry.list_url} is issued by {issuer_id_of(document)}, "
            f"not by the credential's issuer {issuer_id}"
        )
    types = document.get("type")
    subject = document.get("credentialSubject")
    if not isinstance(types, list) or LIST_TYPE not in types or not isinstance(subject, Mapping):
        raise StatusUnavailable(f"{entry.list_url} is not a {LIST_TYPE}")
    if subject.get("statusPurpose") != entry.purpose:
        raise StatusUnavailable(f"{entry.list_url} is not a {entry.purpose} list")
    try:
        return status_bit(dict(document), entry.index)
    except (bitstring.BitstringError, IndexError) as error:
        raise StatusUnavailable(
            f"the status list {entry.list_url} is unreadable: {error}"
        ) from None


def http_lookup(
    base_url: str,
    *,
    trust: TrustStore,
    issuer_id: str | None,
    fetch: Callable[[str], object] = fetch_json,
) -> StatusLookup:
    """A lookup that fetches each list from the register at ``base_url`` (and nowhere
    else), verifies its signature against ``trust`` and reads the entry's bit."""

    def lookup(entry: StatusEntry) -> bool:
        if not is_under(entry.list_url, base_url):
            raise StatusUnavailable(
                f"the status list {entry.list_url} is not under {base_url}, the register "
                "given with --online; it was not fetched",
                "status.refused",
            )
        return list_bit(fetch(entry.list_url), entry, trust=trust, issuer_id=issuer_id)

    return lookup
