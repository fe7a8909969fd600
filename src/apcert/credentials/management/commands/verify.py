"""``apcert verify FILE... [--trust-bundle BUNDLE] [--online URL] [--jobs N]``: check a signed
certificate credential (JSON or certificate PDF) or a verification receipt, and with
``--online`` its status in its CB's status lists.

One file gets the full report. Several files, or a directory (its ``.json`` and ``.pdf``
files, at any depth), are checked in parallel by a pool of processes, one a core: one line a
file, in the order given, then a summary."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser

from apcert.core import bounded_json
from apcert.credentials import selectors
from apcert.credentials.status import UNKNOWN_CODES, fetch_json, http_lookup, status_check
from apcert.credentials.trust import TrustBundleError, TrustStore
from apcert.credentials.verification import VerificationResult, issuer_id_of, verify_credential
from apcert.documents import DocumentError, extract_credential

#: Exit codes (documented in --help and the README).
EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNKNOWN_ISSUER = 2
EXIT_USAGE = 3
EXIT_STATUS_UNKNOWN = 4

#: A batch's exit code is the first of these that one of its files has (0 when all are valid).
BATCH_PRECEDENCE = (EXIT_INVALID, EXIT_UNKNOWN_ISSUER, EXIT_USAGE, EXIT_STATUS_UNKNOWN)
#: The files a directory given to a batch contributes.
CREDENTIAL_SUFFIXES = (".json", ".pdf")
#: Files a worker takes at a time from the pool's queue.
BATCH_CHUNK = 32


#: The largest file read as a credential or certificate PDF (a certificate PDF is ~100 KB),
#: and as a trust bundle (every CB's DID document).
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_BUNDLE_BYTES = 64 * 1024 * 1024


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
        return bounded_json.loads(data)
    except bounded_json.TooDeep as exc:
        raise Unreadable(f"not a credential: {exc}") from None
    except UnicodeDecodeError:
        raise Unreadable("not a JSON credential: it is not UTF-8 text") from None
    except ValueError as exc:
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
    lines.append(f"result: {verdict(exit_code(result))}")
    return lines


def verdict(code: int) -> str:
    """The result in words of an exit code."""
    return {
        EXIT_VALID: "VALID",
        EXIT_STATUS_UNKNOWN: "SIGNATURE VALID, STATUS UNKNOWN",
        EXIT_UNKNOWN_ISSUER: "NOT VALID (UNKNOWN ISSUER)",
        EXIT_USAGE: "UNREADABLE",
    }.get(code, "NOT VALID")


def read_file(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path``, at most ``limit`` of them: :class:`Unreadable` past that."""
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise Unreadable(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise Unreadable(
            f"{path} is larger than {limit // (1024 * 1024)} MB: "
            "no credential nor certificate PDF is that large"
        )
    return data


def check(
    credential: object, trust: TrustStore, online: str | None, fetch: Callable[[str], object]
) -> VerificationResult:
    """The verification of one credential, with its status at ``online`` when given."""
    result = verify_credential(credential, trust=trust)
    if online and result.signature_valid and isinstance(credential, Mapping):
        lookup = http_lookup(online, trust=trust, issuer_id=issuer_id_of(credential), fetch=fetch)
        result.checks.append(status_check(credential, lookup))
    return result


# --- a batch -------------------------------------------------------------------------------

#: What each process of a batch checks against, set once when the process starts.
_batch: dict[str, Any] = {}


def _batch_start(trust: TrustStore, online: str | None) -> None:
    _batch.update(trust=trust, online=online, lists={})


def _fetch_once(url: str) -> object:
    """A status list fetched once a process: every credential of a CB names the same two."""
    lists: dict[str, object] = _batch["lists"]
    if url not in lists:
        lists[url] = fetch_json(url)
    return lists[url]


def check_file(path: str) -> tuple[int, str]:
    """One file of a batch: its exit code and its line (without the file's name)."""
    try:
        credential = read_credential(read_file(Path(path)))
    except Unreadable as exc:
        return EXIT_USAGE, f"UNREADABLE: {exc}"
    except Exception as exc:  # one odd file must not stop the batch
        return EXIT_USAGE, f"UNREADABLE: {type(exc).__name__}: {exc}"
    result = check(credential, _batch["trust"], _batch["online"], _fetch_once)
    code = exit_code(result)
    if code == EXIT_VALID:
        return code, verdict(code)
    failed = next(c for c in result.checks if not c.ok)
    return code, f"{verdict(code)} [{failed.code}]: {failed.detail}"


def batch_files(paths: list[Path]) -> list[Path]:
    """The files of a batch, in the order given; a directory's credential files sorted by
    path. A path that does not exist stays in the list (and is reported unreadable)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    p for p in path.rglob("*")
                    if p.suffix.lower() in CREDENTIAL_SUFFIXES and p.is_file()
                )
            )  # fmt: skip
        else:
            files.append(path)
    return files


def batch_exit_code(codes: Counter[int]) -> int:
    return next((code for code in BATCH_PRECEDENCE if codes[code]), EXIT_VALID)


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_batch(
    files: list[Path], trust: TrustStore, online: str | None, jobs: int
) -> Iterator[tuple[Path, int, str]]:
    """Each file's (path, exit code, line), in order; in ``jobs`` processes when above one."""
    names = [str(path) for path in files]
    if jobs <= 1 or len(files) <= 1:
        _batch_start(trust, online)
        for path, name in zip(files, names, strict=True):
            yield (path, *check_file(name))
        return
    # fork where there is one: the workers inherit the loaded code and read no database.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(files)),
        mp_context=context,
        initializer=_batch_start,
        initargs=(trust, online),
    ) as pool:
        for path, outcome in zip(
            files, pool.map(check_file, names, chunksize=BATCH_CHUNK), strict=True
        ):
            yield (path, *outcome)


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
        "     fetched, read or verified, or is not under URL\n"
        "\n"
        "Several files, or a directory (its .json and .pdf files, at any depth), are\n"
        "checked in parallel, one process a core (--jobs): one line a file, in the order\n"
        "given, then a summary. The exit code is then 0 if every file is valid; otherwise\n"
        "the first of 1, 2, 3, 4 that some file has (1 if any is not valid, else 2 if any\n"
        "has an unknown issuer, else 3 if any cannot be read, else 4)."
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
        parser.add_argument(
            "files",
            type=Path,
            nargs="+",
            metavar="FILE",
            help="the credential (.json or certificate PDF); several, or a directory, for a batch",
        )
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
        parser.add_argument(
            "--jobs",
            type=int,
            default=None,
            metavar="N",
            help=f"processes that check a batch (default: one a core, here {default_jobs()})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        paths: list[Path] = options["files"]
        online = options.get("online")
        jobs = options.get("jobs")
        if jobs is not None and jobs < 1:
            self.stderr.write(f"verify: --jobs wants 1 process or more, not {jobs}")
            raise SystemExit(EXIT_USAGE)
        if len(paths) == 1 and not paths[0].is_dir():
            self._one(paths[0], options["trust_bundle"], online)
        else:
            self._many(paths, options["trust_bundle"], online, jobs or default_jobs())

    def _one(self, path: Path, bundle: Path | None, online: str | None) -> None:
        try:
            credential = read_credential(read_file(path))
            trust = self._trust(bundle)
        except Unreadable as exc:
            self.stderr.write(f"verify: {exc}")
            raise SystemExit(EXIT_USAGE) from None
        self._check_online(online)
        result = check(credential, trust, online, fetch_json)
        for line in describe(result):
            self.stdout.write(line)
        code = exit_code(result)
        if code:
            raise SystemExit(code)

    def _many(self, paths: list[Path], bundle: Path | None, online: str | None, jobs: int) -> None:
        self._check_online(online)
        files = batch_files(paths)
        if not files:
            named = ", ".join(str(path) for path in paths)
            self.stderr.write(f"verify: no .json or .pdf file in {named}")
            raise SystemExit(EXIT_USAGE)
        try:
            trust = self._trust(bundle)
        except Unreadable as exc:
            self.stderr.write(f"verify: {exc}")
            raise SystemExit(EXIT_USAGE) from None
        codes: Counter[int] = Counter()
        start = time.perf_counter()
        try:
            for path, code, line in run_batch(files, trust, online, jobs):
                codes[code] += 1
                self.stdout.write(f"{path}: {line}")
        except BrokenProcessPool:
            self.stderr.write("verify: a process checking the files stopped (out of memory?)")
            raise SystemExit(EXIT_USAGE) from None
        seconds = time.perf_counter() - start
        counts = ", ".join(
            f"{codes[code]} {verdict(code).lower()}"
            for code in (EXIT_VALID, *BATCH_PRECEDENCE)
            if codes[code]
        )
        processes = min(jobs, len(files))
        self.stdout.write(
            f"verified {len(files)} files in {seconds:.1f} s "
            f"({processes} process{'es' if processes > 1 else ''}): {counts}"
        )
        code = batch_exit_code(codes)
        if code:
            raise SystemExit(code)

    def _check_online(self, online: str | None) -> None:
        if online is not None and not online.startswith(("http://", "https://")):
            self.stderr.write(
                f"verify: --online wants the register's http(s) address, not {online!r}"
            )
            raise SystemExit(EXIT_USAGE)

    def _trust(self, bundle_path: Path | None) -> TrustStore:
        if bundle_path is None:
            return selectors.trust_store()
        try:
            return TrustStore.from_bundle(
                bounded_json.loads(read_file(bundle_path, MAX_BUNDLE_BYTES))
            )
        except (UnicodeDecodeError, ValueError) as exc:  # TrustBundleError is a ValueError
            kind = "trust bundle" if isinstance(exc, TrustBundleError) else "JSON"
            raise Unreadable(f"{bundle_path} is not a usable {kind}: {exc}") from None
