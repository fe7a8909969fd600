"""What the tests of the CB workflow over the API for integrators share: a call with a
token, a token of each of the CB's people, and the assertions of a refusal that changed
nothing."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from apcert.accounts.api_tokens import api_token_issue
from apcert.audit.models import AuditEvent
from apcert.bodies.services import cb_staff_add
from tests.factories import World


def call(
    client: Client, method: str, path: str, secret: str, body: Any = None, **headers: str
) -> Any:
    meta = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    meta.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    if method == "get":
        return client.get(f"/api/v1/{path}", **meta)
    return client.post(
        f"/api/v1/{path}",
        data=json.dumps(body if body is not None else {}),
        content_type="application/json",
        **meta,
    )


def tokens(world: World, scope: str = "write") -> dict[str, str]:
    """A token of each of the CB's people, issued by them as administrators of the CB too
    (an administrator holds every role of the CB, so only the rules of the team tell
    them apart), and one of the organization's administrator."""
    team = world.team
    out = {}
    for name in ("manager", "lead", "decision_maker", "decision_maker2"):
        person = getattr(team, name)
        cb_staff_add(actor=world.secretariat, cb=team.cb, user=person, role="admin")
        out[name] = api_token_issue(actor=person, name=name, place=team.cb, scope=scope).secret
    out["org"] = api_token_issue(
        actor=world.org_user, name="erp", place=world.org, scope=scope
    ).secret
    return out


def refused(response: Any, status: int, code: str) -> None:
    assert (response.status_code, response.json()["code"]) == (status, code), response.json()


def unchanged(run: Any) -> Any:
    """Run ``run`` and assert that it wrote no audit event (so no change)."""
    before = AuditEvent.objects.count()
    result = run()
    assert AuditEvent.objects.count() == before
    return result


#: A body every write of the workflow parses (each takes the fields it knows).
VALID = {
    "start_date": "2026-03-01",
    "end_date": "2026-03-02",
    "team": [],
    "kind": "surveillance",
    "reason": "x",
    "reason_category": "complaint",
    "grade": "minor",
    "requirement_kind": "iso9001",
    "requirement_ref": "8.5",
    "description": "x",
    "decision": "grant",
    "until": "2026-04-01",
    "outcome": "verify",
    "remove": [],
    "site_id": 1,
    "correction": "x",
    "root_cause": "x",
    "action": "x",
    "change": "holder_renamed",
}
