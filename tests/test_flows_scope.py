"""Scope extension and reduction, sites added and removed, holder renamed: each a decision
and a new issue of the same certificate."""

from __future__ import annotations

from typing import Any

import pytest

from apcert.applications.services import (
    application_accept,
    application_submit,
    scope_line_add,
)
from apcert.audit.models import AuditEvent
from apcert.bodies.models import CBAcceptance
from apcert.bodies.services import cb_acceptance_transition
from apcert.certificates.models import Certificate, Decision
from apcert.certificates.services import (
    NewScopeLine,
    certificate_extend_scope,
    certificate_grant,
    certificate_holder_renamed,
    certificate_reduce_scope,
    certificate_site_add,
    certificate_site_moved,
    certificate_site_remove,
    certificate_site_renamed,
    certificate_standard_update,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.core.errors import DomainError
from apcert.organizations.models import Site
from apcert.organizations.services import organization_rename, site_move, site_rename
from apcert.schemes.models import ProcessCategory, Standard
from tests.factories import DAY0, World
from tests.flows_support import (
    DAYS,
    assert_refused,
    assessment_status,
    cert_row,
    decision_of,
    grew,
    records,
    reported,
    visit,
)


def _keys(cert: Certificate, issue_number: int) -> list[tuple[str, int]]:
    issue = cert.issues.get(issue_number=issue_number)
    return [(line["category"], line["site_id"]) for line in issue.scope_lines]


def _two_site_certificate(world: World) -> Certificate:
    """EPL at the main plant and PWB at the second plant."""
    app = world.draft_application()
    scope_line_add(
        actor=world.org_user,
        application=app,
        category=ProcessCategory.objects.get(code="PWB"),
        site=world.site2,
        wording="Printed board fabrication at the second plant",
        standards=("ISO 9001:2015",),
    )
    application_submit(actor=world.org_user, application=app, on=DAY0)
    application_accept(actor=world.team.manager, application=app)
    a = world.assessment(app)
    return certificate_grant(
        actor=world.team.decision_maker,
        application=app,
        assessment=a,
        decided_on=reported(a) + 10 * DAYS,
    )


def _line(world: World, category: str = "PWB", **kw: Any) -> NewScopeLine:
    values: dict[str, Any] = {
        "category": category,
        "site": world.site,
        "wording": f"{category} process at the main plant",
        "standards": ("ISO 9001:2015",),
    }
    values.update(kw)
    return NewScopeLine(**values)


def _extend(world: World, cert: Certificate, a: Any, lines: list[NewScopeLine], **kw: Any) -> Any:
    return certificate_extend_scope(
        actor=kw.pop("actor", world.team.decision_maker),
        certificate=cert,
        assessment=a,
        new_scope_lines=lines,
        decided_on=kw.pop("decided_on", a.end_date + 10 * DAYS),
        **kw,
    )


# --- scope extension ---------------------------------------------------------------------


def test_given_a_scope_extension_assessment_when_extended_then_a_new_issue_adds_the_lines(
    world: World,
) -> None:
    # Given a certificate for EPL and a scope-extension assessment reported
    cert = world.granted()
    a = visit(world, cert, "scope_extension", findings=("minor",))
    world.resolve_findings(a)
    before, row = records(), cert_row(cert.pk)
    on = reported(a) + 5 * DAYS

    # When the scope is extended by PWB at the main plant
    _extend(
        world,
        cert,
        a,
        [_line(world, standards=("ISO 9001:2015", "ISO/IEC 17025:2017"))],
        decided_on=on,
    )

    # Then issue 2 (scope_extension) holds both lines; number, status, expiry unchanged
    assert cert_row(cert.pk) == {**row, "issue": 2}
    issue = cert.issues.get(issue_number=2)
    assert (issue.reason, issue.issued_on) == ("scope_extension", on)
    assert _keys(cert, 2) == [("EPL", world.site.pk), ("PWB", world.site.pk)]
    assert issue.scope_lines[1] == {
        "category": "PWB",
        "category_name": ProcessCategory.objects.get(code="PWB").name,
        "site_id": world.site.pk,
        "site_name": "Main plant",
        "wording": "PWB process at the main plant",
        "standards": ["ISO 9001:2015", "ISO/IEC 17025:2017"],
    }
    assert {s["designation"] for s in issue.standards} == {"ISO/IEC 17025", "ISO 9001"}
    assert issue.change_summary == (
        f"Scope line added: PWB at Main plant ({ProcessCategory.objects.get(code='PWB').name})"
    )
    decision = Decision.objects.get(assessment=a)
    assert (decision.kind, issue.decision_id) == ("extend_scope", decision.pk)
    assert assessment_status(a) == "closed"
    assert records() == grew(before, decisions=1, issues=1, audit_events=1)
    event = AuditEvent.objects.latest("seq")
    assert event.after is not None
    assert (event.action, event.object_id) == ("certificate.extend_scope", str(cert.pk))


@pytest.mark.parametrize(
    ("kind", "findings", "report", "code"),
    [
        pytest.param("surveillance", (), True, "decision.wrong_assessment", id="surveillance"),
        pytest.param("reassessment", (), True, "decision.wrong_assessment", id="reassessment"),
        pytest.param("scope_extension", ("major",), True, "decision.open_major", id="major"),
        pytest.param(
            "scope_extension", ("minor",), True, "decision.minor_without_plan", id="minor"
        ),
        pytest.param("scope_extension", (), False, "decision.report_not_issued", id="no-report"),
    ],
)
def test_given_an_unfit_assessment_when_extended_then_refused(
    world: World, kind: str, findings: tuple[str, ...], report: bool, code: str
) -> None:
    cert = world.granted()
    a = visit(world, cert, kind, findings=findings, report=report)
    assert_refused(lambda: _extend(world, cert, a, [_line(world)]), code, cert)


def test_given_the_decision_maker_was_on_the_team_when_extended_then_refused(
    world: World,
) -> None:
    t = world.team
    cert = world.granted()
    a = visit(
        world, cert, "scope_extension", members=[(t.lead, "lead"), (t.decision_maker2, "member")]
    )
    assert_refused(
        lambda: _extend(world, cert, a, [_line(world)], actor=t.decision_maker2),
        "decision.maker_on_team",
        cert,
    )


def test_given_an_assessment_already_used_when_extended_again_then_refused(world: World) -> None:
    cert = world.granted()
    a = visit(world, cert, "scope_extension")
    _extend(world, cert, a, [_line(world)])
    assert_refused(
        lambda: _extend(world, cert, a, [_line(world, "CMF")], decided_on=a.end_date + 11 * DAYS),
        "decision.assessment_already_used",
        cert,
    )


@pytest.mark.parametrize(
    ("line_kw", "code"),
    [
        pytest.param({"category": "EPL"}, "certificate.scope_line_exists", id="exists"),
        pytest.param({"category": "NOPE"}, "invalid.choice", id="unknown-category"),
        pytest.param({"standards": ()}, "certificate.scope_line_without_standard", id="no-std"),
        pytest.param({"standards": ("ISO 9001:1066",)}, "standard.unknown", id="unknown-std"),
        pytest.param(
            {"standards": ("ISO 9001:2008",)}, "decision.standard_not_current", id="superseded"
        ),
        pytest.param(
            {"standards": ("IATF 16949:2016",)},
            "decision.standard_not_current",
            id="not-accepted-for-iecq",
        ),
        pytest.param({"wording": "  "}, "invalid.required", id="no-wording"),
    ],
)
def test_given_a_faulty_new_line_when_extended_then_refused(
    world: World, line_kw: dict[str, Any], code: str
) -> None:
    cert = world.granted()
    a = visit(world, cert, "scope_extension")
    kw = {"category": line_kw.pop("category", "PWB"), **line_kw}
    assert_refused(lambda: _extend(world, cert, a, [_line(world, **kw)]), code, cert)


def test_given_the_same_new_line_twice_when_extended_then_refused(world: World) -> None:
    cert = world.granted()
    a = visit(world, cert, "scope_extension")
    assert_refused(
        lambda: _extend(world, cert, a, [_line(world), _line(world)]),
        "certificate.scope_line_exists",
        cert,
    )


def test_given_no_new_line_when_extended_then_refused(world: World) -> None:
    cert = world.granted()
    a = visit(world, cert, "scope_extension")
    assert_refused(lambda: _extend(world, cert, a, []), "invalid.required", cert)


def test_given_a_line_at_a_site_not_yet_certified_when_extended_then_refused(
    world: World,
) -> None:
    cert = world.granted()
    a = visit(world, cert, "scope_extension")
    assert_refused(
        lambda: _extend(world, cert, a, [_line(world, site=world.site2)]),
        "certificate.site_not_on_certificate",
        cert,
    )


def test_given_a_site_of_another_organization_when_extended_then_refused(
    world: World,
) -> None:
    cert = world.granted()
    other = World.build()
    a = visit(world, cert, "scope_extension")
    assert_refused(
        lambda: _extend(world, cert, a, [_line(world, site=other.site)]),
        "certificate.site_not_own",
        cert,
    )


def test_given_a_category_outside_the_cbs_acceptance_when_extended_then_refused(
    world: World,
) -> None:
    # Given the CB's AP acceptance limited to EPL (arranged directly: no service edits it)
    cert = world.granted()
    acc = CBAcceptance.objects.get(cb=world.team.cb, programme__code="AP")
    acc.categories.set([ProcessCategory.objects.get(code="EPL")])
    a = visit(world, cert, "scope_extension")
    err = assert_refused(
        lambda: _extend(world, cert, a, [_line(world, "PWB")]),
        "decision.scope_outside_acceptance",
        cert,
    )
    assert err.params["category"] == "PWB"


def test_given_the_cbs_acceptance_suspended_when_extended_then_refused(world: World) -> None:
    cert = world.granted()
    a = visit(world, cert, "scope_extension")
    cb_acceptance_transition(
        actor=world.secretariat,
        acceptance=CBAcceptance.objects.get(cb=world.team.cb, programme__code="AP"),
        action="suspend",
        reason="Accreditation lapsed",
    )
    assert_refused(
        lambda: _extend(world, cert, a, [_line(world)]), "decision.cb_not_accepted", cert
    )


def test_given_a_suspended_certificate_when_extended_then_refused(world: World) -> None:
    cert = world.granted()
    a = visit(world, cert, "scope_extension")
    certificate_suspend(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="complaint",
        reason="Complaint",
        decided_on=reported(a),
    )
    assert_refused(lambda: _extend(world, cert, a, [_line(world)]), "certificate.not_current", cert)


def test_given_a_manager_when_extended_then_refused(world: World) -> None:
    cert = world.granted()
    a = visit(world, cert, "scope_extension")
    assert_refused(
        lambda: _extend(world, cert, a, [_line(world)], actor=world.team.manager),
        "permission.cb_role_required",
        cert,
    )


# --- site added ----------------------------------------------------------------------------


def test_given_a_scope_extension_at_a_new_site_when_the_site_is_added_then_site_change(
    world: World,
) -> None:
    cert = world.granted()
    a = visit(world, cert, "scope_extension")
    before = records()

    certificate_site_add(
        actor=world.team.decision_maker,
        certificate=cert,
        assessment=a,
        new_scope_lines=[_line(world, "EPL", site=world.site2, wording="EPL, second plant")],
        decided_on=reported(a),
    )

    issue = cert.issues.get(issue_number=2)
    assert issue.reason == "site_change"
    assert _keys(cert, 2) == [("EPL", world.site.pk), ("EPL", world.site2.pk)]
    assert [s["id"] for s in issue.sites] == [world.site.pk, world.site2.pk]
    # The second plant is not published: the summary does not name it.
    assert issue.change_summary == (
        "Site added: an unpublished site; "
        "Scope line added: EPL at an unpublished site (Electroplating)"
    )
    assert Decision.objects.get(assessment=a).kind == "extend_scope"
    assert records() == grew(before, decisions=1, issues=1, audit_events=1)
    assert AuditEvent.objects.latest("seq").action == "certificate.site_add"


def test_given_a_site_already_certified_when_added_then_refused(world: World) -> None:
    cert = world.granted()
    a = visit(world, cert, "scope_extension")
    assert_refused(
        lambda: certificate_site_add(
            actor=world.team.decision_maker,
            certificate=cert,
            assessment=a,
            new_scope_lines=[_line(world)],
            decided_on=reported(a),
        ),
        "certificate.site_already_on_certificate",
        cert,
    )


def test_given_no_assessment_of_the_new_site_when_added_then_refused(world: World) -> None:
    cert = world.granted()
    a = visit(world, cert, "surveillance")
    assert_refused(
        lambda: certificate_site_add(
            actor=world.team.decision_maker,
            certificate=cert,
            assessment=a,
            new_scope_lines=[_line(world, "EPL", site=world.site2)],
            decided_on=reported(a),
        ),
        "decision.wrong_assessment",
        cert,
    )


# --- scope reduction and site removal ---------------------------------------------------------


@pytest.mark.parametrize("suspended", [False, True])
def test_given_two_lines_when_one_is_removed_then_a_scope_reduction_issue(
    world: World, suspended: bool
) -> None:
    # Given a certificate with two lines (suspended, in one case)
    cert = _two_site_certificate(world)
    on = cert.status_since + 30 * DAYS
    if suspended:
        certificate_suspend(
            actor=world.team.decision_maker,
            certificate=cert,
            reason_category="nonconformity",
            reason="PWB line failing",
            decided_on=on,
        )
    before, row = records(), cert_row(cert.pk)

    # When the PWB line is removed by a decision
    certificate_reduce_scope(
        actor=world.team.decision_maker,
        certificate=cert,
        remove=[("PWB", world.site2.pk)],
        reason="PWB line closed down",
        decided_on=on + DAYS,
    )

    # Then issue 2 (scope_reduction) keeps the EPL line; the status is unchanged
    assert cert_row(cert.pk) == {**row, "issue": 2}
    issue = cert.issues.get(issue_number=2)
    assert issue.reason == "scope_reduction"
    assert _keys(cert, 2) == [("EPL", world.site.pk)]
    pwb = ProcessCategory.objects.get(code="PWB").name
    assert issue.change_summary == (
        f"Site removed: an unpublished site; Scope line removed: PWB at an unpublished site ({pwb})"
    )
    assert [s["id"] for s in issue.sites] == [world.site.pk]
    decision = decision_of(issue)
    assert (decision.kind, decision.rationale) == ("reduce_scope", "PWB line closed down")
    assert records() == grew(before, decisions=1, issues=1, audit_events=1)
    assert AuditEvent.objects.latest("seq").action == "certificate.reduce_scope"


@pytest.mark.parametrize(
    ("remove", "reason", "code"),
    [
        pytest.param("all", "Closing", "certificate.empty_scope", id="everything"),
        pytest.param([("CMF", 0)], "Closing", "certificate.scope_line_not_found", id="unknown"),
        pytest.param("pwb", "  ", "invalid.reason_required", id="no-reason"),
        pytest.param([], "Closing", "invalid.required", id="nothing"),
    ],
)
def test_given_a_faulty_reduction_then_refused(
    world: World, remove: Any, reason: str, code: str
) -> None:
    cert = _two_site_certificate(world)
    pairs = {
        "all": [("EPL", world.site.pk), ("PWB", world.site2.pk)],
        "pwb": [("PWB", world.site2.pk)],
    }
    assert_refused(
        lambda: certificate_reduce_scope(
            actor=world.team.decision_maker,
            certificate=cert,
            remove=pairs[remove] if isinstance(remove, str) else remove,
            reason=reason,
            decided_on=cert.status_since + DAYS,
        ),
        code,
        cert,
    )


def test_given_a_withdrawn_certificate_when_reduced_then_refused(world: World) -> None:
    cert = _two_site_certificate(world)
    certificate_withdraw(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="misuse",
        reason="Mark misused",
        decided_on=cert.status_since + DAYS,
    )
    assert_refused(
        lambda: certificate_reduce_scope(
            actor=world.team.decision_maker,
            certificate=cert,
            remove=[("PWB", world.site2.pk)],
            reason="Closing",
            decided_on=cert.status_since + DAYS,
        ),
        "certificate.transition_not_allowed",
        cert,
    )


def test_given_two_sites_when_one_is_removed_then_its_lines_go_in_a_site_change_issue(
    world: World,
) -> None:
    cert = _two_site_certificate(world)
    before = records()

    certificate_site_remove(
        actor=world.team.decision_maker,
        certificate=cert,
        site=world.site2,
        reason="Second plant sold",
        decided_on=cert.status_since + DAYS,
    )

    issue = cert.issues.get(issue_number=2)
    assert issue.reason == "site_change"
    assert _keys(cert, 2) == [("EPL", world.site.pk)]
    assert [s["id"] for s in issue.sites] == [world.site.pk]
    assert decision_of(issue).kind == "reduce_scope"
    assert records() == grew(before, decisions=1, issues=1, audit_events=1)
    assert AuditEvent.objects.latest("seq").action == "certificate.site_remove"


@pytest.mark.parametrize(
    ("which", "code"),
    [
        pytest.param("site2", "certificate.site_not_on_certificate", id="not-on-certificate"),
        pytest.param("site", "certificate.empty_scope", id="only-site"),
    ],
)
def test_given_a_faulty_site_removal_then_refused(world: World, which: str, code: str) -> None:
    cert = world.granted()  # EPL at the main plant only
    assert_refused(
        lambda: certificate_site_remove(
            actor=world.team.decision_maker,
            certificate=cert,
            site=getattr(world, which),
            reason="Plant sold",
            decided_on=cert.status_since + DAYS,
        ),
        code,
        cert,
    )


# --- holder renamed ---------------------------------------------------------------------------


def test_given_the_holder_renamed_when_reissued_then_the_new_issue_names_the_new_holder(
    world: World,
) -> None:
    cert = world.granted()
    old_name = world.org.legal_name
    organization_rename(actor=world.org_user, organization=world.org, legal_name="Galvano AG")
    before, row = records(), cert_row(cert.pk)
    on = cert.status_since + 15 * DAYS

    certificate_holder_renamed(actor=world.team.decision_maker, certificate=cert, decided_on=on)

    assert cert_row(cert.pk) == {**row, "issue": 2}
    first, issue = cert.issues.get(issue_number=1), cert.issues.get(issue_number=2)
    assert (issue.reason, issue.issued_on, issue.holder["name"]) == (
        "holder_renamed",
        on,
        "Galvano AG",
    )
    assert first.holder["name"] == old_name
    assert issue.scope_lines == first.scope_lines
    assert issue.change_summary == f"Holder renamed: '{old_name}' to 'Galvano AG'"
    assert decision_of(issue).kind == "reissue"
    assert records() == grew(before, decisions=1, issues=1, audit_events=1)
    event = AuditEvent.objects.latest("seq")
    assert event.after is not None
    assert (event.action, event.after["holder"]) == ("certificate.holder_renamed", "Galvano AG")


def test_given_the_holder_not_renamed_when_reissued_then_refused(world: World) -> None:
    cert = world.granted()
    assert_refused(
        lambda: certificate_holder_renamed(
            actor=world.team.decision_maker,
            certificate=cert,
            decided_on=cert.status_since + DAYS,
        ),
        "certificate.nothing_changed",
        cert,
    )


def test_given_the_rename_already_reissued_when_reissued_again_then_refused(
    world: World,
) -> None:
    cert = world.granted()
    organization_rename(actor=world.org_user, organization=world.org, legal_name="Galvano AG")
    on = cert.status_since + DAYS
    certificate_holder_renamed(actor=world.team.decision_maker, certificate=cert, decided_on=on)
    assert_refused(
        lambda: certificate_holder_renamed(
            actor=world.team.decision_maker, certificate=cert, decided_on=on
        ),
        "certificate.nothing_changed",
        cert,
    )


def test_given_a_cancelled_certificate_when_the_holder_is_renamed_then_refused(
    world: World,
) -> None:
    from apcert.certificates.services import certificate_cancel

    cert = world.granted()
    certificate_cancel(
        actor=world.team.decision_maker,
        certificate=cert,
        reason="Holder's request",
        decided_on=cert.status_since + DAYS,
    )
    organization_rename(actor=world.org_user, organization=world.org, legal_name="Galvano AG")
    assert_refused(
        lambda: certificate_holder_renamed(
            actor=world.team.decision_maker,
            certificate=cert,
            decided_on=cert.status_since + DAYS,
        ),
        "certificate.transition_not_allowed",
        cert,
    )


# --- site renamed or moved ----------------------------------------------------------------------


def test_given_a_certified_site_renamed_when_reissued_then_the_new_issue_names_it(
    world: World,
) -> None:
    # Given a certificate for EPL at the main plant, which the holder renames
    cert = world.granted()
    site_rename(actor=world.org_user, site=world.site, name="Werk Nord", reason="New owner")
    before, row = records(), cert_row(cert.pk)
    on = cert.status_since + 15 * DAYS

    # When the CB re-issues for the new name
    certificate_site_renamed(
        actor=world.team.decision_maker, certificate=cert, site=world.site, decided_on=on
    )

    # Then issue 2 (site_change) names the site anew, the scope otherwise unchanged
    assert cert_row(cert.pk) == {**row, "issue": 2}
    first, issue = cert.issues.get(issue_number=1), cert.issues.get(issue_number=2)
    assert (issue.reason, issue.issued_on) == ("site_change", on)
    assert issue.change_summary == "Site renamed: 'Main plant' to 'Werk Nord'"
    assert [s["name"] for s in issue.sites] == ["Werk Nord"]
    assert issue.scope_lines == [{**first.scope_lines[0], "site_name": "Werk Nord"}]
    assert decision_of(issue).kind == "reissue"
    assert records() == grew(before, decisions=1, issues=1, audit_events=1)
    event = AuditEvent.objects.latest("seq")
    assert event.after is not None
    assert (event.action, event.after["site"]) == (
        "certificate.site_renamed",
        {"name": "Werk Nord"},
    )


def test_given_a_certified_site_moved_when_reissued_then_the_new_issue_has_the_address(
    world: World,
) -> None:
    cert = world.granted()
    site_move(
        actor=world.org_user, site=world.site, address="Ring 1", city="Chemnitz", country="DE"
    )
    before = records()
    on = cert.status_since + 15 * DAYS

    certificate_site_moved(
        actor=world.team.decision_maker, certificate=cert, site=world.site, decided_on=on
    )

    issue = cert.issues.get(issue_number=2)
    assert (issue.reason, issue.change_summary) == (
        "site_change",
        "Site moved: Main plant to Ring 1, Chemnitz (DE)",
    )
    assert (issue.sites[0]["address"], issue.sites[0]["city"]) == ("Ring 1", "Chemnitz")
    assert records() == grew(before, decisions=1, issues=1, audit_events=1)
    assert AuditEvent.objects.latest("seq").action == "certificate.site_moved"


@pytest.mark.parametrize("service", ["renamed", "moved"])
def test_given_the_site_unchanged_when_reissued_then_refused(world: World, service: str) -> None:
    cert = world.granted()
    call = certificate_site_renamed if service == "renamed" else certificate_site_moved
    # The other kind of change does not count: a moved site is not a renamed one.
    if service == "renamed":
        site_move(actor=world.org_user, site=world.site, address="", city="Chemnitz", country="DE")
    else:
        site_rename(actor=world.org_user, site=world.site, name="Werk Nord")
    assert_refused(
        lambda: call(
            actor=world.team.decision_maker,
            certificate=cert,
            site=world.site,
            decided_on=cert.status_since + DAYS,
        ),
        "certificate.nothing_changed",
        cert,
    )


def test_given_a_site_not_on_the_certificate_when_renamed_then_refused(world: World) -> None:
    cert = world.granted()
    site_rename(actor=world.org_user, site=world.site2, name="Werk Sued")
    assert_refused(
        lambda: certificate_site_renamed(
            actor=world.team.decision_maker,
            certificate=cert,
            site=world.site2,
            decided_on=cert.status_since + DAYS,
        ),
        "certificate.site_not_on_certificate",
        cert,
    )


def test_given_a_manager_when_the_site_rename_is_reissued_then_refused(world: World) -> None:
    cert = world.granted()
    site_rename(actor=world.org_user, site=world.site, name="Werk Nord")
    assert_refused(
        lambda: certificate_site_renamed(
            actor=world.team.manager,
            certificate=cert,
            site=world.site,
            decided_on=cert.status_since + DAYS,
        ),
        "permission.cb_role_required",
        cert,
    )


# --- a standard's edition updated ---------------------------------------------------------------


def _supersede_iso_9001(**newer: Any) -> Standard:
    """The catalogue gets ISO 9001:2026, which supersedes the 2015 edition (arranged directly:
    the Secretariat loads the catalogue from its data files)."""
    new = Standard.objects.create(
        designation="ISO 9001",
        edition="2026",
        title="Quality management systems - Requirements",
        **newer,
    )
    Standard.objects.filter(designation="ISO 9001", edition="2015").update(
        status="superseded", superseded_by=new
    )
    return Standard.objects.get(designation="ISO 9001", edition="2015")


def test_given_a_superseded_edition_when_updated_then_every_line_declares_the_current_one(
    world: World,
) -> None:
    # Given EPL at the main plant and PWB at the second, both declaring ISO 9001:2015, which
    # the 2026 edition then supersedes
    cert = _two_site_certificate(world)
    old = _supersede_iso_9001()
    before, row = records(), cert_row(cert.pk)
    on = cert.status_since + 20 * DAYS

    # When the CB updates the declared edition
    certificate_standard_update(
        actor=world.team.decision_maker, certificate=cert, standard=old, decided_on=on
    )

    # Then issue 2 (standard_updated) declares ISO 9001:2026 on both lines, announced once
    assert cert_row(cert.pk) == {**row, "issue": 2}
    issue = cert.issues.get(issue_number=2)
    assert (issue.reason, issue.issued_on) == ("standard_updated", on)
    assert issue.change_summary == "Standard updated: ISO 9001:2015 to :2026"
    assert [line["standards"] for line in issue.scope_lines] == [["ISO 9001:2026"]] * 2
    assert [(s["designation"], s["edition"]) for s in issue.standards] == [("ISO 9001", "2026")]
    assert decision_of(issue).kind == "reissue"
    assert records() == grew(before, decisions=1, issues=1, audit_events=1)
    event = AuditEvent.objects.latest("seq")
    assert event.after is not None
    assert (event.action, event.after["standard"]) == (
        "certificate.standard_update",
        "ISO 9001:2026",
    )


def test_given_the_current_edition_when_updated_then_refused(world: World) -> None:
    cert = world.granted()
    current = Standard.objects.get(designation="ISO 9001", edition="2015")
    assert_refused(
        lambda: certificate_standard_update(
            actor=world.team.decision_maker,
            certificate=cert,
            standard=current,
            decided_on=cert.status_since + DAYS,
        ),
        "certificate.nothing_changed",
        cert,
    )


def test_given_a_standard_not_declared_when_updated_then_refused(world: World) -> None:
    cert = world.granted()
    other = Standard.objects.get(designation="ISO/IEC 17025", edition="2017")
    err = assert_refused(
        lambda: certificate_standard_update(
            actor=world.team.decision_maker,
            certificate=cert,
            standard=other,
            decided_on=cert.status_since + DAYS,
        ),
        "certificate.standard_not_declared",
        cert,
    )
    assert err.params == {"standard": "ISO/IEC 17025:2017"}


def test_given_a_withdrawn_standard_when_updated_then_refused(world: World) -> None:
    cert = world.granted()
    Standard.objects.filter(designation="ISO 9001", edition="2015").update(
        status="withdrawn", withdrawn_on=cert.status_since
    )
    assert_refused(
        lambda: certificate_standard_update(
            actor=world.team.decision_maker,
            certificate=cert,
            standard=Standard.objects.get(designation="ISO 9001", edition="2015"),
            decided_on=cert.status_since + DAYS,
        ),
        "certificate.standard_no_current_edition",
        cert,
    )


def test_given_a_new_edition_not_accepted_for_iecq_when_updated_then_refused(
    world: World,
) -> None:
    cert = world.granted()
    old = _supersede_iso_9001(accepted_for_iecq=False)
    assert_refused(
        lambda: certificate_standard_update(
            actor=world.team.decision_maker,
            certificate=cert,
            standard=old,
            decided_on=cert.status_since + DAYS,
        ),
        "standard.not_accepted",
        cert,
    )


# --- the holder's records: sites renamed and moved -----------------------------------------------


def test_a_site_rename_and_move_are_recorded_with_one_audit_event_each(world: World) -> None:
    before = AuditEvent.objects.count()
    site_rename(actor=world.org_user, site=world.site, name="Werk Nord", reason="New owner")
    site_move(
        actor=world.org_user, site=world.site, address=" Ring 1 ", city="Chemnitz", country="de"
    )
    site = Site.objects.get(pk=world.site.pk)
    assert (site.name, site.address, site.city, site.country) == (
        "Werk Nord",
        "Ring 1",
        "Chemnitz",
        "DE",
    )
    events = list(AuditEvent.objects.filter(seq__gt=0).order_by("-seq")[:2])
    assert AuditEvent.objects.count() == before + 2
    assert [(e.action, e.before, e.after) for e in reversed(events)] == [
        ("site.rename", {"name": "Main plant"}, {"name": "Werk Nord"}),
        (
            "site.move",
            {"address": "", "city": "Dresden", "country": "DE"},
            {"address": "Ring 1", "city": "Chemnitz", "country": "DE"},
        ),
    ]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        pytest.param({"name": "Main plant"}, "site.nothing_changed", id="same-name"),
        pytest.param({"name": "Second plant"}, "site.duplicate_name", id="taken-name"),
        pytest.param({"name": " "}, "invalid.required", id="no-name"),
        pytest.param(
            {"address": "", "city": "Dresden", "country": "DE"},
            "site.nothing_changed",
            id="same-address",
        ),
        pytest.param({"address": "", "city": "Dresden", "country": "XX1"}, "invalid.country"),
    ],
)
def test_a_faulty_site_change_is_refused(world: World, change: dict[str, str], code: str) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(DomainError) as exc:
        if "name" in change:
            site_rename(actor=world.org_user, site=world.site, **change)
        else:
            site_move(actor=world.org_user, site=world.site, **change)
    assert exc.value.code == code
    site = Site.objects.get(pk=world.site.pk)
    assert (site.name, site.address, site.city, site.country) == ("Main plant", "", "Dresden", "DE")
    assert AuditEvent.objects.count() == before


def test_another_organizations_user_may_not_rename_a_site(world: World) -> None:
    other = World.build()
    with pytest.raises(DomainError) as exc:
        site_rename(actor=other.org_user, site=world.site, name="Taken over")
    assert exc.value.code == "permission.organization_member_required"
    assert Site.objects.get(pk=world.site.pk).name == "Main plant"
