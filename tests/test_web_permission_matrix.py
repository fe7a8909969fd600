"""The permission matrix of the back office: every role against every view under
/office/, by GET and, where the view takes one, by POST with a valid-looking payload.

One world holds every object an address can name: two CBs (A and B) with staff in every
role, an organization client of each with an administrator and a member, applications in
the states the screens act on, an assessment with findings and an answered corrective action
with an evidence file, a certificate of each CB, invitations, the Secretariat, an inactive
user and an anonymous visitor. Addresses always name the objects of CB A and organization A,
so that the staff of CB B and the users of organization B try another tenant's objects by id.

The routes are read from the resolver: a view added under /office/ without a row here fails
``test_every_office_route_is_in_the_matrix``. Each (route, role, method) is a test of its own
in its own transaction; the world is built once for the module.

Outcomes: "ok" (2xx, or a redirect anywhere but to the sign-in page asking to sign in),
"login" (that redirect), or the exact status of the refusal. A server error is never one.
A refused POST writes nothing (the audit log does not grow).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponseBase
from django.test import Client, TestCase, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from apcert.accounts.api_tokens import api_token_issue
from apcert.accounts.models import User
from apcert.accounts.services import calendar_feed_create, invitation_accept, invitation_create
from apcert.applications.services import application_submit
from apcert.assessments.evidence import evidence_attach
from apcert.assessments.services import assessment_plan
from apcert.audit.models import AuditEvent
from apcert.bodies.models import CBAcceptance
from apcert.bodies.services import cb_staff_add
from apcert.certificates.services import (
    certificate_grant,
    certificate_publication_return,
    certificate_suspend,
)
from apcert.imports.services import import_batch_check, import_upload
from apcert.notifications.selectors import messages_for
from apcert.organizations.services import organization_member_add, site_move
from apcert.schemes.models import ProcessCategory, Programme, Standard
from apcert.schemes.services import scheme_publication_review_set
from apcert.webhooks.choices import DeliveryState
from apcert.webhooks.models import WebhookDelivery
from apcert.webhooks.services import webhook_subscribe
from tests.conftest import _ensure_reference
from tests.factories import DAY0, World, make_user
from tests.import_support import csv_file, row

pytestmark = pytest.mark.django_db

Outcome = str | int

# --- the roles ------------------------------------------------------------------------------

ANONYMOUS, INACTIVE, SECRETARIAT = "anonymous", "inactive", "secretariat"
CB_ROLES = ("admin", "manager", "lead", "assessor", "expert", "decider")
A = frozenset(f"a_{r}" for r in CB_ROLES)
B = frozenset(f"b_{r}" for r in CB_ROLES)
OA = frozenset({"orga_admin", "orga_member"})
OB = frozenset({"orgb_admin", "orgb_member"})
SEC = frozenset({SECRETARIAT})
SIGNED_OUT = frozenset({ANONYMOUS, INACTIVE})
ROLES = (
    ANONYMOUS,
    INACTIVE,
    SECRETARIAT,
    *sorted(A),
    *sorted(B),
    *sorted(OA),
    *sorted(OB),
)
SIGNED_IN = frozenset(ROLES) - SIGNED_OUT
ADMINS = frozenset({SECRETARIAT, "a_admin", "b_admin", "orga_admin", "orgb_admin"})

PASSWORD = "x-Long-password-1"  # tests.factories.make_user
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
TODAY = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def expect(
    default: Outcome, *pairs: tuple[Iterable[str], Outcome], signed_out: Outcome = "login"
) -> dict[str, Outcome]:
    """Every role's outcome: ``default`` for the signed-in, ``signed_out`` for the anonymous
    visitor and the inactive user (whose session no longer signs them in), then each
    (roles, outcome) pair over those."""
    table: dict[str, Outcome] = {role: default for role in SIGNED_IN}
    table.update({role: signed_out for role in SIGNED_OUT})
    for roles, outcome in pairs:
        table.update({role: outcome for role in roles})
    return table


def everyone(outcome: Outcome) -> dict[str, Outcome]:
    return expect(outcome, signed_out=outcome)


# --- the world --------------------------------------------------------------------------------


@dataclass
class Matrix:
    """The objects the addresses name (those of CB A and organization A) and the users."""

    users: dict[str, User]
    ids: dict[str, int] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    #: Each role's session key, signed in once for the module (a test's changes to it are
    #: rolled back with the rest).
    sessions: dict[str, str] = field(default_factory=dict)


class _ModuleAtomic(TestCase):
    """Django's own way to keep data for many tests (as ``setUpTestData``): an outer atomic
    block per database, marked as a test case's so that the durable blocks of the services
    (evidence_attach) may run inside it, rolled back at the end."""

    databases = {"default"}


def _build() -> Matrix:
    _ensure_reference()
    a = World.build(cb_code="MXA")
    b = World.build(cb_code="MXB")
    sec = a.secretariat
    users: dict[str, User] = {SECRETARIAT: sec}
    for prefix, world in (("a", a), ("b", b)):
        t = world.team
        admin = make_user(f"{prefix}admin")
        cb_staff_add(actor=sec, cb=t.cb, user=admin, role="admin")
        expert = make_user(f"{prefix}expert")
        cb_staff_add(actor=sec, cb=t.cb, user=expert, role="assessor")
        member = make_user(f"{prefix}member")
        organization_member_add(actor=world.org_user, organization=world.org, user=member)
        users.update(
            {
                f"{prefix}_admin": admin,
                f"{prefix}_manager": t.manager,
                f"{prefix}_lead": t.lead,
                f"{prefix}_assessor": t.assessor,
                f"{prefix}_expert": expert,
                f"{prefix}_decider": t.decision_maker,
                f"org{prefix}_admin": world.org_user,
                f"org{prefix}_member": member,
            }
        )
    inactive = make_user("inactive")
    cb_staff_add(actor=sec, cb=a.team.cb, user=inactive, role="admin")
    organization_member_add(actor=a.org_user, organization=a.org, user=inactive, role="admin")
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    inactive.refresh_from_db()
    users[INACTIVE] = inactive

    def team(w: World, expert: User) -> list[tuple[User, str]]:
        return [(w.team.lead, "lead"), (w.team.assessor, "member"), (expert, "technical_expert")]

    # CB B's certificate, its team with the expert (they are on a team, but not on A's).
    b_app = b.accepted_application()
    b_assessment = b.assessment(b_app, findings=("major",), team=team(b, users["b_expert"]))
    b.resolve_findings(b_assessment)
    certificate_grant(
        actor=b.team.decision_maker,
        application=b_app,
        assessment=b_assessment,
        decided_on=b_assessment.end_date + dt.timedelta(days=40),
    )

    # CB A and organization A: one application in each state the screens act on.
    draft = a.draft_application()
    submitted = application_submit(actor=a.org_user, application=a.draft_application(), on=DAY0)
    accepted = a.accepted_application()
    planned = assessment_plan(
        actor=a.team.manager,
        kind="initial",
        application=a.accepted_application(),
        start_date=DAY0 + dt.timedelta(days=60),
        end_date=DAY0 + dt.timedelta(days=61),
        team=team(a, users["a_expert"]),
    )
    in_progress = a.assessment(
        a.accepted_application(),
        start=DAY0 + dt.timedelta(days=30),
        findings=("major", "minor"),
        report=False,
        team=team(a, users["a_expert"]),
    )
    major = in_progress.findings.get(grade="major")
    minor = in_progress.findings.get(grade="minor")
    answer = a.answer(major)
    evidence = evidence_attach(
        actor=a.org_user,
        corrective_action=answer,
        upload=SimpleUploadedFile("checklist.pdf", PDF, content_type="application/pdf"),
    )
    ready = a.assessment(
        a.accepted_application(),
        start=DAY0 + dt.timedelta(days=20),
        findings=("major", "minor"),
        team=team(a, users["a_expert"]),
    )
    a.resolve_findings(ready)
    certificate = a.granted()
    # A certificate suspended (to restore) and one at two sites (to reduce, remove a site).
    suspended_cert = certificate_suspend(
        actor=a.team.decision_maker,
        certificate=a.granted(),
        reason_category="complaint",
        reason="Complaint",
        decided_on=TODAY.date() - dt.timedelta(days=30),
    )
    two_site_cert = a.granted_at_two_sites()
    # The certified site has moved since: a change the certificate may be re-issued for.
    site_move(
        actor=sec, site=a.site, address="5 New Street", city=a.site.city, country=a.site.country
    )
    # With the Secretariat's review before publication on: one certificate awaiting it, one
    # returned to CB A.
    scheme_publication_review_set(actor=sec, scheme=a.scheme, enabled=True)
    pending_cert = a.granted()
    returned_cert = a.granted()
    certificate_publication_return(actor=sec, certificate=returned_cert, reason="Too broad")

    invited = invitation_create(
        actor=sec, email="new@plating.example", organization=a.org, org_role="member"
    )
    used = invitation_create(
        actor=sec, email="used@plating.example", organization=a.org, org_role="member"
    )
    invitation_accept(token=used.token, username="usedone", full_name="Used One", password=PASSWORD)
    resettee = make_user("resettee", email="resettee@plating.example")
    # A calendar feed for everyone the CB section is for (so that each may stop theirs); CB
    # A's lead has made a second address, which revoked the first.
    stopped_feed = calendar_feed_create(actor=users["a_lead"]).token
    feeds = {role: calendar_feed_create(actor=users[role]).token for role in A | B | SEC}
    # An API token of CB A, issued by its administrator.
    api_token = api_token_issue(
        actor=users["a_admin"], name="Matrix", place=a.team.cb, scope="read"
    ).token
    # A webhook of CB A, made by its administrator, with one delivered event in its log.
    webhook = webhook_subscribe(
        actor=users["a_admin"],
        place=a.team.cb,
        name="Matrix",
        url="http://127.0.0.1:9/hooks",
        event_types=["certificate.suspended"],
    ).subscription
    delivered = WebhookDelivery.objects.create(
        subscription=webhook,
        message_id="msg_matrix",
        event_type="certificate.suspended",
        audit_seq=1,
        subject=f"certificate:{suspended_cert.number}",
        body="{}",
        state=DeliveryState.DELIVERED,
        next_attempt_at=TODAY,
        delivered_at=TODAY,
    )

    # A register file of CB A uploaded by its scheme manager and checked without problems.
    batch = import_upload(
        actor=a.team.manager,
        data=csv_file([row(a.team.cb.code, 9001)]),
        file_name="register.csv",
        cb=a.team.cb,
    )
    import_batch_check(batch=batch)

    matrix = Matrix(users=users)
    matrix.ids.update(
        import_batch=batch.pk,
        cb=a.team.cb.pk,
        org=a.org.pk,
        site=a.site2.pk,
        draft=draft.pk,
        draft_line=draft.scope_lines.get().pk,
        submitted=submitted.pk,
        accepted=accepted.pk,
        planned=planned.pk,
        in_progress=in_progress.pk,
        ready=ready.pk,
        open_finding=minor.pk,
        answered_finding=major.pk,
        answer=answer.pk,
        evidence=evidence.pk,
        certificate=certificate.pk,
        suspended_cert=suspended_cert.pk,
        two_site_cert=two_site_cert.pk,
        site2=a.site2.pk,
        moved_site=a.site.pk,
        pending_cert=pending_cert.pk,
        returned_cert=returned_cert.pk,
        acceptance=CBAcceptance.objects.get(cb=a.team.cb, programme__code="AP").pk,
        lead=a.team.lead.pk,
        b_lead=b.team.lead.pk,
        assessor=a.team.assessor.pk,
        scheme=a.scheme.pk,
        programme=a.programme.pk,
        ecmp=Programme.objects.get(code="AP-ECMP").pk,
        epl=ProcessCategory.objects.get(code="EPL").pk,
        iso9001=Standard.objects.get(designation="ISO 9001", edition="2015").pk,
        # A message to organization A's member (its application was accepted): theirs only.
        message=messages_for(users["orga_member"]).order_by("pk")[0].pk,
        api_token=api_token.pk,
        webhook=webhook.pk,
        delivery=delivered.pk,
    )
    matrix.text.update(
        invitation=invited.token,
        used_invitation=used.token,
        reset_uid=urlsafe_base64_encode(force_bytes(resettee.pk)),
        reset_token=default_token_generator.make_token(resettee),
        reset_email=str(resettee.email),
        ready_decided_on=(ready.end_date + dt.timedelta(days=40)).isoformat(),
        certificate_number=certificate.number,
        ready_report_corrected=(ready.end_date + dt.timedelta(days=1)).isoformat(),
        sign_in=users["orga_member"].username,
        feed=feeds["a_lead"],
        stopped_feed=stopped_feed,
        cb_code=a.team.cb.code,
    )
    for role, user in users.items():
        signed_in = Client()
        signed_in.force_login(user)
        matrix.sessions[role] = signed_in.cookies[settings.SESSION_COOKIE_NAME].value
    return matrix


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[Matrix]:
    evidence_dir = tmp_path_factory.mktemp("evidence")
    with (
        time_machine.travel(TODAY, tick=False),
        override_settings(
            EVIDENCE_DIR=evidence_dir,
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        ),
        django_db_blocker.unblock(),
    ):
        atomics = _ModuleAtomic._enter_atomics()  # type: ignore[attr-defined]
        try:
            yield _build()
        finally:
            _ModuleAtomic._rollback_atomics(atomics)  # type: ignore[attr-defined]


# --- the matrix -------------------------------------------------------------------------------

Ids = Matrix
Data = Callable[[Ids], dict[str, Any]]


@dataclass(frozen=True)
class Url:
    """The address of route ``name``: ``keys`` are ``argument=id`` pairs from the world's ids
    (the objects of CB A and organization A), ``text`` arguments from its texts (tokens)."""

    name: str
    keys: tuple[str, ...] = ()
    text: tuple[tuple[str, str], ...] = ()
    #: A query string, e.g. a list's export (``export=csv``).
    query: tuple[tuple[str, str], ...] = ()

    @property
    def names_an_object(self) -> bool:
        return bool(self.keys)

    def __call__(self, w: Ids) -> str:
        kwargs: dict[str, Any] = {}
        for key in self.keys:
            argument, _, id_name = key.partition("=")
            kwargs[argument] = w.ids[id_name]
        kwargs.update({k: w.text.get(v, v) for k, v in self.text})
        path = reverse(self.name, kwargs=kwargs)
        return f"{path}?{urlencode(self.query)}" if self.query else path


@dataclass(frozen=True)
class Route:
    """One row: a route by its name, its address in the world, what each role gets."""

    name: str
    url: Url
    get: dict[str, Outcome]
    post: dict[str, Outcome] | None = None
    data: Data | None = None
    variant: str = ""

    @property
    def label(self) -> str:
        return f"{self.name}[{self.variant}]" if self.variant else self.name


def u(name: str, *keys: str, **text: str) -> Url:
    return Url(name, keys, tuple(text.items()))


def with_query(url: Url, **query: str) -> Url:
    """``url`` with a query string."""
    return Url(url.name, url.keys, url.text, tuple(query.items()))


def exports(name: str, url: Url, table: dict[str, Outcome]) -> list[Route]:
    """A list's CSV and XLSX exports: the same door as the list's page."""
    return [
        Route(name, with_query(url, export=fmt), table, variant=f"export-{fmt}")
        for fmt in ("csv", "xlsx")
    ]


def none(_: Ids) -> dict[str, Any]:
    return {}


#: A view that takes POST only, by GET: the method is refused before anything else.
POST_ONLY_GET = expect(405)

# CB section: objects read through the CB staff selectors (CB A's staff and the Secretariat
# see them; anyone else gets a 404), actions decided by the services (403 for a role short).
CB_SEES = expect(404, (A | SEC, "ok"))
# The lists of the CB section: a CB's staff and the Secretariat; anyone else is refused.
CB_LIST = expect(403, (A | B | SEC, "ok"))


def cb_action(*allowed: str) -> dict[str, Outcome]:
    return expect(404, (A | SEC, 403), (allowed, "ok"))


# Organization section: objects read through the organization users' selectors
# (organization A's users and the Secretariat see them; anyone else a 404); actions by
# organization A's users only (the Secretariat sees but may not act: 403).
ORG_SEES = expect(404, (OA | SEC, "ok"))
ORG_ACTS = expect(404, (SEC, 403), (OA, "ok"))
SEC_ONLY = expect(403, (SEC, "ok"))
#: The import screens: the Secretariat and each CB's scheme manager and administrator; an
#: import of CB A is CB A's (another CB's importer gets the same 404 as for anything else).
IMPORTERS = SEC | {"a_admin", "a_manager", "b_admin", "b_manager"}
IMPORT_PAGE = expect(403, (IMPORTERS, "ok"))
IMPORT_OF_A = expect(403, (IMPORTERS, 404), (SEC | {"a_admin", "a_manager"}, "ok"))
# Evidence: served to those who may see the file, 404 to anyone else (views_evidence).
EVIDENCE = expect(404, (A | OA | SEC, "ok"))

# A decision on a certificate of CB A: its decision makers (its administrator holds the role).
DECIDES = cb_action("a_admin", "a_decider")
TODAY_ISO = TODAY.date().isoformat()

#: Each decision on a certificate: its address, the certificate it is taken on, its form.
DECISIONS: list[tuple[str, str, Data]] = [
    (
        "suspend",
        "certificate",
        lambda w: {"reason_category": "misuse", "reason": "Mark misused", "decided_on": TODAY_ISO},
    ),
    ("restore", "suspended_cert", lambda w: {"reason": "Resolved", "decided_on": TODAY_ISO}),
    (
        "withdraw",
        "certificate",
        lambda w: {"reason_category": "unpaid_fees", "reason": "Unpaid", "decided_on": TODAY_ISO},
    ),
    ("cancel", "certificate", lambda w: {"reason": "Holder's letter", "decided_on": TODAY_ISO}),
    (
        "reduce-scope",
        "two_site_cert",
        lambda w: {"remove": [f"PWB:{w.ids['site2']}"], "reason": "x", "decided_on": TODAY_ISO},
    ),
    (
        "remove-site",
        "two_site_cert",
        lambda w: {"site": str(w.ids["site2"]), "reason": "Sold", "decided_on": TODAY_ISO},
    ),
    (
        "reissue",
        "certificate",
        lambda w: {"change": f"site_moved:{w.ids['moved_site']}", "decided_on": TODAY_ISO},
    ),
]


def confirmed(slug: str, cert_key: str, data: Data) -> Data:
    """The confirmation of a decision, as its confirmation page carries it: the form's data
    and the digest of what the decision maker saw (read from that page, shown to CB A's
    decision maker)."""

    def post(w: Ids) -> dict[str, Any]:
        seen = Client()
        seen.cookies[settings.SESSION_COOKIE_NAME] = w.sessions["a_decider"]
        page = seen.post(
            reverse("web:cb:certificate-action", kwargs={"pk": w.ids[cert_key], "action": slug}),
            data(w),
        )
        assert page.status_code == 200, page.content[:2000]
        [digest] = re.findall(r'name="digest" value="([0-9a-f]+)"', page.content.decode())
        return {**data(w), "digest": digest}

    return post


ROUTES: list[Route] = [
    # --- accounts ------------------------------------------------------------------------
    Route("web:home", u("web:home"), expect("ok")),
    Route(
        "web:sign-in",
        u("web:sign-in"),
        everyone("ok"),
        post=everyone("ok"),
        data=lambda w: {"username": w.text["sign_in"], "password": PASSWORD},
    ),
    Route("web:sign-out", u("web:sign-out"), expect(405), post=expect("ok"), data=none),
    Route(
        "web:password-change",
        u("web:password-change"),
        expect("ok"),
        post=expect("ok"),
        data=lambda w: {
            "old_password": PASSWORD,
            "new_password1": "An0ther-Long-pass",
            "new_password2": "An0ther-Long-pass",
        },
    ),
    Route("web:password-change-done", u("web:password-change-done"), expect("ok")),
    Route(
        "web:password-reset",
        u("web:password-reset"),
        everyone("ok"),
        post=everyone("ok"),
        data=lambda w: {"email": w.text["reset_email"]},
    ),
    Route("web:password-reset-sent", u("web:password-reset-sent"), everyone("ok")),
    Route(
        "web:password-reset-confirm",
        u("web:password-reset-confirm", uidb64="reset_uid", token="reset_token"),
        everyone("ok"),
        post=everyone("ok"),
        data=lambda w: {"new_password1": "An0ther-Long-pass", "new_password2": "An0ther-Long-pass"},
    ),
    Route("web:password-reset-done", u("web:password-reset-done"), everyone("ok")),
    # Messages and mail preferences: each signed-in person's own; another's message is a 404.
    Route("web:messages", u("web:messages"), expect("ok")),
    Route(
        "web:message-open",
        u("web:message-open", "pk=message"),
        POST_ONLY_GET,
        post=expect(404, ({"orga_member"}, "ok")),
        data=none,
    ),
    Route(
        "web:message-read",
        u("web:message-read", "pk=message"),
        POST_ONLY_GET,
        post=expect(404, ({"orga_member"}, "ok")),
        data=none,
    ),
    Route(
        "web:messages-read-all",
        u("web:messages-read-all"),
        POST_ONLY_GET,
        post=expect("ok"),
        data=none,
    ),
    Route(
        "web:mail-preferences",
        u("web:mail-preferences"),
        expect("ok"),
        post=expect("ok"),
        data=lambda w: {"applications": "on", "decisions": "on"},
    ),
    Route("web:invitations", u("web:invitations"), expect(403, (ADMINS, "ok"))),
    Route(
        "web:invitation-new",
        u("web:invitation-new"),
        expect(403, (ADMINS, "ok")),
        # To organization A: its administrator and the Secretariat only. Another
        # administrator reads it as a place that does not exist (a form error, 400); anyone
        # else may not invite at all.
        post=expect(
            403, (ADMINS - {SECRETARIAT, "orga_admin"}, 400), ({SECRETARIAT, "orga_admin"}, "ok")
        ),
        data=lambda w: {
            "email": "colleague@plating.example",
            "target": f"org:{w.ids['org']}",
            "role": "org:member",
        },
    ),
    Route(
        "web:invitation-accept",
        u("web:invitation-accept", token="invitation"),
        everyone("ok"),
        post=everyone("ok"),
        data=lambda w: {
            "username": "newcomer",
            "full_name": "New Comer",
            "password1": "An0ther-Long-pass",
            "password2": "An0ther-Long-pass",
        },
    ),
    Route(
        "web:invitation-accept",
        u("web:invitation-accept", token="used_invitation"),
        everyone(410),
        post=everyone(410),
        data=lambda w: {
            "username": "newcomer",
            "full_name": "New Comer",
            "password1": "An0ther-Long-pass",
            "password2": "An0ther-Long-pass",
        },
        variant="used",
    ),
    Route(
        "web:invitation-accept",
        u("web:invitation-accept", token="no-such-token"),
        everyone(404),
        variant="unknown",
    ),
    # API tokens: for those who may issue one somewhere (the administrators). A token for
    # CB A: its administrator only (another administrator is not offered the place: a form
    # error, 400); revoked by its issuer or the Secretariat, a 404 for anyone else.
    Route("web:api-tokens", u("web:api-tokens"), expect(403, (ADMINS, "ok"))),
    Route(
        "web:api-token-new",
        u("web:api-token-new"),
        expect(403, (ADMINS, "ok")),
        post=expect(403, (ADMINS - {"a_admin"}, 400), ({"a_admin"}, "ok")),
        data=lambda w: {
            "name": "ERP export",
            "place": f"cb:{w.ids['cb']}",
            "scope": "read",
            "expires_in_days": "90",
        },
    ),
    Route(
        "web:api-token-revoke",
        u("web:api-token-revoke", "pk=api_token"),
        POST_ONLY_GET,
        post=expect(404, ({SECRETARIAT, "a_admin"}, "ok")),
        data=none,
    ),
    # Webhooks: for the administrators of a CB or an organization (the Secretariat
    # administers neither); CB A's webhook: its administrator only, a 404 for anyone else.
    Route("web:webhooks", u("web:webhooks"), expect(403, (ADMINS - {SECRETARIAT}, "ok"))),
    Route(
        "web:webhook-new",
        u("web:webhook-new"),
        expect(403, (ADMINS - {SECRETARIAT}, "ok")),
        post=expect(403, (ADMINS - {SECRETARIAT, "a_admin"}, 400), ({"a_admin"}, "ok")),
        data=lambda w: {
            "name": "ERP",
            "place": f"cb:{w.ids['cb']}",
            "url": "https://erp.example.test/hooks",
            "event_types": ["certificate.suspended"],
        },
    ),
    Route("web:webhook", u("web:webhook", "pk=webhook"), expect(404, ({"a_admin"}, "ok"))),
    Route(
        "web:webhook-change",
        u("web:webhook-change", "pk=webhook", action="pause"),
        POST_ONLY_GET,
        post=expect(404, ({"a_admin"}, "ok")),
        data=none,
    ),
    Route(
        "web:webhook-replay",
        u("web:webhook-replay", "pk=webhook", "delivery_pk=delivery"),
        POST_ONLY_GET,
        post=expect(404, ({"a_admin"}, "ok")),
        data=none,
    ),
    # The choosers' matches: the places the user may invite to (administrators only), and
    # the CBs accepted for the scheme (public knowledge: anyone signed in).
    Route(
        "web:chooser-invitation-targets",
        u("web:chooser-invitation-targets"),
        expect(403, (ADMINS, "ok")),
    ),
    Route("web:chooser-cbs", u("web:chooser-cbs"), expect("ok")),
    # --- CB section ----------------------------------------------------------------------
    Route("web:cb:applications", u("web:cb:applications"), CB_LIST),
    *exports("web:cb:applications", u("web:cb:applications"), CB_LIST),
    Route("web:cb:application", u("web:cb:application", "pk=submitted"), CB_SEES),
    Route("web:cb:application-history", u("web:cb:application-history", "pk=submitted"), CB_SEES),
    Route(
        "web:cb:application-accept",
        u("web:cb:application-accept", "pk=submitted"),
        POST_ONLY_GET,
        post=cb_action("a_admin", "a_manager"),
        data=lambda w: {"accept-note": "Complete"},
    ),
    Route(
        "web:cb:application-reject",
        u("web:cb:application-reject", "pk=submitted"),
        POST_ONLY_GET,
        post=cb_action("a_admin", "a_manager"),
        data=lambda w: {"reject-reason": "Out of scope"},
    ),
    Route(
        "web:cb:assessment-plan",
        u("web:cb:assessment-plan", "pk=accepted"),
        cb_action("a_admin", "a_manager"),
        post=cb_action("a_admin", "a_manager"),
        data=lambda w: {
            "start_date": (DAY0 + dt.timedelta(days=90)).isoformat(),
            "end_date": (DAY0 + dt.timedelta(days=91)).isoformat(),
            "lead": str(w.ids["lead"]),
            "team": [str(w.ids["assessor"])],
        },
    ),
    Route("web:cb:assessments", u("web:cb:assessments"), CB_LIST),
    *exports("web:cb:assessments", u("web:cb:assessments"), CB_LIST),
    Route(
        "web:cb:assessments",
        with_query(u("web:cb:assessments"), show="mine"),
        CB_LIST,
        variant="mine",
    ),
    Route(
        "web:cb:assessments",
        with_query(u("web:cb:assessments"), show="decide"),
        CB_LIST,
        variant="decide",
    ),
    Route("web:cb:assessment", u("web:cb:assessment", "pk=in_progress"), CB_SEES),
    Route("web:cb:assessment-history", u("web:cb:assessment-history", "pk=in_progress"), CB_SEES),
    Route(
        "web:cb:assessment-start",
        u("web:cb:assessment-start", "pk=planned"),
        POST_ONLY_GET,
        post=cb_action("a_lead"),
        data=none,
    ),
    Route(
        "web:cb:finding-record",
        u("web:cb:finding-record", "pk=in_progress"),
        POST_ONLY_GET,
        post=cb_action("a_lead", "a_assessor", "a_expert"),
        data=lambda w: {
            "finding-grade": "minor",
            "finding-requirement_kind": "iso9001",
            "finding-requirement_ref": "ISO 9001:2015 7.5",
            "finding-description": "Records incomplete",
        },
    ),
    # Correcting a finding: the assessment team, while the assessment is in progress.
    Route(
        "web:cb:finding-edit",
        u("web:cb:finding-edit", "pk=in_progress", "finding_id=open_finding"),
        cb_action("a_lead", "a_assessor", "a_expert"),
        post=cb_action("a_lead", "a_assessor", "a_expert"),
        data=lambda w: {
            "edit-grade": "major",
            "edit-requirement_kind": "iso9001",
            "edit-requirement_ref": "ISO 9001:2015 7.5",
            "edit-description": "Records incomplete, corrected",
        },
    ),
    Route(
        "web:cb:assessment-report",
        u("web:cb:assessment-report", "pk=in_progress"),
        POST_ONLY_GET,
        post=cb_action("a_lead"),
        data=lambda w: {"report-issued_on": "", "report-summary": "Issued"},
    ),
    Route(
        "web:cb:decision",
        u("web:cb:decision", "pk=ready"),
        CB_SEES,
        # A decision maker of CB A who was not on the team (its administrator holds the role).
        post=cb_action("a_admin", "a_decider"),
        data=lambda w: {
            "grant-decided_on": w.text["ready_decided_on"],
            "grant-rationale": "All verified",
        },
    ),
    Route(
        "web:cb:assessment-reschedule",
        u("web:cb:assessment-reschedule", "pk=planned"),
        cb_action("a_admin", "a_manager"),
        post=cb_action("a_admin", "a_manager"),
        data=lambda w: {
            "start_date": "2026-07-01",
            "end_date": "2026-07-02",
            "reason": "The holder asked",
        },
    ),
    Route(
        "web:cb:assessment-report-correct",
        u("web:cb:assessment-report-correct", "pk=ready"),
        # The lead assessor of the team only (not the CB's administrator, who is not on it).
        cb_action("a_lead"),
        post=cb_action("a_lead"),
        data=lambda w: {"issued_on": w.text["ready_report_corrected"], "reason": "Typo"},
    ),
    Route(
        "web:cb:decision-defer",
        u("web:cb:decision-defer", "pk=ready"),
        POST_ONLY_GET,
        post=cb_action("a_admin", "a_decider"),
        data=lambda w: {"defer-until": "2026-07-01", "defer-reason": "Awaiting an answer"},
    ),
    Route(
        "web:cb:corrective-action-review",
        u("web:cb:corrective-action-review", "pk=answer"),
        POST_ONLY_GET,
        # The lead or a member of the team; not the technical expert, not other staff.
        post=cb_action("a_lead", "a_assessor"),
        data=lambda w: {f"review-{w.ids['answer']}-outcome": "verify"},
    ),
    # The report: CB A's staff and the Secretariat, before it is issued (a draft) and after.
    Route(
        "web:cb:assessment-report-html",
        u("web:cb:assessment-report-html", "pk=in_progress"),
        CB_SEES,
    ),
    Route("web:cb:assessment-report-pdf", u("web:cb:assessment-report-pdf", "pk=ready"), CB_SEES),
    Route("web:cb:evidence", u("web:cb:evidence", "evidence_id=evidence"), EVIDENCE),
    Route("web:cb:certificates", u("web:cb:certificates"), CB_LIST),
    *exports("web:cb:certificates", u("web:cb:certificates"), CB_LIST),
    # The calendar of visits and the calendar feed: the CB section's door.
    Route("web:cb:calendar", u("web:cb:calendar"), CB_LIST),
    Route(
        "web:cb:calendar",
        with_query(u("web:cb:calendar"), show="mine", month="2026-03"),
        CB_LIST,
        variant="mine",
    ),
    Route(
        "web:cb:certificate-plan",
        u("web:cb:certificate-plan", "pk=certificate", kind="special"),
        cb_action("a_admin", "a_manager"),
        post=cb_action("a_admin", "a_manager"),
        data=lambda w: {
            "start_date": "2026-06-10",
            "end_date": "2026-06-11",
            "lead": str(w.ids["lead"]),
            "team": [str(w.ids["assessor"])],
        },
    ),
    Route(
        "web:cb:transfer-in",
        u("web:cb:transfer-in"),
        CB_LIST,
        # CB B's scheme managers take CB A's certificate over; CB A's own are told it is
        # theirs (409); staff who do not plan, and the Secretariat, are refused (403).
        post=expect(403, ({"b_admin", "b_manager"}, "ok"), ({"a_admin", "a_manager"}, 409)),
        data=lambda w: {
            "number": w.text["certificate_number"],
            "start_date": "2026-06-10",
            "end_date": "2026-06-11",
            "lead": str(w.ids["b_lead"]),
        },
    ),
    Route("web:cb:calendar-feed", u("web:cb:calendar-feed"), CB_LIST),
    Route(
        "web:cb:calendar-feed-new",
        u("web:cb:calendar-feed-new"),
        POST_ONLY_GET,
        post=CB_LIST,
        data=none,
    ),
    Route(
        "web:cb:calendar-feed-stop",
        u("web:cb:calendar-feed-stop"),
        POST_ONLY_GET,
        post=CB_LIST,
        data=none,
    ),
    # The feed itself: no sign-in (a calendar application cannot), the token is the key.
    Route("web:calendar-ics", u("web:calendar-ics", token="feed"), everyone("ok")),
    Route(
        "web:calendar-ics",
        u("web:calendar-ics", token="stopped_feed"),
        everyone(404),
        variant="stopped",
    ),
    Route(
        "web:calendar-ics",
        u("web:calendar-ics", token="no-such-token"),
        everyone(404),
        variant="unknown",
    ),
    Route("web:cb:certificate", u("web:cb:certificate", "pk=certificate"), CB_SEES),
    Route("web:cb:certificate-history", u("web:cb:certificate-history", "pk=certificate"), CB_SEES),
    *[
        row
        for variant, cert_key, data in DECISIONS
        for row in (
            Route(
                "web:cb:certificate-action",
                u("web:cb:certificate-action", f"pk={cert_key}", action=variant),
                DECIDES,
                # Posted: the confirmation page (nothing written yet).
                post=DECIDES,
                data=data,
                variant=variant,
            ),
            Route(
                "web:cb:certificate-action-confirm",
                u("web:cb:certificate-action-confirm", f"pk={cert_key}", action=variant),
                POST_ONLY_GET,
                post=DECIDES,
                data=confirmed(variant, cert_key, data),
                variant=variant,
            ),
        )
    ],
    Route(
        "web:cb:certificate-action",
        u("web:cb:certificate-action", "pk=certificate", action="promote"),
        # No such decision: the certificate is looked up first (404 to other tenants).
        expect(404, (A | SEC, 400)),
        post=expect(404, (A | SEC, 400)),
        data=lambda w: {"reason": "forced"},
        variant="unknown-action",
    ),
    Route(
        "web:cb:certificate-action-confirm",
        u("web:cb:certificate-action-confirm", "pk=certificate", action="promote"),
        POST_ONLY_GET,
        post=expect(404, (A | SEC, 400)),
        data=lambda w: {"reason": "forced"},
        variant="unknown-action",
    ),
    Route(
        "web:cb:certificate-resubmit",
        u("web:cb:certificate-resubmit", "pk=returned_cert"),
        POST_ONLY_GET,
        post=cb_action("a_admin", "a_decider"),
        data=lambda w: {"resubmit-note": "Scope narrowed"},
    ),
    Route(
        "web:cb:certificate-record-calendar",
        u("web:cb:certificate-record-calendar", "pk=certificate"),
        POST_ONLY_GET,
        post=DECIDES,
        data=none,
    ),
    # --- organization section ------------------------------------------------------------
    Route(
        "web:org:organizations",
        u("web:org:organizations"),
        # Its users are taken to their organization; anyone of no organization is refused.
        expect(403, (OA | OB | SEC, "ok")),
    ),
    *exports(
        "web:org:organizations", u("web:org:organizations"), expect(403, (OA | OB | SEC, "ok"))
    ),
    Route("web:org:profile", u("web:org:profile", "org_id=org"), ORG_SEES),
    *exports("web:org:profile", u("web:org:profile", "org_id=org"), ORG_SEES),
    Route(
        "web:org:site-new",
        u("web:org:site-new", "org_id=org"),
        ORG_SEES,
        # site_create: the organization's users or the Secretariat.
        post=ORG_SEES,
        data=lambda w: {"name": "Third plant", "city": "Chemnitz", "country": "DE"},
    ),
    Route("web:org:applications", u("web:org:applications", "org_id=org"), ORG_SEES),
    *exports("web:org:applications", u("web:org:applications", "org_id=org"), ORG_SEES),
    Route(
        "web:org:application-new",
        u("web:org:application-new", "org_id=org"),
        ORG_ACTS,
        post=ORG_ACTS,
        data=lambda w: {
            "cb": w.ids["cb"],
            "scheme": w.ids["scheme"],
            "programmes": [w.ids["programme"]],
        },
    ),
    Route("web:org:application", u("web:org:application", "org_id=org", "app_id=draft"), ORG_SEES),
    Route(
        "web:org:application-history",
        u("web:org:application-history", "org_id=org", "app_id=submitted"),
        ORG_SEES,
    ),
    Route(
        "web:org:scope-line-new",
        u("web:org:scope-line-new", "org_id=org", "app_id=draft"),
        POST_ONLY_GET,
        post=ORG_ACTS,
        data=lambda w: {
            "category": w.ids["epl"],
            "site": w.ids["site"],
            "wording": "Tin plating",
            "standards": [w.ids["iso9001"]],
        },
    ),
    # Changing or removing a line of the draft's scope: organization A's users.
    Route(
        "web:org:scope-line-edit",
        u("web:org:scope-line-edit", "org_id=org", "app_id=draft", "line_id=draft_line"),
        ORG_ACTS,
        post=ORG_ACTS,
        data=lambda w: {
            "category": w.ids["epl"],
            "site": w.ids["site"],
            "wording": "Tin and nickel plating",
            "standards": [w.ids["iso9001"]],
        },
    ),
    Route(
        "web:org:scope-line-remove",
        u("web:org:scope-line-remove", "org_id=org", "app_id=draft", "line_id=draft_line"),
        POST_ONLY_GET,
        post=ORG_ACTS,
        data=none,
    ),
    Route(
        "web:org:application-submit",
        u("web:org:application-submit", "org_id=org", "app_id=draft"),
        POST_ONLY_GET,
        post=ORG_ACTS,
        data=none,
    ),
    Route(
        "web:org:application-withdraw",
        u("web:org:application-withdraw", "org_id=org", "app_id=draft"),
        POST_ONLY_GET,
        post=ORG_ACTS,
        data=lambda w: {"reason": "Plant sold"},
    ),
    Route("web:org:findings", u("web:org:findings", "org_id=org"), ORG_SEES),
    *exports("web:org:findings", u("web:org:findings", "org_id=org"), ORG_SEES),
    Route(
        "web:org:finding", u("web:org:finding", "org_id=org", "finding_id=open_finding"), ORG_SEES
    ),
    Route(
        "web:org:answer",
        u("web:org:answer", "org_id=org", "finding_id=open_finding"),
        POST_ONLY_GET,
        post=ORG_ACTS,
        data=lambda w: {"correction": "Done", "root_cause": "No checklist", "action": "Checklist"},
    ),
    Route(
        "web:org:evidence-new",
        u("web:org:evidence-new", "org_id=org", "finding_id=answered_finding"),
        POST_ONLY_GET,
        post=ORG_ACTS,
        data=lambda w: {
            "file": SimpleUploadedFile("more.pdf", PDF, content_type="application/pdf")
        },
    ),
    # Taking back an evidence file: its uploader only (organization A's administrator).
    Route(
        "web:org:evidence-remove",
        u(
            "web:org:evidence-remove",
            "org_id=org",
            "finding_id=answered_finding",
            "evidence_id=evidence",
        ),
        POST_ONLY_GET,
        post=expect(404, ({SECRETARIAT, "orga_member"}, 403), ({"orga_admin"}, "ok")),
        data=lambda w: {f"remove-{w.ids['evidence']}-reason": "Wrong file"},
    ),
    # The reports issued to organization A: its users and the Secretariat; one not yet issued
    # is not there for anyone (the CB's staff read it in their section).
    Route("web:org:assessment-reports", u("web:org:assessment-reports", "org_id=org"), ORG_SEES),
    Route(
        "web:org:assessment-report-html",
        u("web:org:assessment-report-html", "org_id=org", "pk=ready"),
        ORG_SEES,
    ),
    Route(
        "web:org:assessment-report-html",
        u("web:org:assessment-report-html", "org_id=org", "pk=in_progress"),
        expect(404),
        variant="not-issued",
    ),
    Route(
        "web:org:assessment-report-pdf",
        u("web:org:assessment-report-pdf", "org_id=org", "pk=ready"),
        ORG_SEES,
    ),
    Route("web:org:certificates", u("web:org:certificates", "org_id=org"), ORG_SEES),
    *exports("web:org:certificates", u("web:org:certificates", "org_id=org"), ORG_SEES),
    Route(
        "web:org:certificate",
        u("web:org:certificate", "org_id=org", "cert_id=certificate"),
        ORG_SEES,
    ),
    Route(
        "web:org:certificate-history",
        u("web:org:certificate-history", "org_id=org", "cert_id=certificate"),
        ORG_SEES,
    ),
    Route("web:org:evidence", u("web:org:evidence", "evidence_id=evidence"), EVIDENCE),
    # --- Secretariat section -------------------------------------------------------------
    Route("web:sec:cbs", u("web:sec:cbs"), SEC_ONLY),
    *exports("web:sec:cbs", u("web:sec:cbs"), SEC_ONLY),
    Route(
        "web:sec:cb-new",
        u("web:sec:cb-new"),
        SEC_ONLY,
        post=SEC_ONLY,
        data=lambda w: {"code": "NEWCB", "name": "New body", "country": "FR"},
    ),
    Route("web:sec:cb", u("web:sec:cb", "pk=cb"), SEC_ONLY),
    Route(
        "web:sec:acceptance-new",
        u("web:sec:acceptance-new", "pk=cb"),
        POST_ONLY_GET,
        post=SEC_ONLY,
        data=lambda w: {"programme": w.ids["ecmp"], "accepted_on": "2026-01-01"},
    ),
    Route(
        "web:sec:acceptance-status",
        u("web:sec:acceptance-status", "pk=acceptance"),
        SEC_ONLY,
        post=SEC_ONLY,
        data=lambda w: {"action": "suspend", "reason": "Audit by the board"},
    ),
    # The import screens. An upload for CB A: CB B's importers are not offered CB A (a form
    # error, 400).
    Route(
        "web:imports:home",
        u("web:imports:home"),
        IMPORT_PAGE,
        post=expect(403, (IMPORTERS, 400), (SEC | {"a_admin", "a_manager"}, "ok")),
        data=lambda w: {
            "file": SimpleUploadedFile(
                "register.csv", csv_file([row(w.text["cb_code"], 9002)]), content_type="text/csv"
            ),
            "cb": w.text["cb_code"],
        },
    ),
    Route("web:imports:columns", u("web:imports:columns"), IMPORT_PAGE),
    Route("web:imports:template", u("web:imports:template", file_format="xlsx"), IMPORT_PAGE),
    Route("web:imports:batch", u("web:imports:batch", "pk=import_batch"), IMPORT_OF_A),
    Route("web:imports:progress", u("web:imports:progress", "pk=import_batch"), IMPORT_OF_A),
    Route(
        "web:imports:commit",
        u("web:imports:commit", "pk=import_batch"),
        POST_ONLY_GET,
        post=IMPORT_OF_A,
        data=lambda w: {},
    ),
    Route("web:sec:reference", u("web:sec:reference"), SEC_ONLY),
    *exports("web:sec:reference", u("web:sec:reference"), SEC_ONLY),
    Route("web:sec:certificates", u("web:sec:certificates"), SEC_ONLY),
    *exports("web:sec:certificates", u("web:sec:certificates"), SEC_ONLY),
    Route(
        "web:sec:scheme-publication-review",
        u("web:sec:scheme-publication-review", "pk=scheme"),
        POST_ONLY_GET,
        post=SEC_ONLY,
        data=lambda w: {"enabled": "off"},
    ),
    Route("web:sec:publication-reviews", u("web:sec:publication-reviews"), SEC_ONLY),
    *exports("web:sec:publication-reviews", u("web:sec:publication-reviews"), SEC_ONLY),
    Route(
        "web:sec:publication-review",
        u("web:sec:publication-review", "pk=pending_cert"),
        SEC_ONLY,
    ),
    Route(
        "web:sec:publication-approve",
        u("web:sec:publication-approve", "pk=pending_cert"),
        POST_ONLY_GET,
        post=SEC_ONLY,
        data=lambda w: {"approve-note": ""},
    ),
    Route(
        "web:sec:publication-return",
        u("web:sec:publication-return", "pk=pending_cert"),
        POST_ONLY_GET,
        post=SEC_ONLY,
        data=lambda w: {"return-reason": "Wording"},
    ),
]

CASES = [
    pytest.param(route, role, method, id=f"{route.label}-{role}-{method}")
    for route in ROUTES
    for method, table in (("GET", route.get), ("POST", route.post))
    if table is not None
    for role in ROLES
]


# --- the tests --------------------------------------------------------------------------------


def _office_routes(patterns: Iterable[Any], prefix: str) -> Iterator[str]:
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _office_routes(
                p.url_patterns, f"{prefix}{p.namespace}:" if p.namespace else prefix
            )
        elif isinstance(p, URLPattern) and p.name:
            yield f"{prefix}{p.name}"


def office_routes() -> set[str]:
    """Every named route of the back office (namespace ``web``), from the resolver."""
    [office] = [
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and p.namespace == "web"
    ]
    return set(_office_routes(office.url_patterns, "web:"))


def test_every_office_route_is_in_the_matrix() -> None:
    assert office_routes() == {route.name for route in ROUTES}
    for route in ROUTES:
        for table in (route.get, route.post):
            assert table is None or set(table) == set(ROLES), route.label
        assert (route.post is None) == (route.data is None), route.label


def test_no_other_tenant_reaches_an_object_of_cb_a_or_organization_a() -> None:
    """The cross-tenant rule, over the whole matrix: CB B's staff and organization B's users
    are never let through to an address that names CB A's or organization A's object."""
    for route in ROUTES:
        if route.url.names_an_object:
            for table in (route.get, route.post):
                leaks = {r for r in B | OB if table is not None and table[r] == "ok"}
                assert not leaks, route.label


GET_ONLY = [
    pytest.param(route, id=route.label)
    for route in ROUTES
    if route.post is None and route.get[SECRETARIAT] not in (405, 410, 404)
]


@pytest.mark.parametrize("route", GET_ONLY)
def test_a_page_that_takes_no_post_refuses_one(world: Matrix, client: Client, route: Route) -> None:
    """A POST to a page that only shows (forced by a crafted request) is a 405, not a
    change and not an error."""
    client.raise_request_exception = False
    client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[SECRETARIAT]
    before = AuditEvent.objects.count()
    response = client.post(route.url(world), {"status": "withdrawn"})
    assert response.status_code == 405
    assert AuditEvent.objects.count() == before


SIGN_IN = "/office/sign-in"


def outcome(response: HttpResponseBase) -> Outcome:
    status = response.status_code
    if status in (301, 302, 303, 307, 308):
        location = urlsplit(response["Location"])
        if location.path == SIGN_IN and "next" in parse_qs(location.query):
            return "login"
        return "ok"
    return "ok" if 200 <= status < 300 else status


@pytest.mark.parametrize(("route", "role", "method"), CASES)
def test_permission_matrix(
    world: Matrix, client: Client, route: Route, role: str, method: str
) -> None:
    expected = (route.get if method == "GET" else route.post or {})[role]
    client.raise_request_exception = False
    if role != ANONYMOUS:
        client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[role]
    url = route.url(world)
    before = AuditEvent.objects.count()
    if method == "GET":
        response = client.get(url)
    else:
        assert route.data is not None
        response = client.post(url, route.data(world))
    if getattr(response, "streaming", False):
        # An export is written as it is read: read it, so that an error in it shows here.
        b"".join(response.streaming_content)  # type: ignore[attr-defined]
        assert response.status_code < 500
    else:
        assert response.status_code < 500, response.content[:2000]
    assert outcome(response) == expected
    if method == "POST" and expected != "ok":
        assert AuditEvent.objects.count() == before  # a refused request writes nothing
