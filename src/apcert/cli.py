"""The one console entry point, ``apcert`` (also ``python -m apcert``).

Every command is a Django management command; ``apcert serve`` starts the WSGI server.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apcert.settings")
    from django.core.management import execute_from_command_line

    if len(argv) == 1:
        argv.append("help")
    argv[0] = "apcert"
    try:
        execute_from_command_line(argv)
    except RuntimeError as exc:
        # A setting the environment gets wrong (apcert.env.ConfigurationError) is said in
        # one line that names the variable. The class is matched by name: importing
        # apcert.env here would only raise the same error again.
        if (type(exc).__module__, type(exc).__name__) != ("apcert.env", "ConfigurationError"):
            raise
        sys.exit(f"apcert: {exc}")


if __name__ == "__main__":
    main()
