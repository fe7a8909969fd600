"""Evidence files attached to corrective actions.

Uploads are received into EVIDENCE_DIR and kept in the database, in chunks, with their row;
limited in size (EVIDENCE_MAX_BYTES) and type (EVIDENCE_TYPES, each checked by its content
as well as its name), refused with a clear error past those limits; hashed with SHA-256 as
they are received (and again as they are served); and served only to those who may see them.

- :mod:`.kinds`: the accepted kinds, the name rules and the content checks;
- :mod:`.storage`: receiving into a temporary file, writing and reading the chunks;
- :mod:`.services`: :func:`evidence_attach` and :func:`evidence_remove`, the only writers;
- :mod:`.selectors`: :func:`evidence_visible` and :func:`evidence_open`.
"""

from apcert.assessments.evidence.kinds import (
    EVIDENCE_KINDS,
    EvidenceKind,
    EvidenceRefused,
    EvidenceTooLarge,
)
from apcert.assessments.evidence.selectors import (
    EvidenceDownload,
    evidence_open,
    evidence_visible,
)
from apcert.assessments.evidence.services import evidence_attach, evidence_remove
from apcert.assessments.evidence.storage import EvidenceFileDamaged, evidence_root

__all__ = [
    "EVIDENCE_KINDS",
    "EvidenceDownload",
    "EvidenceFileDamaged",
    "EvidenceKind",
    "EvidenceRefused",
    "EvidenceTooLarge",
    "evidence_attach",
    "evidence_open",
    "evidence_remove",
    "evidence_root",
    "evidence_visible",
]
