"""``apcert demo-accounts``: make the demo sign-in accounts and print them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apcert.demo.accounts import ADMIN_URL, demo_accounts_ensure


class Command(BaseCommand):
    help = (
        "Create (or reset) the demo sign-in accounts with known passwords and print them. "
        "For a demo only: the passwords are printed and published in the source."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default=ADMIN_URL.removesuffix("admin/"),
            help="where the app is served, for the printed admin address",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        accounts, notes = demo_accounts_ensure()
        width = max(len(a.role) for a in accounts)
        user_width = max(len(a.username) for a in accounts)
        self.stdout.write(
            "Demo accounts (demo passwords, fixed and public: never use in production)"
        )
        self.stdout.write(f"  {'role':<{width}}  {'username':<{user_width}}  password")
        for a in accounts:
            self.stdout.write(f"  {a.role:<{width}}  {a.username:<{user_width}}  {a.password}")
        base = options["base_url"].rstrip("/")
        self.stdout.write(f"Back office (every account): {base}/office/sign-in")
        self.stdout.write(f"Django admin (Secretariat): {base}/admin/")
        for note in notes:
            self.stdout.write(f"note: {note}")
