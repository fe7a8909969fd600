"""A draft application's scope lines can be changed and taken out by a user of the
organization, each change audited on the application; once submitted, the scope stays.

Each refusal checks its stable code and that nothing was written: the scope lines and their
standards as they were, no audit event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from apcert.applications.models import Application, ScopeLine
from apcert.applications.services import (
    application_submit,
    scope_line_add,
    scope_line_remove,
    scope_line_update,
)
from apcert.audit.models import AuditEvent
from apcert.core.errors import DomainError
from apcert.organizations.services import organization_create, site_create
from apcert.schemes.models import ProcessCategory
from tests.factories import DAY0, World, make_user

pytestmark = pytest.mark.django_db


def _scope(app: Application) -> list[tuple[str, int, str, list[str]]]:
    return [
        (
            line.category.code,
            line.site_id,
            line.wording,
            sorted(s.reference for s in line.standards.all()),
        )
        for line in ScopeLine.objects.filter(application=app).order_by("id")
    ]


def _refused(call: Callable[[], Any], code: str, app: Application) -> DomainError:
    scope, events = _scope(app), AuditEvent.objects.count()
    with pytest.raises(DomainError) as exc:
        call()
    assert exc.value.code == code, str(exc.value)
    assert _scope(app) == scope
    assert AuditEvent.objects.count() == events
    return exc.value


def _update(world: World, line: ScopeLine, **changes: Any) -> ScopeLine:
    fields: dict[str, Any] = {
        "actor": world.org_user,
        "category": line.category,
        "site": line.site,
        "wording": line.wording,
        "standards": [s.reference for s in line.standards.all()],
        **changes,
    }
    return scope_line_update(scope_line=line, **fields)


def _line(app: Application) -> ScopeLine:
    return ScopeLine.objects.get(application=app)


def test_a_draft_line_is_changed_and_the_event_names_the_line_and_what_changed(
    world: World,
) -> None:
    # Given a draft with one line: EPL at the main plant against ISO 9001:2015
    app = world.draft_application()
    line = _line(app)

    # When a user of the organization moves it to the second plant and adds a standard
    _update(world, line, site=world.site2, standards=["ISO 9001:2015", "IEC 61340-5-1:2024"])

    # Then the line reads so
    assert _scope(app) == [
        (
            "EPL",
            world.site2.pk,
            "EPL process at the main plant",
            ["IEC 61340-5-1:2024", "ISO 9001:2015"],
        )
    ]
    # And one event on the application names the line and the fields changed
    event = AuditEvent.objects.filter(action="application.scope_line_update").get()
    assert (event.object_type, event.object_id) == ("applications.application", str(app.pk))
    assert event.before == {
        "scope_line": line.pk,
        "site": world.site.pk,
        "standards": ["ISO 9001:2015"],
    }
    assert event.after == {
        "scope_line": line.pk,
        "site": world.site2.pk,
        "standards": ["IEC 61340-5-1:2024", "ISO 9001:2015"],
    }


def test_a_change_that_changes_nothing_writes_nothing(world: World) -> None:
    app = world.draft_application()
    scope, events = _scope(app), AuditEvent.objects.count()

    _update(world, _line(app), wording="  EPL process at the main plant ")

    assert _scope(app) == scope
    assert AuditEvent.objects.count() == events


def test_a_draft_line_is_removed_and_its_content_stays_in_the_event(world: World) -> None:
    # Given a draft with two lines
    app = world.draft_application()
    kept = _line(app)
    removed = scope_line_add(
        actor=world.org_user,
        application=app,
        category=ProcessCategory.objects.get(code="PCBA"),
        site=world.site2,
        wording="PCB assembly",
        standards=["ISO 9001:2015"],
    )

    # When one is removed
    scope_line_remove(actor=world.org_user, scope_line=removed)

    # Then the other is left, and the event keeps what the removed one said
    assert list(ScopeLine.objects.filter(application=app)) == [kept]
    event = AuditEvent.objects.filter(action="application.scope_line_remove").get()
    assert (event.object_type, event.object_id) == ("applications.application", str(app.pk))
    assert event.before == {
        "scope_line": removed.pk,
        "category": "PCBA",
        "site": world.site2.pk,
        "wording": "PCB assembly",
        "standards": ["ISO 9001:2015"],
    }
    assert event.after is None


def test_once_submitted_the_scope_is_neither_changed_nor_cut(world: World) -> None:
    app = world.draft_application()
    application_submit(actor=world.org_user, application=app, on=DAY0)
    line = _line(app)
    _refused(lambda: _update(world, line, wording="Changed"), "application.not_draft", app)
    _refused(
        lambda: scope_line_remove(actor=world.org_user, scope_line=line),
        "application.not_draft",
        app,
    )


@pytest.mark.parametrize("who", ["CB scheme manager", "another organization's user"])
def test_only_a_user_of_the_organization_changes_or_removes_a_line(world: World, who: str) -> None:
    app = world.draft_application()
    line = _line(app)
    if who == "CB scheme manager":
        actor = world.team.manager
    else:
        actor = make_user("outsider")
        organization_create(
            actor=actor, legal_name="Other Works", country="FR", registration_number="RCS 7"
        )
    code = "permission.organization_member_required"
    _refused(lambda: _update(world, line, actor=actor, wording="Changed"), code, app)
    _refused(lambda: scope_line_remove(actor=actor, scope_line=line), code, app)


def test_a_line_is_not_changed_into_one_the_scope_already_has(world: World) -> None:
    app = world.draft_application()
    first = _line(app)
    second = scope_line_add(
        actor=world.org_user,
        application=app,
        category=first.category,
        site=world.site2,
        wording="EPL at the second plant",
        standards=["ISO 9001:2015"],
    )
    _refused(
        lambda: _update(world, second, site=world.site), "application.duplicate_scope_line", app
    )


def test_a_line_is_checked_as_a_new_line_is(world: World) -> None:
    app = world.draft_application()
    line = _line(app)
    outsider = make_user("outsider")
    other = organization_create(
        actor=outsider, legal_name="Other Works", country="FR", registration_number="RCS 8"
    )
    elsewhere = site_create(
        actor=outsider, organization=other, name="Their plant", city="Lyon", country="FR"
    )
    _refused(lambda: _update(world, line, wording="  "), "invalid.required", app)
    _refused(lambda: _update(world, line, site=elsewhere), "application.site_not_own", app)
