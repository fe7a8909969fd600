"""Reading applications, and the rules an application must meet to be submitted."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from apcert.applications.errors import (
    APPLICATION_COMPONENT_QUALIFICATION_IS_AC,
    APPLICATION_DESIGN_NOT_CLAIMED,
    APPLICATION_DESIGN_SCOPE_MISSING,
    APPLICATION_NO_PROGRAMME,
    APPLICATION_NO_SCOPE,
    APPLICATION_PROGRAMME_SCHEME_MISMATCH,
    APPLICATION_SCHEME_NOT_SUPPORTED,
    APPLICATION_SCOPE_LINE_WITHOUT_STANDARD,
    CB_NOT_ACCEPTED,
    SCOPE_OUTSIDE_ACCEPTANCE,
)
from apcert.applications.models import Application, ScopeLine
from apcert.audit.selectors import HistoryEntry, record_history
from apcert.bodies.choices import AcceptanceStatus
from apcert.bodies.models import CBAcceptance
from apcert.core.errors import RuleViolation
from apcert.core.permissions import is_secretariat
from apcert.schemes.selectors import category_descendant_codes, standard_problem

if TYPE_CHECKING:
    from apcert.accounts.models import User


def applications_visible_to(actor: User) -> QuerySet[Application]:
    """The Secretariat sees all; CB staff their CB's; an organization's users their own."""
    qs = Application.objects.select_related("organization", "cb", "scheme")
    if is_secretariat(actor):
        return qs
    return qs.filter(
        Q(cb__staff__user=actor, cb__staff__active=True) | Q(organization__members__user=actor)
    ).distinct()


def acceptance_problems(
    *,
    cb_id: int,
    programme_ids: list[int],
    scope_lines: list[ScopeLine],
    on: dt.date,
    code_prefix: str,
) -> list[RuleViolation]:
    """The CB must hold a current acceptance for every programme, covering every scope line."""
    problems: list[RuleViolation] = []
    acceptances = {
        acc.programme_id: acc
        for acc in CBAcceptance.objects.filter(cb_id=cb_id, programme_id__in=programme_ids)
        .select_related("programme", "cb")
        .prefetch_related("categories")
    }
    from apcert.schemes.models import Programme

    for programme in Programme.objects.filter(pk__in=programme_ids).order_by("code"):
        acc = acceptances.get(programme.pk)
        if acc is None or not acc.is_current_on(on):
            problems.append(
                RuleViolation(
                    f"The chosen certification body does not hold a current IECQ acceptance for "
                    f"{programme.code} ({programme.name}) on {on.isoformat()}.",
                    code=CB_NOT_ACCEPTED[code_prefix],
                    params={"programme": programme.code},
                )
            )
            continue
        limited = list(acc.categories.all())
        if limited:
            allowed: set[str] = set()
            for cat in limited:
                allowed |= category_descendant_codes(cat)
            for line in scope_lines:
                if line.category.code not in allowed:
                    problems.append(
                        RuleViolation(
                            f"Scope line {line.category.code} ({line.category.name}) is outside "
                            f"{acc.cb.code}'s acceptance for {programme.code}.",
                            code=SCOPE_OUTSIDE_ACCEPTANCE[code_prefix],
                            params={"category": line.category.code, "programme": programme.code},
                        )
                    )
    return problems


def application_problems(application: Application, on: dt.date) -> list[RuleViolation]:
    """Every rule of IECQ 03-2 that stops this application from being submitted, in the
    order a user should fix them. Empty when it may be submitted."""
    problems: list[RuleViolation] = []
    if application.requests_component_qualification:
        problems.append(
            RuleViolation(
                "Qualification of finished electronic components is certified under the IECQ "
                "Approved Component scheme (IECQ 03-3), not Approved Process. Apply under AC for "
                "the components; AP can still cover separate processes or services.",
                code=APPLICATION_COMPONENT_QUALIFICATION_IS_AC,
            )
        )
    if not application.scheme.supported:
        problems.append(
            RuleViolation(
                f"apcert does not run applications under {application.scheme} yet.",
                code=APPLICATION_SCHEME_NOT_SUPPORTED,
            )
        )
    programmes = list(application.programmes.all())
    if not programmes:
        problems.append(
            RuleViolation(
                "Choose at least one programme.",
                code=APPLICATION_NO_PROGRAMME,
                field="programmes",
            )
        )
    for programme in programmes:
        if programme.scheme_id != application.scheme_id:
            problems.append(
                RuleViolation(
                    f"{programme.code} belongs to another scheme than {application.scheme}.",
                    code=APPLICATION_PROGRAMME_SCHEME_MISMATCH,
                )
            )
    lines = list(
        application.scope_lines.select_related("category", "site").prefetch_related("standards")
    )
    if not lines:
        problems.append(
            RuleViolation(
                "Declare at least one scope line.", code=APPLICATION_NO_SCOPE, field="scope_lines"
            )
        )
    problems += acceptance_problems(
        cb_id=application.cb_id,
        programme_ids=[p.pk for p in programmes],
        scope_lines=lines,
        on=on,
        code_prefix="application",
    )
    for line in lines:
        stds = list(line.standards.all())
        if not stds:
            problems.append(
                RuleViolation(
                    f"Scope line {line.category.code} at {line.site.name} declares no standard.",
                    code=APPLICATION_SCOPE_LINE_WITHOUT_STANDARD,
                )
            )
        for std in stds:
            problem = standard_problem(std, on)
            if problem is not None:
                problems.append(problem)
    has_design_line = any(line.category.is_design for line in lines)
    if application.design_claimed and not has_design_line:
        problems.append(
            RuleViolation(
                "Design is claimed, so the scope needs a design scope line (a design and product "
                "engineering category).",
                code=APPLICATION_DESIGN_SCOPE_MISSING,
                field="scope_lines",
            )
        )
    if has_design_line and not application.design_claimed:
        problems.append(
            RuleViolation(
                "A design scope line is declared but design is not claimed: claim design, or "
                "remove the line.",
                code=APPLICATION_DESIGN_NOT_CLAIMED,
                field="design_claimed",
            )
        )
    return problems


def applications_for_cb_staff(actor: User) -> QuerySet[Application]:
    """The applications made to the CBs where ``actor`` is active staff, in any role (the
    back office's CB section); the Secretariat sees all. An organization's own applications
    are not among them unless its CB is the actor's: the CB sees only its own clients."""
    from apcert.bodies.selectors import staff_cb_ids

    qs = Application.objects.select_related("organization", "cb", "scheme")
    if is_secretariat(actor):
        return qs
    if not actor.is_active:
        return qs.none()
    return qs.filter(cb_id__in=staff_cb_ids(actor))


if TYPE_CHECKING:  # the organization section's selectors, below
    from apcert.bodies.models import CertificationBody
    from apcert.organizations.models import Site
    from apcert.schemes.models import ProcessCategory, Programme, Scheme, Standard


def applications_for_organization_users(actor: User) -> QuerySet[Application]:
    """The applications of the organizations whose users include ``actor`` (the back
    office's organization section); the Secretariat sees all. A CB's staff see theirs in
    the CB section (:func:`applications_for_cb_staff`)."""
    from apcert.organizations.models import OrganizationMember

    qs = Application.objects.select_related("organization", "cb", "scheme")
    if is_secretariat(actor):
        return qs
    if not actor.is_active:
        return qs.none()
    return qs.filter(
        organization_id__in=OrganizationMember.objects.filter(user=actor).values("organization_id")
    )


def cbs_accepting(*, on: dt.date, scheme: Scheme | None = None) -> QuerySet[CertificationBody]:
    """The CBs an organization may apply to on ``on``: those holding an acceptance current
    on that day for a programme of ``scheme``, or of any scheme apcert runs (AP)."""
    from apcert.bodies.models import CertificationBody

    current = CBAcceptance.objects.filter(
        status=AcceptanceStatus.ACTIVE, accepted_on__lte=on
    ).filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on))
    current = (
        current.filter(scheme=scheme)
        if scheme is not None
        else current.filter(scheme__supported=True)
    )
    return CertificationBody.objects.filter(pk__in=current.values("cb_id")).order_by("code")


def application_draft_problems(
    *,
    cb: CertificationBody,
    scheme: Scheme,
    programmes: list[Programme],
    requests_component_qualification: bool,
    on: dt.date,
) -> list[RuleViolation]:
    """The rules of :func:`application_problems` that a new application's first answers
    already break, each naming the field to correct (``cb``, ``scheme``, ``programmes``,
    ``requests_component_qualification``), so that a draft is not started that could never
    be submitted."""
    problems: list[RuleViolation] = []
    if requests_component_qualification:
        problems.append(
            RuleViolation(
                "Qualification of finished electronic components is certified under the IECQ "
                "Approved Component scheme (IECQ 03-3), not Approved Process. Apply under AC for "
                "the components; AP can still cover separate processes or services.",
                code=APPLICATION_COMPONENT_QUALIFICATION_IS_AC,
                field="requests_component_qualification",
            )
        )
    if not scheme.supported:
        problems.append(
            RuleViolation(
                f"apcert does not run applications under {scheme} yet.",
                code=APPLICATION_SCHEME_NOT_SUPPORTED,
                field="scheme",
            )
        )
    if not programmes:
        problems.append(
            RuleViolation(
                "Choose at least one programme.",
                code=APPLICATION_NO_PROGRAMME,
                field="programmes",
            )
        )
    for programme in programmes:
        if programme.scheme_id != scheme.pk:
            problems.append(
                RuleViolation(
                    f"{programme.code} belongs to another scheme than {scheme}.",
                    code=APPLICATION_PROGRAMME_SCHEME_MISMATCH,
                    field="programmes",
                )
            )
    for problem in acceptance_problems(
        cb_id=cb.pk,
        programme_ids=[p.pk for p in programmes],
        scope_lines=[],
        on=on,
        code_prefix="application",
    ):
        problem.field = "cb"
        problems.append(problem)
    return problems


def scope_line_problems(
    *,
    application: Application,
    category: ProcessCategory,
    site: Site,
    standards: list[Standard],
    on: dt.date,
) -> list[RuleViolation]:
    """The rules of :func:`application_problems` that one scope line would break, checked
    before it is added, each naming its field (``category``, ``standards``)."""
    problems: list[RuleViolation] = []
    line = ScopeLine(application=application, category=category, site=site)
    for problem in acceptance_problems(
        cb_id=application.cb_id,
        programme_ids=list(application.programmes.values_list("pk", flat=True)),
        scope_lines=[line],
        on=on,
        code_prefix="application",
    ):
        if problem.code == "application.scope_outside_acceptance":
            problem.field = "category"
            problems.append(problem)
    if not standards:
        problems.append(
            RuleViolation(
                "Declare at least one standard for this scope line.",
                code=APPLICATION_SCOPE_LINE_WITHOUT_STANDARD,
                field="standards",
            )
        )
    for std in standards:
        refused = standard_problem(std, on)
        if refused is not None:
            refused.field = "standards"
            problems.append(refused)
    return problems


def scope_lines_of(application: Application) -> QuerySet[ScopeLine]:
    """The scope lines of ``application`` with their category, site and standards."""
    return (
        ScopeLine.objects.filter(application=application)
        .select_related("category", "site")
        .prefetch_related("standards")
        .order_by("pk")
    )


def declared_standards(application_id: int | None) -> list[tuple[int, str]]:
    """The standards the scope lines of an application declare, as (id, reference)."""
    if application_id is None:
        return []
    from apcert.schemes.models import Standard

    qs = Standard.objects.filter(scopeline__application_id=application_id).distinct()
    return [(s.pk, s.reference) for s in qs.order_by("designation", "edition")]


# --- the application's history ---------------------------------------------------------------

#: How the actions on an application read in its history (the others read as the audit
#: trail's generic wording makes them: "application.submit" is "Application submitted").
APPLICATION_HISTORY_WORDS = {
    "application.create": "Application started",
    "application.scope_line_add": "Scope line added",
    "application.scope_line_update": "Scope line changed",
    "application.scope_line_remove": "Scope line removed",
}


def application_history(application: Application) -> list[HistoryEntry]:
    """Every audited change of ``application``, newest first, for a viewer the caller has
    already let see it. Its scope lines are audited on the application itself, so that a
    line removed from a draft keeps its history: one query."""
    return record_history(
        records={Application._meta.label_lower: [application.pk]},
        words=APPLICATION_HISTORY_WORDS,
    )
