"""``apcert verify FILE [--trust-bundle BUNDLE] [--online URL]``: check a signed certificate
credential (JSON or certificate PDF) or a verification receipt, and with ``--online`` its
status in its CB's status lists."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser

from apcert.credentials import selectors
from apcert.credentials.status import UNKNOWN_CODES, http_lookup, status_check
from apcert.credentials.trust import TrustBundleError, TrustStore
from apcert.credentials.verification import VerificationResult, issuer_id_of, verify_credential
from apcert.documents import DocumentError, extract_credential

#: Exit codes (documented in --help and the README).
EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNKNOWN_ISSUER = 2
EXIT_USAGE = 3
EXIT_STATUS_UNKNOWN = 4


class Unreadable(Exception):
    """The file (or trust bundle) cannot be read: exit 3."""


def read_credential(data: bytes) -> object:
    """The credential in a file's bytes: JSON, or the one a certificate PDF embeds."""
    # A PDF's header may follow some bytes (ISO 32000-1, 7.5.2); JSON starts with a bracket.
    if b"%PDF-" in data[:1024] and not data.lstrip().startswith((b"{", b"[")):
        try:
            credential = extract_credential(data)
        except DocumentError as exc:
            raise Unreadable(f"no credential could be read from the PDF: {exc.message}") from None
        if credential is None:
            raise Unreadable("this PDF carries no signed credential")
        return credential
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unreadable(f"not a JSON credential: {exc}") from None


def exit_code(result: VerificationResult) -> int:
    if result.valid:
        return EXIT_VALID
    if result.code == "issuer.unknown":
        return EXIT_UNKNOWN_ISSUER
    failed = {check.code for check in result.checks if not check.ok}
    return EXIT_STATUS_UNKNOWN if failed <= UNKNOWN_CODES else EXIT_INVALID


def describe(result: VerificationResult) -> list[str]:
    """The report, one ``name: text`` line each; a status line joins the checks' lines."""
    lines = []
    if result.issuer is not None:
        lines.append(f"issuer: {result.issuer.name} ({result.issuer.id})")
    elif result.issuer_id:
        lines.append(f"issuer: {result.issuer_id} (unknown)")
    subject = result.subject
    if isinstance(subject, Mapping) and subject.get("certificateNumber"):
        holder = subject.get("holder")
        holder = holder if isinstance(holder, Mapping) else {}
        # What a credential says is "certified" only once its signature holds.
        label = "certifies" if result.signature_valid else "claims (not verified)"
        lines.append(
            f"{label}: certificate {subject.get('certificateNumber')} issue "
            f"{subject.get('issueNumber')}, held by {holder.get('name')} ({holder.get('country')})"
        )
        lines_of_scope = subject.get("scopeLines")
        for line in lines_of_scope if isinstance(lines_of_scope, list) else []:
            if isinstance(line, Mapping):
                lines.append(f"  scope: {line.get('category')} {line.get('wording')}")
    if isinstance(subject, Mapping) and subject.get("type") == "IECQCertificateStatusOnDate":
        label = "receipt" if result.signature_valid else "receipt claims (not verified)"
        was = "was current" if subject.get("current") is True else "was not current"
        lines.append(
            f"{label}: certificate {subject.get('certificateNumber')} {was} on "
            f"{subject.get('date')} (status {subject.get('status')}; checked at "
            f"{subject.get('checkedAt')})"
        )
    for check in result.checks:
        outcome = "ok" if check.ok else f"FAILED [{check.code}]"
        lines.append(f"{check.name}: {outcome}: {check.detail}")
    verdict = {
        EXIT_VALID: "VALID",
        EXIT_STATUS_UNKNOWN: "SIGNATURE VALID, STATUS UNKNOWN",
        EXIT_UNKNOWN_ISSUER: "NOT VALID (UNKNOWN ISSUER)",
    }.get(exit_code(result), "NOT VALID")
    lines.append(f"result: {verdict}")
    return lines


class Command(BaseCommand):
    help = (
        "Verify a signed certificate credential (its JSON, or the certificate PDF that\n"
        "embeds it) or a register's verification receipt: the eddsa-jcs-2022 signature, the\n"
        "issuer and its key (a key compromised before the signature was made fails it), and\n"
        "the validity dates. With --trust-bundle it uses that file alone: no network, no\n"
        "database. Without it, the register's own database.\n"
        "With --online URL it also fetches the credential's status lists (suspension,\n"
        "revocation) from the register at URL, and from nowhere else; each list's own\n"
        "signature must be its CB's.\n"
        "\n"
        "exit codes:\n"
        "  0  valid (and, with --online, current)\n"
        "  1  not valid: changed or malformed, bad signature, key unknown or compromised,\n"
        "     expired or not yet valid; with --online also suspended or revoked\n"
        "  2  unknown issuer (not a CB of the trust bundle or register)\n"
        "  3  usage error, or the file or trust bundle cannot be read\n"
        "  4  status unknown (--online): valid signature, but a status list could not be\n"
        "     fetched, read or verified, or is not under URL"
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        usage_error = parser.error

        def error(message: str) -> NoReturn:
            # argparse exits 2 on a usage error; 2 means "unknown issuer" here.
            if not parser.called_from_command_line:
                usage_error(message)  # raises CommandError
            parser.print_usage(sys.stderr)
            sys.stderr.write(f"{parser.prog}: error: {message}\n")
            raise SystemExit(EXIT_USAGE)

        parser.error = error  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, metavar="FILE", help="the credential (.json)")
        parser.add_argument(
            "--trust-bundle",
            type=Path,
            metavar="BUNDLE",
            help="a trust bundle written by 'apcert trust-bundle' (offline verification)",
        )
        parser.add_argument(
            "--online",
            metavar="URL",
            help="the register's address (e.g. https://register.example): check the "
            "credential's status in the status lists published there",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            credential = read_credential(self._read(options["file"]))
            trust = self._trust(options["trust_bundle"])
        except Unreadable as exc:
            self.stderr.write(f"verify: {exc}")
            raise SystemExit(EXIT_USAGE) from None
        online = options.get("online")
        if online is not None and not online.startswith(("http://", "https://")):
            self.stderr.write(
                f"verify: --online wants the register's http(s) address, not {online!r}"
            )
            raise SystemExit(EXIT_USAGE)
        result = verify_credential(credential, trust=trust)
        if online and result.signature_valid and isinstance(credential, Mapping):
            lookup = http_lookup(online, trust=trust, issuer_id=issuer_id_of(credential))
            result.checks.append(status_check(credential, lookup))
        for line in describe(result):
            self.stdout.write(line)
        code = exit_code(result)
        if code:
            raise SystemExit(code)

    @staticmethod
    def _read(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise Unreadable(f"cannot read {path}: {exc.strerror}") from None

    def _trust(self, bundle_path: Path | None) -> TrustStore:
        if bundle_path is None:
            return selectors.trust_store()
        try:
            return TrustStore.from_bundle(json.loads(self._read(bundle_path).decode("utf-8")))
        except (UnicodeDecodeError, ValueError) as exc:  # TrustBundleError is a ValueError
            kind = "trust bundle" if isinstance(exc, TrustBundleError) else "JSON"
            raise Unreadable(f"{bundle_path} is not a usable {kind}: {exc}") from None
