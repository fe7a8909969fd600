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
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
