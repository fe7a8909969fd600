"""Builders that make data through the services, as a real user would.

``World.build()`` sets up a CB accepted for AP with staff, an organization with two sites
and their users; its methods walk an application to a granted certificate step by step.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import time_machine

from apcert.accounts.models import User
from apcert.applications.models import Application
from apcert.applications.services import (
    application_accept,
    application_create,
    application_submit,
    scope_line_add,
)
from apcert.assessments.models import Assessment, Finding
from apcert.assessments.services import (
    assessment_issue_report,
    assessment_plan,
    assessment_start,
    corrective_action_review,
    corrective_action_submit,
    finding_record,
)
from apcert.bodies.models import CertificationBody
from apcert.bodies.services import cb_acceptance_grant, cb_create, cb_staff_add
from apcert.certificates.models import Certificate
from apcert.certificates.services import certificate_grant
from apcert.organizations.models import Organization, Site
from apcert.organizations.services import organization_create, site_create
from apcert.schemes.models import ProcessCategory, Programme, Scheme

_counter = itertools.count(1)

DAY0 = dt.date(2026, 1, 12)


@contextmanager
def on_day(day: dt.date) -> Iterator[None]:
    """Run the block with the clock at noon (UTC) of ``day``: a step of a scenario is taken
    on the day it is dated. The services refuse to start an assessment before its planned
    start, and a finding, report or decision dated after today."""
    with time_machine.travel(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC), tick=False):
        yield


def make_user(prefix: str, **extra: Any) -> User:
    n = next(_counter)
    return User.objects.create_user(
        username=f"{prefix}{n}",
        password="x-Long-password-1",
        full_name=f"{prefix.title()} {n}",
        **extra,
    )


@dataclass
class CBTeam:
    cb: CertificationBody
    manager: User
    lead: User
    assessor: User
    decision_maker: User
    decision_maker2: User


@dataclass
class World:
    secretariat: User
    scheme: Scheme
    programme: Programme
    team: CBTeam
    org: Organization
    org_user: User
    site: Site
    site2: Site
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls, *, cb_code: str | None = None, accepted_on: dt.date = dt.date(2020, 1, 1)
    ) -> World:
        secretariat = make_user("sec", is_secretariat=True)
        scheme = Scheme.objects.get(code="AP")
        programme = Programme.objects.get(code="AP")
        team = cls.make_cb(secretariat, cb_code or f"T{next(_counter)}", accepted_on)
        org_user = make_user("orguser")
        org = organization_create(
            actor=org_user,
            legal_name=f"Plating Works {next(_counter)}",
            country="DE",
            registration_number=f"HRB {next(_counter)}",
        )
        site = site_create(
            actor=org_user, organization=org, name="Main plant", city="Dresden", country="DE"
        )
        site2 = site_create(
            actor=org_user,
            organization=org,
            name="Second plant",
            city="Leipzig",
            country="DE",
            published=False,
        )
        return cls(secretariat, scheme, programme, team, org, org_user, site, site2)

    @staticmethod
    def make_cb(
        secretariat: User,
        code: str,
        accepted_on: dt.date,
        programmes: tuple[str, ...] = ("AP", "AP-ESD", "AP-CAP"),
    ) -> CBTeam:
        cb = cb_create(actor=secretariat, code=code, name=f"Cert Body {code}", country="DE")
        for pcode in programmes:
            cb_acceptance_grant(
                actor=secretariat,
                cb=cb,
                programme=Programme.objects.get(code=pcode),
                accepted_on=accepted_on,
            )
        people = {}
        for name, role in (
            ("manager", "scheme_manager"),
            ("lead", "assessor"),
            ("assessor", "assessor"),
            ("decision_maker", "decision_maker"),
            ("decision_maker2", "decision_maker"),
        ):
            user = make_user(name)
            cb_staff_add(actor=secretariat, cb=cb, user=user, role=role)
            people[name] = user
        # The second decision maker is also an assessor: tests put them on a team.
        cb_staff_add(actor=secretariat, cb=cb, user=people["decision_maker2"], role="assessor")
        return CBTeam(cb=cb, **people)

    # --- the path to grant, one step at a time -------------------------------------------

    def draft_application(
        self,
        *,
        category: str = "EPL",
        standards: tuple[str, ...] = ("ISO 9001:2015",),
        programmes: tuple[str, ...] = ("AP",),
        design_claimed: bool = False,
        requests_component_qualification: bool = False,
        cb: CertificationBody | None = None,
    ) -> Application:
        app = application_create(
            actor=self.org_user,
            organization=self.org,
            cb=cb or self.team.cb,
            scheme=self.scheme,
            programmes=Programme.objects.filter(code__in=programmes),
            design_claimed=design_claimed,
            requests_component_qualification=requests_component_qualification,
        )
        if category:
            scope_line_add(
                actor=self.org_user,
                application=app,
                category=ProcessCategory.objects.get(code=category),
                site=self.site,
                wording=f"{category} process at the main plant",
                standards=standards,
            )
        return app

    def accepted_application(self, **kwargs: Any) -> Application:
        app = self.draft_application(**kwargs)
        application_submit(actor=self.org_user, application=app, on=DAY0)
        return application_accept(actor=self.team.manager, application=app)

    def assessment(
        self,
        app: Application,
        *,
        start: dt.date = DAY0 + dt.timedelta(days=30),
        days: int = 2,
        findings: tuple[str, ...] = (),
        report: bool = True,
        team: list[tuple[User, str]] | None = None,
    ) -> Assessment:
        t = self.team
        a = assessment_plan(
            actor=t.manager,
            kind="initial",
            application=app,
            start_date=start,
            end_date=start + dt.timedelta(days=days - 1),
            team=team or [(t.lead, "lead"), (t.assessor, "member")],
        )
        with on_day(start):
            assessment_start(actor=t.lead, assessment=a)
            for grade in findings:
                finding_record(
                    actor=t.lead,
                    assessment=a,
                    grade=grade,
                    requirement_kind="iso9001",
                    requirement_ref="ISO 9001:2015 8.5.1",
                    description=f"{grade} finding: records incomplete",
                )
        if report:
            issued_on = a.end_date + dt.timedelta(days=3)
            with on_day(issued_on):
                a = assessment_issue_report(actor=t.lead, assessment=a, issued_on=issued_on)
        return a

    def answer(self, finding: Finding, *, on: dt.date | None = None) -> Any:
        return corrective_action_submit(
            actor=self.org_user,
            finding=finding,
            correction="Records completed",
            root_cause="No checklist",
            action="Checklist introduced",
            evidence="checklist.pdf",
            submitted_on=on or finding.raised_on + dt.timedelta(days=10),
        )

    def review(self, corrective_action: Any, outcome: str, *, on: dt.date | None = None) -> Any:
        return corrective_action_review(
            actor=self.team.lead,
            corrective_action=corrective_action,
            outcome=outcome,
            comment="" if outcome != "reject" else "Root cause not shown",
            reviewed_on=on or corrective_action.submitted_on + dt.timedelta(days=5),
        )

    def resolve_findings(self, a: Assessment) -> None:
        """Verify every major and accept a plan for every minor."""
        for f in a.findings.exclude(grade="observation"):
            ca = self.answer(f)
            self.review(ca, "verify" if f.grade == "major" else "accept_plan")

    def granted(self, *, decided_on: dt.date | None = None, **kwargs: Any) -> Certificate:
        app = self.accepted_application(**kwargs)
        a = self.assessment(app, findings=("major", "minor", "observation"))
        self.resolve_findings(a)
        decided_on = decided_on or a.end_date + dt.timedelta(days=40)
        with on_day(decided_on):
            return certificate_grant(
                actor=self.team.decision_maker,
                application=app,
                assessment=a,
                decided_on=decided_on,
            )

    def granted_at_two_sites(self) -> Certificate:
        """A certificate with EPL at the main plant and PWB at the second plant (which the
        holder does not publish): one whose scope can be reduced and a site removed."""
        app = self.draft_application()
        scope_line_add(
            actor=self.org_user,
            application=app,
            category=ProcessCategory.objects.get(code="PWB"),
            site=self.site2,
            wording="Printed board fabrication at the second plant",
            standards=("ISO 9001:2015",),
        )
        application_submit(actor=self.org_user, application=app, on=DAY0)
        application_accept(actor=self.team.manager, application=app)
        a = self.assessment(app)
        decided_on = a.end_date + dt.timedelta(days=40)
        with on_day(decided_on):
            return certificate_grant(
                actor=self.team.decision_maker,
                application=app,
                assessment=a,
                decided_on=decided_on,
            )
