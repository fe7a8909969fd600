from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _statistics_after_migrations(plan: Any = None, using: str = "default", **kwargs: Any) -> None:
    """Migrations may fill or rewrite tables: the planner's statistics are gathered again
    when any ran (not on a ``migrate`` that had nothing to do)."""
    if plan:
        from apcert.core.db import gather_statistics

        gather_statistics(using)


class CoreConfig(AppConfig):
    name = "apcert.core"
    label = "core"
    verbose_name = "apcert core"

    def ready(self) -> None:
        # Sent once per app; listening for this app's signal alone runs it once a migrate.
        post_migrate.connect(
            _statistics_after_migrations, sender=self, dispatch_uid="apcert.core.statistics"
        )
