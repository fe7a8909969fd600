"""The whole path from application to a granted certificate, through the services."""

from __future__ import annotations

import re

import pytest

from apcert.audit.models import AuditEvent
from apcert.audit.selectors import audit_chain_verify
from tests.factories import World

pytestmark = pytest.mark.django_db


def test_given_a_clean_assessment_when_granted_then_certificate_is_current(world: World) -> None:
    cert = world.granted()

    assert cert.status == "current"
    assert re.fullmatch(rf"IECQ-A {world.team.cb.code} 26\.0001", cert.number)
    assert cert.current_issue_number == 1
    issue = cert.issues.get()
    assert issue.holder["name"] == world.org.legal_name
    assert issue.scope_lines[0]["category"] == "EPL"
    assert issue.standards == [
        {"designation": "ISO 9001", "edition": "2015", "title": issue.standards[0]["title"]}
    ]
    assert cert.status_changes.get().to_status == "current"
    assert AuditEvent.objects.filter(action="certificate.grant").count() == 1
    assert audit_chain_verify().ok
