from django.db import models


class AssessmentKind(models.TextChoices):
    INITIAL = "initial", "initial assessment"
    SURVEILLANCE = "surveillance", "surveillance"
    REASSESSMENT = "reassessment", "re-assessment (renewal)"
    SCOPE_EXTENSION = "scope_extension", "scope extension"
    SPECIAL = "special", "special (short notice)"
    TRANSFER_REVIEW = "transfer_review", "transfer review"


class AssessmentOrigin(models.TextChoices):
    """Where an assessment was carried out: run in apcert step by step, or run in the CB's
    own software and its outcome recorded here afterwards."""

    RUN = "run", "run in apcert"
    RECORDED = "recorded", "recorded in the CB's own software"


class AssessmentStatus(models.TextChoices):
    PLANNED = "planned", "planned"
    IN_PROGRESS = "in_progress", "in progress"
    REPORT_ISSUED = "report_issued", "report issued"
    CLOSED = "closed", "closed"
    CANCELLED = "cancelled", "cancelled"


#: The statuses of an assessment whose report has been issued (a closed assessment's
#: report was issued before the decision that closed it): from then on the organization
#: assessed has it.
REPORT_ISSUED_STATUSES = (AssessmentStatus.REPORT_ISSUED, AssessmentStatus.CLOSED)


class TeamRole(models.TextChoices):
    LEAD = "lead", "lead assessor"
    MEMBER = "member", "team member"
    TECHNICAL_EXPERT = "technical_expert", "technical expert"


class FindingGrade(models.TextChoices):
    MAJOR = "major", "major nonconformity"
    MINOR = "minor", "minor nonconformity"
    OBSERVATION = "observation", "observation"


class RequirementKind(models.TextChoices):
    ISO_9001 = "iso9001", "ISO 9001 clause"
    IECQ = "iecq", "IECQ requirement"
    STANDARD = "standard", "clause of a declared standard"


class FindingStatus(models.TextChoices):
    OPEN = "open", "open"
    ANSWERED = "answered", "answered, awaiting review"
    PLAN_ACCEPTED = "plan_accepted", "corrective action plan accepted"
    CLOSED = "closed", "closed (verified)"


class CorrectiveActionStatus(models.TextChoices):
    SUBMITTED = "submitted", "submitted"
    ACCEPTED = "accepted", "accepted"
    REJECTED = "rejected", "rejected"
