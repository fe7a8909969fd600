"""The kinds of evidence file apcert accepts, and how each is told from its name and content.

A file's kind is what its name ends with; the content must then be that kind, judged from the
bytes, not from anything the client says (the ``Content-Type`` of an upload is the client's
word and is ignored). A ``.pdf`` that is really an executable, or a PNG named ``.pdf``, is
refused: the name is what people open the download by, so it must not lie.

- PDF, PNG and JPEG by their leading magic bytes, recognised by the ``filetype`` library
  (pure Python, no libmagic), which also names what a refused file looks like.
- DOCX and XLSX are ZIP packages: the magic bytes must say ZIP (or the Office type), then the
  package's table of contents (read with the standard library, nothing is unpacked) must hold
  the part that makes it a Word document or a workbook, and no macro project. A package
  expands when it is opened: one with more than :data:`ARCHIVE_MAX_MEMBERS` parts, or whose
  parts expand (as declared in its table of contents, or as they actually inflate, counted
  without keeping them) past :func:`archive_max_bytes`, is refused (a "zip bomb" would fill
  the memory or the disk of whoever opens it).
- Plain text and CSV have no magic bytes: the whole content must be UTF-8 (a byte order mark
  is allowed, as spreadsheet programs write one) without NUL or other control characters
  than tab, line feed, carriage return and form feed.
"""

from __future__ import annotations

import codecs
import re
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import filetype
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apcert.assessments.errors import (
    EVIDENCE_ARCHIVE_TOO_LARGE,
    EVIDENCE_BAD_NAME,
    EVIDENCE_TYPE_REFUSED,
)
from apcert.core.errors import ValidationFailed

#: How many leading bytes the magic-byte check looks at (as much as ``filetype`` reads).
HEAD_BYTES = 8192
#: The longest file name kept (in characters, after Unicode normalisation).
NAME_MAX_CHARS = 200
#: The most parts an Office package may hold (a document has tens, a large workbook hundreds).
ARCHIVE_MAX_MEMBERS = 10_000
#: The most an Office package may expand to, whatever the upload limit.
ARCHIVE_MAX_EXPANDED_BYTES = 100 * 1024 * 1024
#: How many times the upload limit an Office package may expand to, below that.
ARCHIVE_MAX_RATIO = 20
#: The compressed bytes read at a time while counting what a part inflates to.
_INFLATE_CHUNK = 64 * 1024
#: A ZIP local file header: its signature, and the offsets of its name and extra lengths.
_LOCAL_HEADER = b"PK\x03\x04"
_LOCAL_HEADER_SIZE = 30


def archive_max_bytes() -> int:
    """The most an Office package may expand to: 20 times the upload limit, at most 100 MiB."""
    return min(ARCHIVE_MAX_RATIO * int(settings.EVIDENCE_MAX_BYTES), ARCHIVE_MAX_EXPANDED_BYTES)


class EvidenceRefused(ValidationFailed):
    """An upload refused for its name, type, size or emptiness."""

    code = "evidence.refused"


class EvidenceTooLarge(EvidenceRefused):
    """An upload larger than EVIDENCE_MAX_BYTES."""

    code = "evidence.too_large"
    http_status = 413


@dataclass(frozen=True)
class EvidenceKind:
    """One kind of file accepted as evidence."""

    code: str
    label: str
    extensions: tuple[str, ...]
    content_type: str
    check: Literal["magic", "text", "ooxml"]
    #: MIME types ``filetype`` may report for this kind's leading bytes.
    magic: tuple[str, ...] = ()
    #: The part an Office Open XML package of this kind must hold.
    ooxml_part: str = ""

    def describe(self) -> str:
        return f"{self.label} ({', '.join(self.extensions)})"


_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Every kind apcert knows how to check; settings.EVIDENCE_TYPES picks those accepted.
EVIDENCE_KINDS: dict[str, EvidenceKind] = {
    kind.code: kind
    for kind in (
        EvidenceKind("pdf", "PDF", (".pdf",), "application/pdf", "magic", ("application/pdf",)),
        EvidenceKind("png", "PNG image", (".png",), "image/png", "magic", ("image/png",)),
        EvidenceKind(
            "jpeg", "JPEG image", (".jpg", ".jpeg"), "image/jpeg", "magic", ("image/jpeg",)
        ),
        EvidenceKind("txt", "plain text in UTF-8", (".txt",), "text/plain", "text"),
        EvidenceKind("csv", "CSV in UTF-8", (".csv",), "text/csv", "text"),
        EvidenceKind(
            "docx",
            "Word document",
            (".docx",),
            _DOCX,
            "ooxml",
            (_DOCX, "application/zip"),
            "word/document.xml",
        ),
        EvidenceKind(
            "xlsx",
            "Excel workbook",
            (".xlsx",),
            _XLSX,
            "ooxml",
            (_XLSX, "application/zip"),
            "xl/workbook.xml",
        ),
    )
}


def allowed_kinds() -> list[EvidenceKind]:
    """The kinds settings.EVIDENCE_TYPES accepts, in the order it lists them."""
    codes = list(settings.EVIDENCE_TYPES)
    unknown = [c for c in codes if c not in EVIDENCE_KINDS]
    if unknown or not codes:
        raise ImproperlyConfigured(
            f"EVIDENCE_TYPES must list some of {', '.join(EVIDENCE_KINDS)}; "
            f"{', '.join(unknown) or 'it lists none'} is not one of them."
        )
    return [EVIDENCE_KINDS[c] for c in codes]


def accepted_text(kinds: list[EvidenceKind]) -> str:
    return "Accepted: " + "; ".join(k.describe() for k in kinds) + "."


def type_refused(message: str, kinds: list[EvidenceKind], **params: object) -> EvidenceRefused:
    return EvidenceRefused(
        f"{message} {accepted_text(kinds)}",
        code=EVIDENCE_TYPE_REFUSED,
        field="file",
        params={"accepted": [e for k in kinds for e in k.extensions], **params},
    )


def _bad_name(message: str) -> EvidenceRefused:
    return EvidenceRefused(message, code=EVIDENCE_BAD_NAME, field="file")


# Characters no file name of ours may hold: control and format characters (NUL, line breaks,
# terminal escapes, and the bidirectional overrides that make "invoice<RLO>fdp.exe" display as
# "invoiceexe.pdf"), and the line and paragraph separators.
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
# Path separators and the drive/stream colon: a name with one of these is a path, not a name.
_PATH_CHARACTERS = set("/\\:")


def clean_name(raw: object) -> str:
    """The name to keep for display and download, or ``evidence.bad_name``.

    The name is never used to store the file; it is refused rather than repaired when it is
    a path (``../../etc/passwd``, ``C:\\x.pdf``, ``/etc/passwd``), is empty, holds control
    characters, starts with a dot, or is longer than NAME_MAX_CHARS characters."""
    if not isinstance(raw, str) or not raw.strip():
        raise _bad_name("The file has no name; give it one that says what it shows.")
    if any(unicodedata.category(ch) in _UNSAFE_CATEGORIES for ch in raw):
        raise _bad_name("The file name holds control characters; rename the file and try again.")
    if any(ch in _PATH_CHARACTERS for ch in raw):
        raise _bad_name(
            "The file name holds a path (/, \\ or :); upload the file under its plain name."
        )
    name = unicodedata.normalize("NFC", raw).strip()
    if name.startswith("."):
        raise _bad_name("The file name cannot start with a dot.")
    if len(name) > NAME_MAX_CHARS:
        raise _bad_name(
            f"The file name is {len(name)} characters long; at most {NAME_MAX_CHARS} are kept."
        )
    return name


def kind_for_name(name: str, kinds: list[EvidenceKind]) -> EvidenceKind:
    """The accepted kind a (clean) name ends with, or ``evidence.type_refused``."""
    _, dot, ext = name.rpartition(".")
    suffix = f".{ext.lower()}" if dot else ""
    for kind in kinds:
        if suffix in kind.extensions:
            return kind
    what = f"Files ending {suffix} are not accepted." if suffix else "The file name has no type."
    raise type_refused(what, kinds, extension=suffix)


# Control characters a text file may not hold: all C0 controls but tab, LF, FF and CR, and DEL.
_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class ContentCheck:
    """Checks, while the bytes stream past and once they are all stored, that the content
    is of ``kind``. Raises ``evidence.type_refused`` on the first sign that it is not."""

    def __init__(self, kind: EvidenceKind, kinds: list[EvidenceKind]) -> None:
        self.kind = kind
        self.kinds = kinds
        self.head = bytearray()
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")

    def _refuse(self, detail: str) -> EvidenceRefused:
        return type_refused(
            f"The file is named as {self.kind.label} but {detail}", self.kinds, kind=self.kind.code
        )

    def _text(self, chunk: bytes, *, final: bool = False) -> None:
        try:
            text = self._decoder.decode(chunk, final=final)
        except UnicodeDecodeError:
            raise self._refuse("its content is not UTF-8 text.") from None
        if _TEXT_CONTROLS.search(text):
            raise self._refuse("its content holds control characters, as binary files do.")

    def feed(self, chunk: bytes) -> None:
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        if self.kind.check == "text":
            self._text(chunk)

    def finish(self, stored: Path) -> None:
        """The last checks, on the whole content as stored at ``stored``."""
        if self.kind.check == "text":
            self._text(b"", final=True)
            return
        guess = filetype.guess(bytes(self.head))
        if guess is None or guess.mime not in self.kind.magic:
            seen = f"its content is {guess.mime}" if guess else "its content is not recognised"
            raise self._refuse(f"{seen}.")
        if self.kind.check == "ooxml":
            self._ooxml(stored)

    def _ooxml(self, stored: Path) -> None:
        # The ZIP's table of contents is read, and each part inflated only to count its
        # bytes: nothing is unpacked nor kept.
        try:
            with zipfile.ZipFile(stored) as package:
                infos = package.infolist()
            self._expansion(stored, infos)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, struct.error):
            raise self._refuse("its content is not a readable Office package.") from None
        parts = {info.filename for info in infos}
        if "[Content_Types].xml" not in parts or self.kind.ooxml_part not in parts:
            raise self._refuse(f"its content is not a {self.kind.label}.")
        if any(p.lower().endswith("vbaproject.bin") for p in parts):
            raise self._refuse("it holds macros; save it without them.")

    def _too_large(self, detail: str) -> EvidenceRefused:
        return EvidenceRefused(
            f"The file is an archive that {detail}, more than any {self.kind.label} holds; "
            "it may be built to fill the memory or the disk of whoever opens it. "
            "Save the document again, or split it.",
            code=EVIDENCE_ARCHIVE_TOO_LARGE,
            field="file",
            params={"kind": self.kind.code},
        )

    def _expansion(self, stored: Path, infos: list[zipfile.ZipInfo]) -> None:
        """Refuse a package with too many parts, or whose parts expand past the limit, as
        its table of contents declares or as their data actually inflates."""
        limit = archive_max_bytes()
        size = f"{limit / (1024 * 1024):g} MB"
        if len(infos) > ARCHIVE_MAX_MEMBERS:
            raise self._too_large(f"holds {len(infos):,} parts (at most {ARCHIVE_MAX_MEMBERS:,})")
        if sum(info.file_size for info in infos) > limit:
            raise self._too_large(f"expands to more than {size}")
        expanded = 0
        with stored.open("rb") as file:
            for info in infos:
                expanded += _inflated_size(file, info, limit - expanded + 1)
                if expanded > limit:
                    raise self._too_large(f"expands to more than {size}")


def _inflated_size(file: BinaryIO, info: zipfile.ZipInfo, budget: int) -> int:
    """What one part's data inflates to, counted up to ``budget`` bytes (then stops): the
    stored bytes the table of contents points to, not the size it declares. ValueError for
    a part that is not where it is said to be, or not stored nor deflated (what Office
    packages use)."""
    file.seek(info.header_offset)
    header = file.read(_LOCAL_HEADER_SIZE)
    if len(header) < _LOCAL_HEADER_SIZE or header[:4] != _LOCAL_HEADER:
        raise ValueError("no local header")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    file.seek(info.header_offset + _LOCAL_HEADER_SIZE + name_length + extra_length)
    if info.compress_type == zipfile.ZIP_STORED:
        return info.compress_size
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise ValueError("neither stored nor deflated")
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    left, total = info.compress_size, 0
    while left > 0 and total < budget and not inflater.eof:
        chunk = file.read(min(_INFLATE_CHUNK, left))
        if not chunk:
            break
        left -= len(chunk)
        # At most what the budget still allows comes out at once; the rest waits as input.
        while chunk and total < budget:
            total += len(inflater.decompress(chunk, budget - total))
            chunk = inflater.unconsumed_tail
    return total
