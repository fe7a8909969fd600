"""The rows of one demo certificate, from its application to the reference date.

Each certificate gets what the services would have written on the way: an accepted
application with scope lines, an initial assessment with its team and findings (majors
verified before the decision, minors with an accepted plan), a grant decision by a decision
maker who was not on the team, the number (``numbering.format_number``), issue 1 (the
snapshot shaped as ``snapshots.py`` shapes it), then each step of its timeline with its
decision, status change, new issue or assessment, and an audit event for every change of
the certificate itself.

Organizations with an account get the full private record (nonconformities with corrective
actions, assessment teams, observations at surveillance); the others, at large sizes, a lean
one: observations only, and surveillance visits as bare assessment rows, which the audit
programme (and so the status of the day) reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from apcert.certificates.numbering import format_number
from apcert.certificates.snapshots import change_summary
from apcert.demo import timeline as tl
from apcert.demo import words
from apcert.demo.bulk import Clock, json_text
from apcert.demo.dice import Dice
from apcert.demo.population import OFFICE_SECONDS, OFFICE_START, Org, Plan
from apcert.demo.setup import CBInfo, Person
from apcert.demo.tables import Tables
from apcert.schemes.models import ProcessCategory, Programme, Scheme, SchemeRules, Standard
from apcert.schemes.selectors import scheme_rules

StandardInfo = tuple[int, str, int, str]  # id, DESIGNATION:EDITION, edition year, title
EventSink = Callable[..., None]

STATUS_TARGET = {
    "suspend": "suspended",
    "restore": "current",
    "withdraw": "withdrawn",
    "cancel": "cancelled",
}


@dataclass
class Reference:
    """The reference data the rows point to, read once."""

    scheme_id: int
    rules: SchemeRules
    programmes: dict[str, tuple[int, str]]  # code: (id, name)
    categories: dict[str, tuple[int, str, bool]]  # code: (id, name, is_design)
    standards: dict[str, StandardInfo]  # designation: its edition in force
    base: StandardInfo  # ISO 9001, declared on every scope line

    @classmethod
    def load(cls) -> Reference:
        scheme = Scheme.objects.get(code="AP")
        standards: dict[str, StandardInfo] = {}
        for std in Standard.objects.filter(status="current", accepted_for_iecq=True):
            if std.withdrawn_on is None and std.edition[:4].isdigit():
                standards[std.designation] = (
                    std.pk,
                    std.reference,
                    int(std.edition[:4]),
                    std.title,
                )
        if "ISO 9001" not in standards:
            raise ValueError("the standards catalogue has no current ISO 9001 edition")
        return cls(
            scheme_id=scheme.pk,
            rules=scheme_rules(scheme),
            programmes={p.code: (p.pk, p.name) for p in Programme.objects.all()},
            categories={c.code: (c.pk, c.name, c.is_design) for c in ProcessCategory.objects.all()},
            standards=standards,
            base=standards["ISO 9001"],
        )


@dataclass
class _Life:
    """A certificate while its timeline is written: what the next step starts from."""

    cert_id: int
    number: str
    org: Org
    cb: CBInfo
    fam: words.Family
    full: bool  # the full private record
    state: dict[str, Any]  # as certificates.services._state, JSON-ready
    lines: list[dict[str, Any]]
    lines_json: str
    programmes_json: str
    granted: int
    content: dict[str, Any]  # the last issue's, as snapshots.issue_content reads it


class CertificateWriter:
    """Appends the rows of one certificate after another to ``tables``; queues the audit
    events with ``event`` (the caller chains them in date order)."""

    def __init__(
        self,
        *,
        dice: Dice,
        clock: Clock,
        tables: Tables,
        reference: Reference,
        reference_date: dt.date,
        cbs: list[CBInfo],
        orgs: list[bytes],
        serials: dict[tuple[int, int], int],
        event: EventSink,
    ) -> None:
        self.d = dice
        self.clock = clock
        self.t = tables
        self.ref = reference
        self.reference_date = reference_date
        self.ref_ord = reference_date.toordinal()
        self.cbs = cbs
        self.orgs = orgs  # each packed (Org.packed)
        self.serials = serials
        self.event = event
        self._standards_json: dict[tuple[str, ...], str] = {}
        self._programmes_json: dict[tuple[str, ...], str] = {}
        self._available: dict[tuple[str, int], list[StandardInfo]] = {}
        # The assessment whose findings are being written, and how many it has so far: the
        # findings of an assessment are written right after it, numbered 1, 2, 3 ...
        self._numbering: tuple[int, int] = (0, 0)

    def _stamp(self, day: int) -> str:
        return self.clock.moment(day, OFFICE_START + self.d.below(OFFICE_SECONDS))

    # --- snapshots ----------------------------------------------------------------------

    def _available_standards(self, category: str, year: int) -> list[StandardInfo]:
        key = (category, year)
        found = self._available.get(key)
        if found is None:
            family = category if category in words.CATEGORY_STANDARDS else category.split(".")[0]
            found = [
                std
                for designation in words.CATEGORY_STANDARDS.get(family, ())
                if (std := self.ref.standards.get(designation)) is not None and std[2] <= year
            ]
            self._available[key] = found
        return found

    def _scope_line(
        self, app_id: int | None, category: str, site: dict[str, Any], year: int
    ) -> dict[str, Any]:
        """A scope line's snapshot (as snapshots.scope_line_snapshot); its rows too if it
        belongs to an application. Only standards published by ``year`` are declared."""
        d = self.d
        cat_id, cat_name, _ = self.ref.categories[category]
        available = self._available_standards(category, year)
        chosen = [self.ref.base]
        if available:
            chosen += d.sample(available, d.below(min(2, len(available)) + 1))
        wording = d.pick(words.SCOPE_WORDING[category])
        if "{" in wording:
            wording = wording.format(**{k: d.pick(v) for k, v in words.WORDING_FILL.items()})
        if app_id is not None:
            line_id = self.t.next_line()
            self.t.line.rows.append((line_id, app_id, cat_id, site["id"], wording))
            rows = self.t.line_standard.rows
            for std in chosen:
                rows.append((line_id, std[0]))
        return {
            "category": category,
            "category_name": cat_name,
            "site_id": site["id"],
            "site_name": site["name"],
            "wording": wording,
            "standards": sorted(std[1] for std in chosen),
        }

    def _issue_json(self, org: Org, lines: list[dict[str, Any]]) -> tuple[str, str, str]:
        """holder, sites and standards of an issue, as snapshots.py builds them."""
        if not org.holder_json:
            org.holder_json = json_text(
                {
                    "name": org.name,
                    "country": org.country.code,
                    "registration_number": org.registration_number,
                    "registration_authority": org.registration_authority,
                }
            )
        site_ids = tuple(sorted({line["site_id"] for line in lines}))
        sites = org.site_json.get(site_ids)
        if sites is None:
            chosen = [s for s in org.sites if s["id"] in site_ids]
            sites = org.site_json[site_ids] = json_text(sorted(chosen, key=lambda s: s["id"]))
        refs = tuple(sorted({ref for line in lines for ref in line["standards"]}))
        standards = self._standards_json.get(refs)
        if standards is None:
            out = []
            for ref in refs:
                designation, _, edition = ref.rpartition(":")
                std = self.ref.standards.get(designation)
                title = std[3] if std is not None and std[1] == ref else ""
                out.append({"designation": designation, "edition": edition, "title": title})
            standards = self._standards_json[refs] = json_text(out)
        return org.holder_json, sites, standards

    def _programmes(self, codes: list[str]) -> str:
        key = tuple(codes)
        text = self._programmes_json.get(key)
        if text is None:
            text = json_text([{"code": c, "name": self.ref.programmes[c][1]} for c in codes])
            self._programmes_json[key] = text
        return text

    @staticmethod
    def _content(
        jsons: tuple[str, str, str],
        programmes_json: str,
        lines: list[dict[str, Any]],
        valid_from: str,
        valid_until: str,
    ) -> dict[str, Any]:
        """An issue's content as snapshots.issue_content reads it, for its change summary."""
        holder_json, sites_json, standards_json = jsons
        return {
            "holder": orjson.loads(holder_json),
            "sites": orjson.loads(sites_json),
            "programmes": orjson.loads(programmes_json),
            "scope_lines": lines,
            "standards": orjson.loads(standards_json),
            "valid_from": dt.date.fromisoformat(valid_from),
            "valid_until": dt.date.fromisoformat(valid_until),
        }

    # --- assessments and findings --------------------------------------------------------

    def _assessment(
        self,
        cb: CBInfo,
        *,
        kind: str,
        status: str,
        start: int,
        end: int,
        report: int,
        summary: str,
        planned: int,
        application: int | None = None,
        certificate: int | None = None,
        stage1: bool = False,
    ) -> int:
        day = self.clock.day
        assessment_id = self.t.next_assessment()
        self._numbering = (assessment_id, 0)
        self.t.assessment.rows.append(
            (
                assessment_id, cb.id, application, certificate, kind, status, stage1,
                day(start), day(end), day(report), summary, self._stamp(planned), "run",
            )
        )  # fmt: skip
        return assessment_id

    def _team(self, cb: CBInfo, assessment_id: int, size: int) -> list[Person]:
        members = self.d.sample(cb.assessors, size)
        rows = self.t.team.rows
        rows.append((assessment_id, members[0].id, "", "lead"))
        for person in members[1:]:
            rows.append((assessment_id, person.id, "", "member"))
        return members

    def _requirement(self, lines: list[dict[str, Any]]) -> tuple[str, str, int | None, str]:
        d = self.d
        process = d.pick(lines)["category_name"].lower()
        u = d.random()
        if u < 0.15:
            ref, text = d.pick(words.IECQ_FINDINGS)
            return "iecq", ref, None, text
        base = self.ref.base[1]
        if u < 0.35:
            refs = sorted({r for line in lines for r in line["standards"]} - {base})
            if refs:
                std_ref = d.pick(refs)
                std = self.ref.standards[std_ref.rpartition(":")[0]]
                clause = d.pick(words.STANDARD_CLAUSES)
                text = words.STANDARD_FINDING.format(clause=clause, ref=std_ref, proc=process)
                return "standard", f"{std_ref} {clause}", std[0], text
        clause, text = d.pick(words.ISO_9001_FINDINGS)
        return "iso9001", f"{base} {clause}", None, text.format(n=d.between(2, 6), proc=process)

    def _finding(
        self,
        assessment_id: int,
        grade: str,
        raised: int,
        lines: list[dict[str, Any]],
        status: str,
        closed: int | None,
    ) -> int:
        d = self.d
        day = self.clock.day
        finding_id = self.t.next_finding()
        numbering, count = self._numbering
        assert numbering == assessment_id, "findings follow their assessment"
        number = count + 1
        self._numbering = (assessment_id, number)
        if grade == "observation":
            process = d.pick(lines)["category_name"].lower()
            text = d.pick(words.OBSERVATIONS).format(proc=process)
            clause = d.pick(words.ISO_9001_FINDINGS)[0]
            kind, ref, std_id = "iso9001", f"{self.ref.base[1]} {clause}", None
            due = raised  # an observation needs no answer: recorded closed, as the service
        else:
            kind, ref, std_id, text = self._requirement(lines)
            due = raised + self.ref.rules.nonconformity_due_days
        self.t.finding.rows.append(
            (
                finding_id, assessment_id, number, grade, kind, ref, std_id, text, status,
                day(raised), day(due), None if closed is None else day(closed),
            )
        )  # fmt: skip
        return finding_id

    def _answer(
        self,
        finding_id: int,
        org: Org,
        reviewer: Person,
        submitted: int,
        reviewed: int,
        status: str = "accepted",
        comment: str = "",
    ) -> None:
        assert org.user is not None
        correction, cause, action, evidence = self.d.pick(words.CORRECTIONS)
        day = self.clock.day
        self.t.action.rows.append(
            (
                finding_id, correction, cause, action, evidence.format(n=finding_id),
                org.user.id, day(submitted), status, reviewer.id, day(reviewed), comment,
            )
        )  # fmt: skip

    def _nonconformities(
        self,
        org: Org,
        assessment_id: int,
        lead: Person,
        lines: list[dict[str, Any]],
        start: int,
        days: int,
        end: int,
        decided: int,
        majors: int,
        minors: int,
    ) -> None:
        """Majors answered and verified before the decision (well within the six months
        after the assessment); minors with a plan accepted before it, verified later where
        the reference date allows. The lead assessor reviews."""
        d = self.d
        gap = decided - end
        for _ in range(majors):
            raised = start + d.below(days)
            reviewed = decided - d.between(1, 5)
            submitted = reviewed - d.between(2, 10)
            finding_id = self._finding(assessment_id, "major", raised, lines, "closed", reviewed)
            if d.chance(0.1):  # a first answer, rejected
                first = raised + d.between(3, 7)
                comment = d.pick(words.REJECT_COMMENTS)
                self._answer(
                    finding_id, org, lead, first, first + d.between(2, 5), "rejected", comment
                )
            self._answer(finding_id, org, lead, submitted, reviewed)
        for _ in range(minors):
            raised = start + d.below(days)
            submitted = end + d.between(1, max(1, gap - 3))
            verified = decided + d.between(120, 300)
            if verified <= self.ref_ord and d.chance(0.85):
                finding_id = self._finding(
                    assessment_id, "minor", raised, lines, "closed", verified
                )
                self._answer(finding_id, org, lead, submitted, verified)
            else:
                finding_id = self._finding(
                    assessment_id, "minor", raised, lines, "plan_accepted", None
                )
                self._answer(finding_id, org, lead, submitted, submitted + d.between(1, 2))

    # --- one certificate -----------------------------------------------------------------

    def write(self, plan: Plan, fate: str | None) -> str:
        """Every row of one certificate; returns its status on the reference date."""
        d = self.d
        clock = self.clock
        day = clock.day
        t = self.t
        granted = plan.day
        org = Org.unpacked(self.orgs[plan.org])
        cb = self.cbs[plan.cb]
        fam = words.FAMILIES[plan.family]
        full = org.user is not None
        year = dt.date.fromordinal(granted).year

        # The application and its scope: categories differ line by line, so each
        # (category, site) pair is unique as the database requires.
        count = 1 if d.chance(0.45) else 2 if d.chance(0.64) else 3
        categories = d.sample(fam.categories, min(count, len(fam.categories)))
        programmes = list(fam.programmes)
        if plan.extra:
            categories.append(d.pick(fam.extra_categories))
            programmes.append(fam.extra_programme)
        if plan.design:
            categories.insert(0, d.pick(fam.design_categories))
        programmes.sort()
        design_claimed = any(self.ref.categories[c][2] for c in categories)
        majors = 1 if full and d.chance(0.12) else 0
        minors = d.pick((0, 0, 1, 1, 1, 2, 2, 3)) if full else 0
        observations = d.pick((0, 1, 1, 2)) if full else int(d.chance(0.3))
        gap = d.between(30, 80) if majors else d.between(10, 60)
        end = granted - gap
        report = end + d.between(1, min(10, gap - 1))
        days = d.between(1, 3)
        start = end - days + 1
        submitted = start - d.between(20, 70)

        app_id = t.next_app()
        t.app.rows.append(
            (
                app_id, org.id, cb.id, self.ref.scheme_id, "accepted", design_claimed, False,
                self._stamp(submitted), None, "", self._stamp(submitted - d.between(3, 30)),
            )
        )  # fmt: skip
        for code in programmes:
            t.app_programme.rows.append((app_id, self.ref.programmes[code][0]))
        sites = org.sites
        lines = [
            self._scope_line(
                app_id,
                category,
                sites[i % len(sites)] if d.chance(0.7) else d.pick(sites),
                year,
            )
            for i, category in enumerate(categories)
        ]
        lines_json = json_text(lines)

        # The initial assessment, its team and findings.
        cert_id = t.next_cert()
        summary = (
            f"Initial assessment of {len(lines)} scope line(s): {majors} major and {minors} "
            f"minor nonconformities, {observations} observation(s)."
        )
        assessment_id = self._assessment(
            cb,
            kind="initial",
            status="closed",  # report issued, then closed by the grant
            start=start,
            end=end,
            report=report,
            summary=summary,
            planned=submitted + d.between(5, 15),
            application=app_id,
            stage1=d.chance(0.5),
        )
        team = self._team(cb, assessment_id, 3 if full and d.chance(0.25) else 2)
        self._nonconformities(
            org, assessment_id, team[0], lines, start, days, end, granted, majors, minors
        )
        for _ in range(observations):
            raised = start + d.below(days)
            self._finding(assessment_id, "observation", raised, lines, "closed", raised)

        # The grant: decision, number, issue 1, status change, audit event.
        key = (cb.id, year)
        serial = self.serials.get(key, 0) + 1
        self.serials[key] = serial
        number = format_number(self.ref.rules, cb_code=cb.code, year=year, serial=serial)
        decider = d.pick(cb.deciders)
        rationale = d.pick(words.GRANT_RATIONALES)
        stamp = clock.moment(granted, plan.seconds)
        decision_id = t.next_decision()
        t.decision.rows.append(
            (
                decision_id, cb.id, "grant", app_id, assessment_id, cert_id, decider.id,
                day(granted), rationale, stamp,
            )
        )  # fmt: skip
        expires = tl.validity_end(dt.date.fromordinal(granted), self.ref.rules.validity_months)
        programmes_json = self._programmes(programmes)
        jsons = self._issue_json(org, lines)
        holder_json, sites_json, standards_json = jsons
        content = self._content(jsons, programmes_json, lines, day(granted), expires.isoformat())
        issue_id = t.next_issue()
        t.issue.rows.append(
            (
                issue_id, cert_id, 1, day(granted), day(granted), expires.isoformat(), "initial",
                change_summary(None, content), decision_id, holder_json, sites_json,
                programmes_json, lines_json, standards_json, stamp,
            )
        )  # fmt: skip
        t.status.rows.append(
            (cert_id, "draft", "current", day(granted), "granted", rationale, decision_id, stamp)
        )
        state = {
            "number": number,
            "status": "current",
            "issue": 1,
            "expires_on": expires.isoformat(),
        }
        self.event(
            granted,
            plan.seconds,
            "certificate.grant",
            cert_id,
            number,
            decider,
            None,
            {
                **state,
                "decision": decision_id,
                "application": app_id,
                "assessment": assessment_id,
                "decided_on": day(granted),
                "issue_id": issue_id,
                "scope_lines": lines,
            },
            rationale,
            lines_json,
        )

        # What happened next, up to the reference date.
        life = _Life(
            cert_id=cert_id,
            number=number,
            org=org,
            cb=cb,
            fam=fam,
            full=full,
            state=state,
            lines=lines,
            lines_json=lines_json,
            programmes_json=programmes_json,
            granted=granted,
            content=content,
        )
        story = self._timeline(granted, len(lines), fate)
        for step in story.steps:
            self._step(life, step)
        assert story.status_since is not None
        t.cert.rows.append(
            (
                cert_id, number, year, serial, cb.id, self.ref.scheme_id, org.id, app_id,
                story.status, story.status_since.isoformat(), day(granted), day(granted),
                story.expires_on.isoformat(), state["issue"], None, None, None,
            )
        )  # fmt: skip
        return story.status

    def _timeline(self, granted: int, lines: int, fate: str | None) -> tl.Timeline:
        rules = self.ref.rules
        arguments: dict[str, Any] = {
            "granted_on": dt.date.fromordinal(granted),
            "reference_date": self.reference_date,
            "validity_months": rules.validity_months,
            "surveillance_months": rules.surveillance_interval_months,
            "surveillance_window_days": rules.surveillance_window_days,
            "max_suspension_months": rules.max_suspension_months,
            "lines": lines,
        }
        if fate is None:
            return tl.plan_timeline(self.d, odds=tl.Odds(), **arguments)
        odds = tl.FORCED_ODDS[fate]
        for _ in range(500):
            story = tl.plan_timeline(self.d, odds=odds, **arguments)
            if tl.meets(fate, story):
                break
        return story

    # --- the steps after the grant -------------------------------------------------------

    def _step(self, life: _Life, step: tl.Step) -> None:
        on = step.on.toordinal()
        if step.action == "surveillance":
            # Every life records its surveillance visits, lean ones too: the audit programme
            # (and so the status of the day) reads them, and a certificate whose visits were
            # never recorded would read suspended, then withdrawn, by the scheme's calendar.
            self._surveillance(life, on, step.days)
        elif step.action == "expire":
            self._expire(life, step, on)
        elif step.action == "renew":
            self._renew(life, step, on)
        elif step.action == "reissue":
            self._reissue(life, step, on)
        else:
            self._status_decision(life, step, on)

    def _expire(self, life: _Life, step: tl.Step, on: int) -> None:
        seconds = 60 + self.d.below(600)  # the nightly expiry sweep; no decision
        before = dict(life.state)
        life.state["status"] = "expired"
        self.t.status.rows.append(
            (
                life.cert_id, before["status"], "expired", self.clock.day(on),
                step.reason_category, step.reason, None, self.clock.moment(on, seconds),
            )
        )  # fmt: skip
        self.event(
            on, seconds, "certificate.expire", life.cert_id, life.number, None, before,
            dict(life.state), step.reason,
        )  # fmt: skip

    def _decision(
        self,
        life: _Life,
        kind: str,
        on: int,
        rationale: str,
        assessment: int | None = None,
    ) -> tuple[int, Person, int, str]:
        decider = self.d.pick(life.cb.deciders)
        seconds = OFFICE_START + self.d.below(OFFICE_SECONDS)
        stamp = self.clock.moment(on, seconds)
        decision_id = self.t.next_decision()
        self.t.decision.rows.append(
            (
                decision_id, life.cb.id, kind, None, assessment, life.cert_id, decider.id,
                self.clock.day(on), rationale, stamp,
            )
        )  # fmt: skip
        return decision_id, decider, seconds, stamp

    def _status_decision(self, life: _Life, step: tl.Step, on: int) -> None:
        """Suspend, restore, withdraw or cancel: a decision and a status change."""
        decision_id, decider, seconds, stamp = self._decision(life, step.action, on, step.reason)
        before = dict(life.state)
        target = STATUS_TARGET[step.action]
        life.state["status"] = target
        self.t.status.rows.append(
            (
                life.cert_id, before["status"], target, self.clock.day(on),
                step.reason_category, step.reason, decision_id, stamp,
            )
        )  # fmt: skip
        after = {
            **life.state,
            "decision": decision_id,
            "reason_category": step.reason_category,
            "decided_on": self.clock.day(on),
        }
        self.event(
            on, seconds, f"certificate.{step.action}", life.cert_id, life.number, decider,
            before, after, step.reason,
        )  # fmt: skip

    def _new_issue(
        self,
        life: _Life,
        on: int,
        stamp: str,
        reason: str,
        decision_id: int,
        lines: list[dict[str, Any]],
        lines_json: str,
    ) -> int:
        """The next issue; its summary is what changed from the last one, as the services
        write it."""
        life.state["issue"] += 1
        jsons = self._issue_json(life.org, lines)
        holder_json, sites_json, standards_json = jsons
        valid_from = self.clock.day(life.granted)
        content = self._content(
            jsons, life.programmes_json, lines, valid_from, life.state["expires_on"]
        )
        summary = change_summary(life.content, content)
        issue_id = self.t.next_issue()
        self.t.issue.rows.append(
            (
                issue_id, life.cert_id, life.state["issue"], self.clock.day(on), valid_from,
                life.state["expires_on"], reason, summary, decision_id, holder_json,
                sites_json, life.programmes_json, lines_json, standards_json, stamp,
            )
        )  # fmt: skip
        life.lines, life.lines_json, life.content = lines, lines_json, content
        return issue_id

    def _renew(self, life: _Life, step: tl.Step, on: int) -> None:
        """A re-assessment, then a renewal decided before expiry: same number, new issue."""
        d = self.d
        before = dict(life.state)
        start = on - d.between(20, 50)
        end = start + d.between(0, 2)
        observations = int(life.full and d.chance(0.2))
        assessment_id = self._assessment(
            life.cb,
            kind="reassessment",
            status="closed",
            start=start,
            end=end,
            report=end + d.between(1, 7),
            summary=f"Re-assessment for renewal: {observations} observation(s).",
            planned=start - d.between(20, 40),
            certificate=life.cert_id,
        )
        self._team(life.cb, assessment_id, 2 if life.full else 1)
        for _ in range(observations):
            raised = start + d.between(0, end - start)
            self._finding(assessment_id, "observation", raised, life.lines, "closed", raised)
        rationale = d.pick(words.RENEW_RATIONALES)
        decision_id, decider, seconds, stamp = self._decision(
            life, "renew", on, rationale, assessment_id
        )
        assert step.expires_on is not None
        life.state["expires_on"] = step.expires_on.isoformat()
        issue_id = self._new_issue(
            life, on, stamp, "renewal", decision_id, life.lines, life.lines_json
        )
        after = {**life.state, "decision": decision_id, "issue_id": issue_id}
        self.event(
            on, seconds, "certificate.renew", life.cert_id, life.number, decider, before, after,
            rationale,
        )  # fmt: skip

    def _reissue(self, life: _Life, step: tl.Step, on: int) -> None:
        """A scope extension after its assessment (a site added when the line is at a site
        not yet certified), or a scope reduction, as the services make them. When the
        planned change cannot be made (no category left to add, a single line to keep),
        the other is made; when neither can, there is no new issue."""
        d = self.d
        before = dict(life.state)
        lines = list(life.lines)
        used = {line["category"] for line in lines}
        spare = [c for c in life.fam.categories + life.fam.extra_categories if c not in used]
        extend = bool(spare) and (step.issue_reason == "scope_extension" or len(lines) < 2)
        if not extend and len(lines) < 2:
            return
        assessment_id = None
        extra: dict[str, Any]
        if extend:
            site = d.pick(life.org.sites)
            line = self._scope_line(None, d.pick(spare), site, step.on.year)
            new_site = all(x["site_id"] != site["id"] for x in lines)
            lines.append(line)
            reason = "site_change" if new_site else "scope_extension"
            rationale = f"Scope extension assessment of {line['category']} satisfactory."
            start = max(on - d.between(12, 30), life.granted + 1)
            end = start + d.between(0, 1)
            assessment_id = self._assessment(
                life.cb,
                kind="scope_extension",
                status="closed",  # report issued, then closed by the decision
                start=start,
                end=end,
                report=end + d.between(1, 5),
                summary=f"Scope extension: {line['category_name']}; no findings.",
                planned=max(start - d.between(5, 15), life.granted),
                certificate=life.cert_id,
            )
            self._team(life.cb, assessment_id, 1)
            decision_kind, action = "extend_scope", "site_add" if new_site else "extend_scope"
            extra = {"added": [line]}
        else:
            gone = lines.pop(d.below(len(lines)))
            reason = "scope_reduction"
            rationale = f"{gone['category_name']} no longer carried out."
            decision_kind = action = "reduce_scope"
            extra = {"removed": [gone]}
        decision_id, decider, seconds, stamp = self._decision(
            life, decision_kind, on, rationale, assessment_id
        )
        lines_json = json_text(lines)
        issue_id = self._new_issue(life, on, stamp, reason, decision_id, lines, lines_json)
        after = {
            **life.state,
            "decision": decision_id,
            "reason": reason,
            "issue_id": issue_id,
            "decided_on": self.clock.day(on),
            "assessment": assessment_id,
            **extra,
            "scope_lines": lines,
        }
        self.event(
            on, seconds, f"certificate.{action}", life.cert_id, life.number, decider, before,
            after, rationale, lines_json,
        )  # fmt: skip

    def _surveillance(self, life: _Life, on: int, days: int) -> None:
        """A surveillance visit; for a lean life the assessment row alone (no team, no
        finding), which is what the audit programme reads."""
        d = self.d
        end = min(on + days, self.ref_ord)
        observation = life.full and d.chance(0.25)
        assessment_id = self._assessment(
            life.cb,
            kind="surveillance",
            # No service closes a surveillance assessment: the report is its last step.
            status="report_issued",
            start=on,
            end=end,
            report=min(end + d.between(1, 7), self.ref_ord),
            summary="Surveillance: " + ("1 observation." if observation else "no findings."),
            planned=on - d.between(20, 40),
            certificate=life.cert_id,
        )
        if not life.full:
            return
        self._team(life.cb, assessment_id, 1 if d.chance(0.6) else 2)
        if observation:
            self._finding(assessment_id, "observation", on, life.lines, "closed", on)
