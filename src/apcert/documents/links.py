"""The links a document prints: the register's verification page for one issue."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from django.conf import settings


def verification_url(number: str, issue_number: int) -> str:
    """The register's verification page for this certificate number and issue, on the public
    site (``APCERT_SITE_URL``): ``<site>/verify?number=IECQ-A%20XX%2026.0001&issue=2``.

    The QR code of a certificate PDF holds exactly this text, so it must not depend on the
    request that asked for the PDF: a copy printed from any mirror leads to the register.
    Spaces are written ``%20`` rather than ``+``, which every QR reader hands on unchanged."""
    query = urlencode({"number": number, "issue": str(issue_number)}, quote_via=quote)
    return f"{settings.SITE_URL.rstrip('/')}/verify?{query}"
