"""``apcert notify-preferences USERNAME [--off GROUP ...] [--on GROUP ...]``: show or change
which groups of e-mails a person gets, at their request (the in-app messages stay either way).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apcert.accounts.models import User
from apcert.core.errors import DomainError
from apcert.notifications.choices import MessageGroup
from apcert.notifications.selectors import notification_preferences
from apcert.notifications.services import notification_preferences_set


class Command(BaseCommand):
    help = (
        "Show a person's e-mail preferences, or turn groups of e-mails off or on for them "
        f"(groups: {', '.join(MessageGroup.values)}). In-app messages are always kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--off", nargs="+", default=[], metavar="GROUP", help="groups to stop mailing"
        )
        parser.add_argument(
            "--on", nargs="+", default=[], metavar="GROUP", help="groups to mail again"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user is called {options['username']!r}.")
        both = set(options["off"]) & set(options["on"])
        if both:
            raise CommandError(f"Both off and on: {', '.join(sorted(both))}.")
        chosen = {g: False for g in options["off"]} | {g: True for g in options["on"]}
        try:
            prefs = (
                notification_preferences_set(actor=user, mail=chosen)
                if chosen
                else notification_preferences(user)
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        labels = dict(MessageGroup.choices)
        for group, on in prefs.items():
            self.stdout.write(f"{'on ' if on else 'off'}  {group}: {labels[group]}")
