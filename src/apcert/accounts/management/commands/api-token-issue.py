"""``apcert api-token-issue --by USERNAME --for PLACE [--scope read|write] [--days N]
[--name NAME]``: issue an API token from the command line and print its secret, once.

The same service as the back office's page: the person named by ``--by`` must administer
the place (``secretariat``, ``cb:<code>`` or ``org:<id>``), and the issue is audited under
their name. The secret alone goes to standard output, so that a script can capture it; the
rest goes to standard error."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apcert.accounts.api_tokens import EXPIRY_DAYS_DEFAULT, api_token_issue
from apcert.accounts.models import ApiTokenScope, User
from apcert.bodies.models import CertificationBody
from apcert.core.errors import DomainError
from apcert.organizations.models import Organization


def _place(value: str) -> CertificationBody | Organization | None:
    if value == "secretariat":
        return None
    kind, _, key = value.partition(":")
    if kind == "cb" and key:
        cb = CertificationBody.objects.filter(code=key).first()
        if cb is None:
            raise CommandError(f"--for: no CB has the code {key!r}.")
        return cb
    if kind == "org" and key.isdigit():
        organization = Organization.objects.filter(pk=int(key)).first()
        if organization is None:
            raise CommandError(f"--for: no organization has the id {key}.")
        return organization
    raise CommandError("--for: secretariat, cb:<code> or org:<id>.")


class Command(BaseCommand):
    help = (
        "Issue an API token for the Secretariat, a CB or an organization, as a person who "
        "administers it, and print its secret (shown this once)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--by", required=True, help="the username of the issuer")
        parser.add_argument(
            "--for",
            dest="place",
            required=True,
            help="secretariat, cb:<code> or org:<id>",
        )
        parser.add_argument(
            "--scope", choices=ApiTokenScope.values, default=ApiTokenScope.READ.value
        )
        parser.add_argument("--days", type=int, default=EXPIRY_DAYS_DEFAULT)
        parser.add_argument("--name", default="issued from the command line")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["by"]).first()
        if user is None:
            raise CommandError(f"--by: no account has the username {options['by']!r}.")
        place = _place(options["place"])
        try:
            made = api_token_issue(
                actor=user,
                name=options["name"],
                place=place,
                scope=options["scope"],
                expires_in_days=options["days"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.message} ({exc.code})") from None
        token = made.token
        self.stderr.write(
            f"API token {token.pk} ({token.hint}…) for {token.place_label}, scope "
            f"{token.scope}, expires {token.expires_at:%Y-%m-%d %H:%M} UTC. Its secret, "
            "shown this once:"
        )
        self.stdout.write(made.secret)
