"""The status today of the certificates a back-office page shows, in the register's words.

A page's certificates are asked in one batch (:func:`certificate_statuses_on`: no query at
all while every stored status still holds), and each gets its words as ``status_today``
(:class:`~apcert.register.status_words.StatusWords`) for the template. Where the calendar has
changed a status that the daily sweep has not yet recorded, the words say so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from apcert.certificates.models import Certificate
from apcert.certificates.selectors import certificate_statuses_on
from apcert.register.status_words import status_words


def with_status_today(
    certificates: Iterable[Certificate], day: dt.date | None = None
) -> list[Certificate]:
    """``certificates``, each with ``status_today`` set (the list is returned for a template)."""
    certificates = list(certificates)
    statuses = certificate_statuses_on(certificates, day)
    for cert in certificates:
        cert.status_today = status_words(statuses[cert.pk])  # type: ignore[attr-defined]
    return certificates
