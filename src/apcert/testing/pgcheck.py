"""``python -m apcert.testing.pgcheck URL``: exit 0 if PostgreSQL answers at URL."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else "postgres://postgres@127.0.0.1:5432/test"
    try:
        import psycopg

        with psycopg.connect(
            url.replace("postgres://", "postgresql://", 1), connect_timeout=5
        ) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure means: no PostgreSQL pass
        print(f"PostgreSQL check failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
