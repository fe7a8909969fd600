"""Export columns that the lists of several sections share."""

from __future__ import annotations

from collections.abc import Sequence

from apcert.web.lists import Column


def certificate_columns(*, with_cb: bool = True) -> Sequence[Column]:
    """The columns of a certificate export. The status is the status today: the rows are
    prepared with :func:`apcert.web.status_today.with_status_today`."""
    return (
        Column("Number", lambda c: c.number),
        Column("Holder", lambda c: c.organization.legal_name),
        Column("Holder's country", lambda c: c.organization.country),
        *([Column("Certification body", lambda c: c.cb.code)] if with_cb else []),
        Column("Scheme", lambda c: c.scheme.code),
        Column("Status", lambda c: c.status_today.state),
        Column("Status since", lambda c: c.status_today.since),
        Column("Issue", lambda c: c.current_issue_number),
        Column("First issued", lambda c: c.first_issued_on),
        Column("Expires", lambda c: c.expires_on),
    )
