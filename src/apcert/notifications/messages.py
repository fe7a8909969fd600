"""The plain-text e-mails: subject lines and bodies a person can read and act on."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.conf import settings

from apcert.certificates.choices import CertificateStatus, StatusReason
from apcert.certificates.models import Certificate, CertificateStatusChange
from apcert.core.dates import format_date as _words

if TYPE_CHECKING:
    from apcert.assessments.models import Finding
    from apcert.bodies.models import CertificationBody
    from apcert.cycle.programme import PlannedVisit
    from apcert.organizations.models import Organization

FOOTER = (
    "\n-- \nThis message was sent by apcert for the IECQ Approved Process scheme "
    "(IECQ 03-2).\nYou receive it as a person named for the holder or as the certification "
    "body's scheme manager or administrator."
)


MESSAGE_FOOTER = (
    "\n-- \nThis message was sent by apcert for the IECQ Approved Process scheme "
    "(IECQ 03-2).\nYou receive it because this step of the certification concerns you or "
    "waits for you; it is also among your messages in apcert ({site}). To choose which "
    "e-mails you get (applications; assessments and findings; decisions and certificate "
    "status; reminders), change your notification preferences in your apcert account."
)


def message_mail(subject: str, body: str) -> tuple[str, str]:
    """The e-mail of an in-app message: its text and a footer saying where to read it and
    how to turn such e-mails off."""
    return subject, body + "\n" + MESSAGE_FOOTER.format(site=settings.SITE_URL)


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def _header(*, number: str | None, organization: Organization, cb: CertificationBody) -> list[str]:
    lines = [f"Certificate: {number}"] if number else []
    lines += [
        f"Holder: {organization.legal_name} ({organization.country})",
        f"Certification body: {cb.name} ({cb.code})",
        "",
    ]
    return lines


def _label(status: str) -> str:
    return str(CertificateStatus(status).label)


_STATUS_ADVICE = {
    CertificateStatus.CURRENT: (
        "What to do: nothing. The certificate is current and shown as such in the public "
        "IECQ register; keep the surveillance visits agreed with the certification body."
    ),
    CertificateStatus.SUSPENDED: (
        "What to do: while suspended, the certificate must not be used to claim conformity. "
        "The holder resolves the cause with the certification body, which restores the "
        "certificate by a decision. If the cause is not resolved within the scheme's "
        "maximum suspension period, the certificate is withdrawn or its scope reduced."
    ),
    CertificateStatus.WITHDRAWN: (
        "What to do: the certificate and the IECQ mark may no longer be used or referred "
        "to. To be certified again the holder applies anew."
    ),
    CertificateStatus.CANCELLED: (
        "What to do: the certificate and the IECQ mark may no longer be used or referred "
        "to. To be certified again the holder applies anew."
    ),
    CertificateStatus.EXPIRED: (
        "What to do: the certificate and the IECQ mark may no longer be used or referred "
        "to. To be certified again the holder applies anew."
    ),
}


def status_change_message(
    change: CertificateStatusChange, *, footer: bool = True
) -> tuple[str, str]:
    """The notice of a status change; without the footer, the in-app message's text."""
    cert = change.certificate
    target = _label(change.to_status)
    if change.from_status == CertificateStatus.DRAFT:
        what = f"The certificate was granted and became {target} on {_words(change.effective_on)}."
    else:
        what = (
            f"The certificate's status changed from {_label(change.from_status)} to "
            f"{target} on {_words(change.effective_on)}."
        )
    reason = StatusReason(change.reason_category).label
    lines = [
        *_header(number=cert.number, organization=cert.organization, cb=cert.cb),
        what,
        f"Reason: {reason}.",
        f"Valid until: {_words(cert.expires_on)}.",
        "",
        _STATUS_ADVICE[CertificateStatus(change.to_status)],
    ]
    if footer:
        lines.append(FOOTER)
    return f"{cert.number}: certificate {target}", "\n".join(lines)


def expiry_message(cert: Certificate, *, as_of: dt.date) -> tuple[str, str]:
    left = (cert.expires_on - as_of).days
    lines = [
        *_header(number=cert.number, organization=cert.organization, cb=cert.cb),
        f"The certificate expires on {_words(cert.expires_on)}, in {_days(left)}.",
        "",
        "What to do: to keep the same certificate number, the re-assessment must be carried "
        "out and the renewal decided before that date. Agree the re-assessment dates with "
        "the certification body now. After expiry the holder has to apply anew.",
        FOOTER,
    ]
    return f"{cert.number}: certificate expires on {_words(cert.expires_on)}", "\n".join(lines)


def finding_late_message(finding: Finding, *, as_of: dt.date) -> tuple[str, str]:
    a = finding.assessment
    cert = a.certificate
    organization = cert.organization if cert else a.application.organization  # type: ignore[union-attr]
    late = (as_of - finding.due_date).days
    grade = finding.get_grade_display()
    lines = [
        *_header(number=cert.number if cert else None, organization=organization, cb=a.cb),
        f"A {grade} is past its due date.",
        f"Found during: {a.get_kind_display()}, {_words(a.start_date)} to {_words(a.end_date)}",
        f"Requirement: {finding.requirement_ref}",
        f"Finding: {finding.description}",
        f"Raised on: {_words(finding.raised_on)}",
        f"Corrective action due: {_words(finding.due_date)} ({_days(late)} late)",
        f"Status: {finding.get_status_display()}",
        "",
        "What to do: the holder submits (or completes) the corrective action with its "
        "correction, root cause, action and evidence; the certification body's assessor "
        "reviews it. A corrective action left late can lead to suspension of the certificate.",
        FOOTER,
    ]
    subject_of = cert.number if cert else organization.legal_name
    return f"{subject_of}: {grade} past its due date {_words(finding.due_date)}", "\n".join(lines)


def visit_due_message(cert: Certificate, visit: PlannedVisit, *, as_of: dt.date) -> tuple[str, str]:
    left = (visit.due_date - as_of).days
    if visit.kind == "reassessment":
        name = "The re-assessment (renewal)"
        consequence = (
            "Without it the certificate cannot be renewed and expires on "
            f"{_words(cert.expires_on)}."
        )
    else:
        name = f"Surveillance visit {visit.sequence}"
        consequence = "A surveillance not carried out within its window leads to suspension."
    lines = [
        *_header(number=cert.number, organization=cert.organization, cb=cert.cb),
        f"{name} is due on {_words(visit.due_date)}, in {_days(left)}.",
        f"Window: {_words(visit.window_start)} to {_words(visit.window_end)}.",
        "",
        f"What to do: agree the visit dates with the certification body. {consequence}",
        FOOTER,
    ]
    noun = "re-assessment" if visit.kind == "reassessment" else f"surveillance {visit.sequence}"
    return f"{cert.number}: {noun} due on {_words(visit.due_date)}", "\n".join(lines)
