"""``apcert verify FILE [--trust-bundle BUNDLE]``: check a signed certificate credential."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser

from apcert.credentials import selectors
from apcert.credentials.trust import TrustBundleError, TrustStore
from apcert.credentials.verification import VerificationResult, verify_credential

#: Exit codes (documented in --help and the README).
EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNKNOWN_ISSUER = 2
EXIT_USAGE = 3

#: The module that reads the credential embedded in a certificate PDF, when installed.
PDF_EXTRACTOR = "apcert.documents.pdf"


class Unreadable(Exception):
    """The file (or trust bundle) cannot be read: exit 3."""


def read_credential(data: bytes) -> object:
    """The credential in a file's bytes: JSON, or a PDF through the PDF extractor."""
    if data.startswith(b"%PDF"):
        try:
            module = importlib.import_module(PDF_EXTRACTOR)
        except ImportError:
            raise Unreadable(
                "this is a PDF, and PDF support is not available in this installation; "
                "give the credential's JSON file"
            ) from None
        extract = getattr(module, "extract_credential", None)
        if extract is None:
            raise Unreadable("PDF support is not available (no extract_credential)")
        try:
            return extract(data)
        except Exception as exc:  # the extractor's own errors: the PDF holds no credential
            raise Unreadable(f"no credential could be read from the PDF: {exc}") from None
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unreadable(f"not a JSON credential: {exc}") from None


def exit_code(result: VerificationResult) -> int:
    if result.valid:
        return EXIT_VALID
    return EXIT_UNKNOWN_ISSUER if result.code == "issuer.unknown" else EXIT_INVALID


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
    for check in result.checks:
        outcome = "ok" if check.ok else f"FAILED [{check.code}]"
        lines.append(f"{check.name}: {outcome}: {check.detail}")
    lines.append(f"result: {'VALID' if result.valid else 'NOT VALID'}")
    return lines


class Command(BaseCommand):
    help = (
        "Verify a signed certificate credential (JSON, or a certificate PDF where PDF\n"
        "support is installed): the eddsa-jcs-2022 signature, the issuing CB and its key\n"
        "(a key compromised before the signature was made fails it), and the validity dates.\n"
        "With --trust-bundle it uses that file alone: no network, no database. Without it,\n"
        "the register's own database.\n"
        "\n"
        "exit codes:\n"
        "  0  valid\n"
        "  1  not valid: changed or malformed, bad signature, key unknown or compromised,\n"
        "     expired or not yet valid\n"
        "  2  unknown issuer (not a CB of the trust bundle or register)\n"
        "  3  usage error, or the file or trust bundle cannot be read"
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

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            credential = read_credential(self._read(options["file"]))
            trust = self._trust(options["trust_bundle"])
        except Unreadable as exc:
            self.stderr.write(f"verify: {exc}")
            raise SystemExit(EXIT_USAGE) from None
        result = verify_credential(credential, trust=trust)
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
