"""Public API: organizations and certification bodies."""

from ninja import Router

router = Router(tags=["directory"])
