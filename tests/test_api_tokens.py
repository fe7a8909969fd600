"""API tokens: who may issue one and for which place, what is stored, how a token is opened
and refused, and the API for integrators reaching exactly the token's place (the matrix of
every token against every other place's certificates and applications)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from apcert.accounts.api_tokens import (
    TOKEN_PREFIX,
    api_token_issue,
    api_token_open,
    api_token_revoke,
    api_tokens_visible_to,
    new_token_secret,
    places_to_issue_for,
    well_formed,
)
from apcert.accounts.errors import (
    API_TOKEN_ALREADY_REVOKED,
    API_TOKEN_EXPIRY_INVALID,
    API_TOKEN_INVALID,
    API_TOKEN_NAME_REQUIRED,
    API_TOKEN_NOT_ALLOWED,
    API_TOKEN_NOT_FOUND,
    API_TOKEN_SCOPE_INVALID,
)
from apcert.accounts.models import ApiToken
from apcert.applications.models import Application
from apcert.audit.models import AuditEvent
from apcert.bodies.models import CBStaff
from apcert.bodies.services import cb_staff_add
from apcert.core.errors import DomainError
from apcert.organizations.services import organization_member_add
from tests.factories import World, make_user

pytestmark = pytest.mark.django_db


def _admin_of_cb(world: World) -> Any:
    admin = make_user("cbadmin")
    cb_staff_add(actor=world.secretariat, cb=world.team.cb, user=admin, role="admin")
    return admin


def _refused(code: str, run: Any) -> None:
    before = (ApiToken.objects.count(), AuditEvent.objects.count())
    with pytest.raises(DomainError) as caught:
        run()
    assert caught.value.code == code
    assert (ApiToken.objects.count(), AuditEvent.objects.count()) == before


# --- the secret ------------------------------------------------------------------------------


def test_a_secret_has_the_prefix_and_a_checksum_that_catches_a_typo():
    secret = new_token_secret()
    assert secret.startswith(TOKEN_PREFIX) and len(secret) == 53
    assert well_formed(secret)
    # One character changed, anywhere after the prefix: refused without a query
    for i in range(len(TOKEN_PREFIX), len(secret)):
        changed = secret[:i] + ("A" if secret[i] != "A" else "B") + secret[i + 1 :]
        assert not well_formed(changed), i
    assert not well_formed(secret[:-1])
    assert not well_formed("ghp_" + secret[4:])
    assert not well_formed(secret.replace(secret[10], "-"))
    assert new_token_secret() != secret


# --- issuing ------------------------------------------------------------------------------------


def test_an_administrator_issues_a_token_for_their_place_and_only_a_hash_is_kept(world: World):
    admin = _admin_of_cb(world)
    made = api_token_issue(
        actor=admin, name="  Our CB  system ", place=world.team.cb, scope="write"
    )
    token = ApiToken.objects.get()
    assert made.token == token
    assert (token.name, token.cb, token.organization, token.scope) == (
        "Our CB system",
        world.team.cb,
        None,
        "write",
    )
    assert made.secret not in {token.token_hash, token.hint}
    assert made.secret.startswith(token.hint) and len(token.hint) == len(TOKEN_PREFIX) + 6
    assert token.expires_at - token.created_at == dt.timedelta(days=90)
    event = AuditEvent.objects.filter(action="api_token.issue").get()
    assert event.object_id == str(token.pk)
    assert made.secret not in str(event.after)
    # The organization's administrator (its creator) and the Secretariat issue theirs
    org_token = api_token_issue(actor=world.org_user, name="ERP", place=world.org, scope="read")
    assert org_token.token.organization == world.org
    sec = api_token_issue(actor=world.secretariat, name="Stats", place=None, scope="read")
    assert sec.token.place_label == "the Secretariat"


def test_only_an_administrator_of_the_place_may_issue_its_tokens(world: World):
    other = World.build(cb_code="NORD")
    admin = _admin_of_cb(world)
    # Staff of the CB who are not its administrators, the other CB's administrator, the
    # organization's admin for the CB, a CB admin for the Secretariat: all refused
    for actor, place in (
        (world.team.manager, world.team.cb),
        (world.team.decision_maker, world.team.cb),
        (admin, other.team.cb),
        (admin, world.org),
        (world.org_user, world.team.cb),
        (world.org_user, other.org),
        (admin, None),
        (world.org_user, None),
    ):
        _refused(
            API_TOKEN_NOT_ALLOWED,
            lambda a=actor, p=place: api_token_issue(actor=a, name="x", place=p, scope="read"),
        )
    # An administrator who has left the CB may not either
    CBStaff.objects.filter(user=admin).update(active=False)
    _refused(
        API_TOKEN_NOT_ALLOWED,
        lambda: api_token_issue(actor=admin, name="x", place=world.team.cb, scope="read"),
    )
    assert places_to_issue_for(admin) == []
    assert places_to_issue_for(world.secretariat)[0] is None
    assert places_to_issue_for(world.org_user) == [world.org]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"name": "  "}, API_TOKEN_NAME_REQUIRED),
        ({"name": "x" * 101}, API_TOKEN_NAME_REQUIRED),
        ({"scope": "admin"}, API_TOKEN_SCOPE_INVALID),
        ({"expires_in_days": 0}, API_TOKEN_EXPIRY_INVALID),
        ({"expires_in_days": 367}, API_TOKEN_EXPIRY_INVALID),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(world: World, fields: dict, code: str):
    values: dict[str, Any] = {"name": "ERP", "scope": "read", "expires_in_days": 30, **fields}
    _refused(code, lambda: api_token_issue(actor=world.org_user, place=world.org, **values))


# --- opening a token --------------------------------------------------------------------------


def test_a_token_opens_until_it_expires_is_revoked_or_its_issuer_loses_the_right(world: World):
    admin = _admin_of_cb(world)
    made = api_token_issue(
        actor=admin, name="x", place=world.team.cb, scope="read", expires_in_days=10
    )
    caller = api_token_open(secret=made.secret, address="127.0.0.1")
    assert (caller.user, caller.cb, caller.organization, caller.may_write) == (
        admin,
        world.team.cb,
        None,
        False,
    )
    token = ApiToken.objects.get()
    assert token.last_used_ip == "127.0.0.1" and token.last_used_at is not None
    # Unknown and malformed secrets, and a well-formed one never issued
    for secret in ("", "Bearer x", made.secret[:-1] + "?", new_token_secret()):
        _refused(API_TOKEN_INVALID, lambda s=secret: api_token_open(secret=s))
    # Expired
    with time_machine.travel(timezone.now() + dt.timedelta(days=10, seconds=1)):
        _refused(API_TOKEN_INVALID, lambda: api_token_open(secret=made.secret))
    # The issuer no longer administers the CB: refused; back in the role: accepted again
    CBStaff.objects.filter(user=admin).update(active=False)
    _refused(API_TOKEN_INVALID, lambda: api_token_open(secret=made.secret))
    CBStaff.objects.filter(user=admin).update(active=True)
    api_token_open(secret=made.secret)
    # An issuer whose account is closed
    admin.is_active = False
    admin.save(update_fields=["is_active"])
    _refused(API_TOKEN_INVALID, lambda: api_token_open(secret=made.secret))
    admin.is_active = True
    admin.save(update_fields=["is_active"])
    # Revoked
    api_token_revoke(actor=admin, token=token)
    _refused(API_TOKEN_INVALID, lambda: api_token_open(secret=made.secret))


def test_who_may_revoke_and_see_a_token(world: World):
    other = World.build(cb_code="NORD")
    admin = _admin_of_cb(world)
    second_admin = _admin_of_cb(world)
    made = api_token_issue(actor=admin, name="x", place=world.team.cb, scope="read")
    # Not the other CB's people, not the CB's non-admin staff
    for outsider in (other.team.manager, world.team.manager, world.org_user):
        assert made.token not in api_tokens_visible_to(outsider)
        _refused(
            API_TOKEN_NOT_FOUND, lambda o=outsider: api_token_revoke(actor=o, token=made.token)
        )
    assert made.token in api_tokens_visible_to(second_admin)
    assert made.token in api_tokens_visible_to(world.secretariat)
    revoked = api_token_revoke(actor=second_admin, token=made.token)
    assert (revoked.revoked_by, revoked.active) == (second_admin, False)
    assert AuditEvent.objects.filter(action="api_token.revoke").count() == 1
    _refused(API_TOKEN_ALREADY_REVOKED, lambda: api_token_revoke(actor=admin, token=made.token))


# --- the API for integrators --------------------------------------------------------------------


def _get(client: Client, path: str, secret: str | None) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    return client.get(f"/api/v1/{path}", **headers)


def test_the_api_refuses_a_request_without_a_valid_token_with_401(world: World, client: Client):
    made = api_token_issue(actor=world.org_user, name="ERP", place=world.org, scope="read")
    for secret in (None, "nonsense", new_token_secret()):
        response = _get(client, "token", secret)
        assert response.status_code == 401, secret
        assert response.json()["code"] == API_TOKEN_INVALID
        assert response["WWW-Authenticate"].startswith("Bearer")
    response = _get(client, "token", made.secret)
    assert response.status_code == 200
    body = response.json()
    assert body["place"] == {
        "kind": "organization",
        "id": world.org.pk,
        "code": None,
        "name": world.org.legal_name,
    }
    assert (body["scope"], body["hint"], body["issued_by"]) == (
        "read",
        made.token.hint,
        world.org_user.username,
    )
    # A session does not stand in for a token
    client.force_login(world.org_user)
    assert _get(client, "token", None).status_code == 401


@pytest.fixture
def places(world: World) -> dict[str, Any]:
    """Two CBs, each with a client organization holding a certificate and an application,
    and a token for each CB, each organization and the Secretariat."""
    other = dataclasses.replace(World.build(cb_code="NORD"))
    certificates = {"A": world.granted(), "B": other.granted()}
    applications = {"A": world.draft_application(), "B": other.draft_application()}
    admin_a, admin_b = _admin_of_cb(world), _admin_of_cb(other)
    # People with a foot in both sides: a token still reads only the place it was issued
    # for, not everything its issuer may see
    organization_member_add(
        actor=other.org_user, organization=other.org, user=world.org_user, role="member"
    )
    cb_staff_add(actor=world.secretariat, cb=other.team.cb, user=admin_a, role="assessor")
    tokens = {
        "cb A": api_token_issue(actor=admin_a, name="a", place=world.team.cb, scope="read"),
        "cb B": api_token_issue(actor=admin_b, name="b", place=other.team.cb, scope="read"),
        "org A": api_token_issue(actor=world.org_user, name="a", place=world.org, scope="read"),
        "org B": api_token_issue(actor=other.org_user, name="b", place=other.org, scope="read"),
        "secretariat": api_token_issue(actor=world.secretariat, name="s", place=None, scope="read"),
    }
    return {"certificates": certificates, "applications": applications, "tokens": tokens}


#: Which side's records each token may read.
REACH = {
    "cb A": {"A"},
    "cb B": {"B"},
    "org A": {"A"},
    "org B": {"B"},
    "secretariat": {"A", "B"},
}


def test_each_token_reads_its_place_and_nothing_of_another(places: dict[str, Any], client: Client):
    certificates, applications = places["certificates"], places["applications"]
    crossed = 0
    for name, made in places["tokens"].items():
        listed = _get(client, "certificates", made.secret).json()["items"]
        assert {c["number"] for c in listed} == {
            certificates[side].number for side in REACH[name]
        }, name
        for side, certificate in certificates.items():
            response = _get(client, f"certificates/{certificate.number}", made.secret)
            expected = 200 if side in REACH[name] else 404
            assert response.status_code == expected, (name, side)
            crossed += expected == 404
        listed_apps = _get(client, "applications", made.secret).json()["items"]
        # The applications of the token's place: made to the CB, made by the organization
        caller = api_token_open(secret=made.secret)
        place = Application.objects.all()
        if caller.cb is not None:
            place = place.filter(cb=caller.cb)
        elif caller.organization is not None:
            place = place.filter(organization=caller.organization)
        expected_apps = set(place.values_list("pk", flat=True))
        assert {a["id"] for a in listed_apps} == expected_apps, name
        sides = {s for s, app in applications.items() if app.pk in expected_apps}
        assert sides == REACH[name], name
    assert crossed == 4  # each CB and organization token refused the other side's certificate


def test_a_list_pages_by_id_and_refuses_a_bad_page(places: dict[str, Any], client: Client):
    secret = places["tokens"]["secretariat"].secret
    first = _get(client, "certificates?limit=1", secret).json()
    assert len(first["items"]) == 1 and first["next_after"] == first["items"][0]["id"]
    second = _get(client, f"certificates?limit=1&after={first['next_after']}", secret).json()
    assert second["items"][0]["id"] > first["items"][0]["id"]
    assert second["next_after"] is None
    for query in ("limit=0", "limit=101", "after=-1", "limit=x"):
        response = _get(client, f"certificates?{query}", secret)
        assert response.status_code in (400, 422), query
        assert response.json()["code"] == "invalid"


def test_the_integrations_document_is_valid_openapi_committed_and_served_without_a_token(
    client: Client,
):
    import json

    from openapi_spec_validator import validate

    from apcert.api.openapi import COMMITTED_PATHS, openapi_text

    served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200
    document = served.json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert json.loads(COMMITTED_PATHS["integrations"].read_text(encoding="utf-8")) == document, (
        "docs/openapi-integrations.json is out of date: run `apcert export-openapi`."
    )
    assert COMMITTED_PATHS["integrations"].read_text(encoding="utf-8") == openapi_text(
        "integrations"
    )
    # Every operation says it needs the bearer token
    schemes = document["components"]["securitySchemes"]
    assert [s["scheme"] for s in schemes.values()] == ["bearer"]
    for path_item in document["paths"].values():
        for operation in path_item.values():
            assert operation["security"], operation["operationId"]


# --- writes ---------------------------------------------------------------------------------


@pytest.fixture
def submitted(world: World) -> Any:
    from apcert.applications.services import application_submit
    from tests.factories import DAY0

    app = world.draft_application()
    return application_submit(actor=world.org_user, application=app, on=DAY0)


def _post(client: Client, path: str, secret: str, body: dict | None = None, **headers: str) -> Any:
    import json

    meta = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    meta.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    return client.post(
        f"/api/v1/{path}",
        data=json.dumps(body if body is not None else {}),
        content_type="application/json",
        **meta,
    )


def test_a_write_needs_the_write_scope_and_is_audited_with_the_token(
    world: World, submitted: Any, client: Client
):
    admin = _admin_of_cb(world)
    reader = api_token_issue(actor=admin, name="r", place=world.team.cb, scope="read")
    writer = api_token_issue(actor=admin, name="w", place=world.team.cb, scope="write")
    events = AuditEvent.objects.count()
    refused = _post(client, f"applications/{submitted.pk}/accept", reader.secret)
    assert (refused.status_code, refused.json()["code"]) == (403, "api_token.write_scope_required")
    submitted.refresh_from_db()
    assert submitted.status == "submitted" and AuditEvent.objects.count() == events
    accepted = _post(client, f"applications/{submitted.pk}/accept", writer.secret)
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["status"] == "accepted"
    event = AuditEvent.objects.filter(action__startswith="application.").latest("seq")
    assert event.actor_id == admin.pk
    assert (
        event.actor_label
        == f"{admin.label} with API token {writer.token.pk} ({writer.token.hint}…)"
    )
    # Another CB's token finds no such application; the refusal of the rules is problem JSON
    other = World.build(cb_code="NORD")
    other_writer = api_token_issue(
        actor=_admin_of_cb(other), name="w", place=other.team.cb, scope="write"
    )
    crossed = _post(
        client, f"applications/{submitted.pk}/reject", other_writer.secret, {"reason": "no"}
    )
    assert (crossed.status_code, crossed.json()["code"]) == (404, "application.not_found")
    again = _post(client, f"applications/{submitted.pk}/accept", writer.secret)
    assert again.status_code == 409
    # The organization's own write token may not accept its application: CB staff do
    org_writer = api_token_issue(actor=world.org_user, name="w", place=world.org, scope="write")
    app = world.draft_application()
    from apcert.applications.services import application_submit
    from tests.factories import DAY0

    application_submit(actor=world.org_user, application=app, on=DAY0)
    assert _post(client, f"applications/{app.pk}/accept", org_writer.secret).status_code == 403


def test_a_retried_write_with_the_same_idempotency_key_writes_once(
    world: World, submitted: Any, client: Client
):
    admin = _admin_of_cb(world)
    writer = api_token_issue(actor=admin, name="w", place=world.team.cb, scope="write")
    path = f"applications/{submitted.pk}/reject"
    events = AuditEvent.objects.count()
    first = _post(client, path, writer.secret, {"reason": "Out of scope"}, idempotency_key="k-1")
    assert first.status_code == 200 and "Idempotent-Replayed" not in first
    retry = _post(client, path, writer.secret, {"reason": "Out of scope"}, idempotency_key="k-1")
    assert (retry.status_code, retry.json()) == (200, first.json())
    assert retry["Idempotent-Replayed"] == "true"
    assert AuditEvent.objects.count() == events + 1
    # The same key with another request is refused, and changes nothing
    other = _post(client, path, writer.secret, {"reason": "Other words"}, idempotency_key="k-1")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency.key_reused")
    # A key of another token is another key
    second = api_token_issue(actor=admin, name="w2", place=world.team.cb, scope="write")
    events = AuditEvent.objects.count()
    replay = _post(client, path, second.secret, {"reason": "Out of scope"}, idempotency_key="k-1")
    assert replay.status_code == 409  # run anew: the application is rejected already
    assert AuditEvent.objects.count() == events
    # A refusal is kept too: its retry answers the same without running again
    no_reason = _post(client, path, writer.secret, {"reason": ""}, idempotency_key="k-2")
    assert no_reason.status_code in (400, 409)
    assert _post(client, path, writer.secret, {"reason": ""}, idempotency_key="k-2").json() == (
        no_reason.json()
    )
    for bad in ("", "x" * 201, "tab\there"):
        response = _post(client, path, writer.secret, {"reason": "x"}, idempotency_key=bad)
        assert response.status_code == 400, repr(bad)
        if bad:  # (an empty header is no header)
            assert response.json()["code"] == "idempotency.key_invalid"


def test_a_write_whose_process_died_before_commit_left_nothing_and_its_retry_writes_once(
    world: World, submitted: Any, client: Client, monkeypatch
):
    from apcert.api.models import IdempotentWrite

    admin = _admin_of_cb(world)
    writer = api_token_issue(actor=admin, name="w", place=world.team.cb, scope="write")
    path = f"applications/{submitted.pk}/accept"
    events = AuditEvent.objects.count()
    real_save = IdempotentWrite.save

    def dies(self: Any, *args: Any, **kwargs: Any) -> None:
        # The change is made and the answer about to be kept: the process dies here
        raise KeyboardInterrupt

    monkeypatch.setattr(IdempotentWrite, "save", dies)
    with pytest.raises(KeyboardInterrupt):
        _post(client, path, writer.secret, idempotency_key="crash-1")
    submitted.refresh_from_db()
    assert submitted.status == "submitted"
    assert AuditEvent.objects.count() == events
    assert not IdempotentWrite.objects.exists()
    monkeypatch.setattr(IdempotentWrite, "save", real_save)
    retried = _post(client, path, writer.secret, idempotency_key="crash-1")
    assert retried.status_code == 200 and retried.json()["status"] == "accepted"
    assert _post(client, path, writer.secret, idempotency_key="crash-1").json() == retried.json()
    assert AuditEvent.objects.count() == events + 1


def test_each_token_has_its_own_rate_limit(world: World, client: Client):
    from django.test import override_settings

    first = api_token_issue(actor=world.org_user, name="a", place=world.org, scope="read")
    second = api_token_issue(actor=world.org_user, name="b", place=world.org, scope="read")
    with override_settings(API_TOKEN_RATE_LIMIT=2, API_TOKEN_RATE_WINDOW=3600):
        assert [_get(client, "token", first.secret).status_code for _ in range(2)] == [200, 200]
        refused = _get(client, "token", first.secret)
        assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
        assert int(refused["Retry-After"]) >= 1
        # Another token is counted apart, and a request without a valid token is a 401
        assert _get(client, "token", second.secret).status_code == 200
        assert _get(client, "token", new_token_secret()).status_code == 401
    with override_settings(API_TOKEN_RATE_LIMIT=0):
        assert all(_get(client, "token", first.secret).status_code == 200 for _ in range(5))


@pytest.mark.postgres_only
def test_the_same_write_sent_twice_at_once_with_one_key_is_done_once(live_world: World):
    import threading

    from django.db import connection, connections

    from apcert.applications.services import application_submit
    from tests.factories import DAY0

    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections with row locks (PostgreSQL)")
    world = live_world
    admin = _admin_of_cb(world)
    writer = api_token_issue(actor=admin, name="w", place=world.team.cb, scope="write")
    app = application_submit(actor=world.org_user, application=world.draft_application(), on=DAY0)
    events = AuditEvent.objects.count()
    barrier = threading.Barrier(4)
    answers: list[tuple[int, Any, str | None]] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            barrier.wait(timeout=10)
            response = _post(
                Client(), f"applications/{app.pk}/accept", writer.secret, idempotency_key="race"
            )
            answers.append(
                (response.status_code, response.json(), response.get("Idempotent-Replayed"))
            )
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    # One was carried out; the others waited for it and got its answer
    assert sorted(a[2] or "" for a in answers) == ["", "true", "true", "true"]
    assert {a[0] for a in answers} == {200}
    assert all(a[1] == answers[0][1] for a in answers), answers
    app.refresh_from_db()
    assert app.status == "accepted"
    assert AuditEvent.objects.count() == events + 1


def test_the_command_issues_as_the_back_office_does_and_refuses_clearly(world: World):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out, err = StringIO(), StringIO()
    call_command(
        "api-token-issue", "--by", world.org_user.username, "--for", f"org:{world.org.pk}",
        "--scope", "write", "--days", "7", stdout=out, stderr=err,
    )  # fmt: skip
    secret = out.getvalue().strip()
    assert well_formed(secret) and "\n" not in secret
    caller = api_token_open(secret=secret)
    assert (caller.organization, caller.may_write) == (world.org, True)
    assert secret not in err.getvalue() and caller.token.hint in err.getvalue()
    for args, words in (
        (["--by", "nobody", "--for", "secretariat"], "no account"),
        (["--by", world.org_user.username, "--for", "cb:NOPE"], "no CB"),
        (["--by", world.org_user.username, "--for", "org:999999"], "no organization"),
        (["--by", world.org_user.username, "--for", "elsewhere"], "secretariat, cb:"),
        (["--by", world.org_user.username, "--for", "secretariat"], API_TOKEN_NOT_ALLOWED),
        (["--by", world.org_user.username, "--for", f"org:{world.org.pk}", "--days", "0"],
         API_TOKEN_EXPIRY_INVALID),
    ):  # fmt: skip
        before = ApiToken.objects.count()
        with pytest.raises(CommandError, match=words):
            call_command("api-token-issue", *args, stdout=StringIO(), stderr=StringIO())
        assert ApiToken.objects.count() == before
