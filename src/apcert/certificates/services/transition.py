"""The one road for a certificate's status: every change of it goes through
:func:`certificate_transition`.

It looks the action up in ``lifecycle.CERTIFICATE``, writes the status, the public status
history row when the status changes, keeps what is derived from the certificate in step
(``certificates.derived``) and writes the change's one audit event, all in the caller's
transaction. Decisions, issues and the other records of a change are the caller's; so are
the rules that the table alone does not say (dates, assessments, the decision maker).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.db import connection

from apcert.audit.services import audit_record
from apcert.certificates.derived import certificate_changed
from apcert.certificates.lifecycle import CERTIFICATE
from apcert.certificates.models import Certificate, CertificateStatusChange, Decision
from apcert.certificates.tallies import tally_status_change

if TYPE_CHECKING:
    from apcert.accounts.models import User


def certificate_lock(certificate: Certificate) -> Certificate:
    """The certificate's row, locked for the caller's transaction (read its status after)."""
    return (
        Certificate.objects.select_for_update(of=("self",))
        .select_related("cb", "scheme", "organization")
        .get(pk=certificate.pk)
    )


def certificate_state(cert: Certificate) -> dict[str, Any]:
    """What an audit event records of the certificate before and after a change."""
    return {
        "number": cert.number,
        "status": cert.status,
        "issue": cert.current_issue_number,
        "expires_on": cert.expires_on,
    }


def certificate_transition_check(certificate: Certificate, action: str) -> str:
    """The status ``action`` leads to from the certificate's status, or the table's
    ``certificate.transition_not_allowed`` refusal: for services that refuse early, before
    their other rules, and apply the change later with :func:`certificate_transition`."""
    return CERTIFICATE.next_state(certificate.status, action)


def certificate_transition(
    *,
    actor: User | None,
    certificate: Certificate,
    action: str,
    effective_on: dt.date | None = None,
    reason_category: str = "",
    reason: str = "",
    decision: Decision | None = None,
    update_fields: Sequence[str] = (),
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None = None,
    audit_action: str | None = None,
    audit_reason: str | None = None,
    audit: bool = True,
) -> Certificate:
    """Apply ``action`` of ``lifecycle.CERTIFICATE`` to ``certificate``, the row the caller
    has locked (:func:`certificate_lock`) inside its transaction.

    When the status changes it holds from ``effective_on`` and a history row records it with
    ``reason_category``, ``reason`` and ``decision`` (``decision`` None: a rule of the scheme
    or time made the change, not a person). ``update_fields`` are the other fields of the row
    the caller changed for the same change (a new issue number, a new expiry). The audit event
    is ``certificate.<action>`` unless ``audit_action`` names it; it records ``before`` (None
    for a certificate made by this change) and the certificate's state after, with ``after``'s
    extra facts. ``audit=False`` is for the first half of a change whose second transition
    writes the one event for both (a transfer withdraws the old certificate and grants the
    new one).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("certificate_transition() runs inside the service's transaction")
    cert = certificate
    from_status = cert.status
    cert.status = CERTIFICATE.next_state(from_status, action)
    changed = cert.status != from_status
    fields = ["status", *update_fields]
    if changed:
        if effective_on is None:
            raise ValueError("a status change needs the date it holds from")
        cert.status_since = effective_on
        fields.append("status_since")
    cert.save(update_fields=list(dict.fromkeys(fields)))
    if changed and effective_on is not None:
        CertificateStatusChange.objects.create(
            certificate=cert,
            from_status=from_status,
            to_status=cert.status,
            effective_on=effective_on,
            reason_category=reason_category,
            reason=reason,
            decision=decision,
        )
        tally_status_change(
            cb_id=cert.cb_id,
            effective_on=effective_on,
            from_status=from_status,
            to_status=cert.status,
        )
    certificate_changed(cert)
    if audit:
        audit_record(
            actor=actor,
            action=audit_action or f"certificate.{action}",
            obj=cert,
            before=dict(before) if before is not None else None,
            after={**certificate_state(cert), **(after or {})},
            reason=reason if audit_reason is None else audit_reason,
        )
    return cert
