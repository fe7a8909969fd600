"""What the register's page of a certificate says about it, as plain data.

The back office shows it to a decision maker before a decision is confirmed, read once before
and once after the decision (inside the transaction that makes it, or that previews it and
is rolled back), so that "what the public will see" is read by the register's own selectors
and words, not by a second copy of them. Only what the public page shows is here: the status
in words with its date and reason category (never the free-text reason), the holder's name
and country, the published sites, the scope lines (the site named only when it is
published), the declared standards and the latest issue with its public "what changed".
"""

from __future__ import annotations

from typing import Any

from apcert.certificates.selectors import certificate_status_on
from apcert.register import selectors
from apcert.register.status_words import status_words
from apcert.register.templatetags.register_tags import (
    issue_reason_label,
    status_meaning,
    status_word,
)


def certificate_public_view(number: str) -> dict[str, Any]:
    """The register's page of certificate ``number`` today, as plain data (dates as dates);
    ``{"public": False}`` when the register does not show it (a draft)."""
    certificate = selectors.public_certificate(number)
    if certificate is None:
        return {"public": False}
    issues = selectors.issues_of(certificate)
    issue = issues[-1]
    changes = selectors.status_changes_of(certificate)
    today = certificate_status_on(certificate)
    words = status_words(today, recorded_reason=changes[-1].reason_category if changes else None)
    sites = selectors.public_sites(issue)
    site_names = {int(site["id"]): site["name"] for site in sites}
    return {
        "public": True,
        "status": words.state,
        "status_word": status_word(words.state),
        "meaning": status_meaning(words.state),
        "headline": words.headline,
        "since": words.since,
        "reason": words.reason,
        "expires_on": certificate.expires_on,
        "holder": dict(selectors.holder_of(issue)),
        "issue": {
            "number": issue.issue_number,
            "issued_on": issue.issued_on,
            "reason": issue_reason_label(issue.reason),
            "summary": selectors.public_change_summaries(certificate)[issue.issue_number],
        },
        "sites": sites,
        "unpublished_sites": len(issue.sites) - len(sites),
        "scope_lines": [
            {
                "category": line["category"],
                "category_name": line["category_name"],
                "wording": line["wording"],
                "site_name": site_names.get(line["site_id"], "") if line["site_id"] else "",
                "standards": line["standards"],
            }
            for line in selectors.public_scope_lines(issue)
        ],
    }
