from django.db import models


class NotificationKind(models.TextChoices):
    STATUS_CHANGE = "status_change", "certificate status changed"
    EXPIRY = "expiry", "certificate expiry approaching"
    FINDING_LATE = "finding_late", "nonconformity past its due date"
    SURVEILLANCE = "surveillance", "surveillance or re-assessment due"
    MESSAGE = "message", "workflow message"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "claimed, being sent"
    SENT = "sent", "sent"
    FAILED = "failed", "sending failed, to be retried"


class MessageGroup(models.TextChoices):
    """The groups of e-mails a person may turn off; the in-app messages are always kept."""

    APPLICATIONS = "applications", "applications"
    ASSESSMENTS = "assessments", "assessments and findings"
    DECISIONS = "decisions", "decisions and certificate status"
    REMINDERS = "reminders", "reminders (expiry, visits due, late findings)"


class MessageKind(models.TextChoices):
    """What an in-app message tells: one workflow step that someone acts on next."""

    APPLICATION_SUBMITTED = "application_submitted", "application submitted"
    APPLICATION_ACCEPTED = "application_accepted", "application accepted"
    APPLICATION_REJECTED = "application_rejected", "application rejected"
    APPLICATION_WITHDRAWN = "application_withdrawn", "application withdrawn"
    ASSESSMENT_PLANNED = "assessment_planned", "assessment planned"
    ASSESSMENT_CANCELLED = "assessment_cancelled", "assessment cancelled"
    REPORT_ISSUED = "report_issued", "assessment report issued"
    FINDING_RECORDED = "finding_recorded", "finding recorded"
    CORRECTIVE_ACTION_SUBMITTED = "corrective_action_submitted", "corrective action submitted"
    CORRECTIVE_ACTION_REVIEWED = "corrective_action_reviewed", "corrective action reviewed"
    FINDING_LATE = "finding_late", "nonconformity past its due date"
    DECISION = "decision", "certification decision"
    CERTIFICATE_STATUS = "certificate_status", "certificate status changed"
    PUBLICATION_REVIEW = "publication_review", "publication review"


#: The e-mail group of each kind of message.
MESSAGE_GROUP: dict[str, str] = {
    MessageKind.APPLICATION_SUBMITTED: MessageGroup.APPLICATIONS,
    MessageKind.APPLICATION_ACCEPTED: MessageGroup.APPLICATIONS,
    MessageKind.APPLICATION_REJECTED: MessageGroup.APPLICATIONS,
    MessageKind.APPLICATION_WITHDRAWN: MessageGroup.APPLICATIONS,
    MessageKind.ASSESSMENT_PLANNED: MessageGroup.ASSESSMENTS,
    MessageKind.ASSESSMENT_CANCELLED: MessageGroup.ASSESSMENTS,
    MessageKind.REPORT_ISSUED: MessageGroup.ASSESSMENTS,
    MessageKind.FINDING_RECORDED: MessageGroup.ASSESSMENTS,
    MessageKind.CORRECTIVE_ACTION_SUBMITTED: MessageGroup.ASSESSMENTS,
    MessageKind.CORRECTIVE_ACTION_REVIEWED: MessageGroup.ASSESSMENTS,
    MessageKind.FINDING_LATE: MessageGroup.REMINDERS,
    MessageKind.DECISION: MessageGroup.DECISIONS,
    MessageKind.CERTIFICATE_STATUS: MessageGroup.DECISIONS,
    MessageKind.PUBLICATION_REVIEW: MessageGroup.DECISIONS,
}

#: The e-mail group of each kind of notice the dispatcher finds by itself.
NOTICE_GROUP: dict[str, str] = {
    NotificationKind.STATUS_CHANGE: MessageGroup.DECISIONS,
    NotificationKind.EXPIRY: MessageGroup.REMINDERS,
    NotificationKind.FINDING_LATE: MessageGroup.REMINDERS,
    NotificationKind.SURVEILLANCE: MessageGroup.REMINDERS,
}


class MessageTarget(models.TextChoices):
    """The kind of object a message is about; the screens turn it and its id into a link."""

    APPLICATION = "application", "application"
    ASSESSMENT = "assessment", "assessment"
    FINDING = "finding", "finding"
    CERTIFICATE = "certificate", "certificate"


class MailState(models.TextChoices):
    """Where a message stands on its way to an e-mail."""

    DUE = "due", "to be mailed by the next dispatch"
    OUTBOX = "outbox", "handed to the outbox (see notifications sent)"
    SKIPPED = "skipped", "not mailed"


class MailSkipped(models.TextChoices):
    """Why a message was not mailed."""

    PREFERENCE = "preference", "the person turned this group of e-mails off"
    NO_ADDRESS = "no_address", "no e-mail address, or the account is inactive"
    OLD_NEWS = "old_news", "the event is older than the notice window"
    BEFORE_START = "before_start", "written before notifications were enabled"
    TOLD_BY_NOTICE = "told_by_notice", "mailed as a status change or late finding notice"
