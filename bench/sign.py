"""Signing the credentials of many certificates (``apcert credentials-sign``), beside its
floor, raw Ed25519 signing of what those credentials sign, and beside the per-certificate
path of the services, all measured in the same run.

    .venv/bin/python bench/sign.py --var-dir /tmp/bench_sign [--certificates 20000]
        [--count 300] [--rounds 2]

The data set is ``apcert demo-data --certificates N --seed 1`` with ``apcert keys-generate
--missing`` under ``--var-dir`` (built when missing; it has no signed credential: demo data
is made before the keys), on SQLite. In one fresh process, each measurement inside a
transaction rolled back at its end (stored credentials cannot be deleted), so the data set
stays unsigned for the next run:

- **batch**: ``credentials_sign_missing()`` on every latest public issue of the data set;
- **floor**: raw ``Ed25519PrivateKey.sign`` of what each of those credentials signed (the
  64 bytes of hashes), the keys already loaded;
- **per certificate (before)**: ``credential_keep(certificate)``, what a certificate service
  calls, for ``--count`` certificates, each in its own transaction (its queries, and the key
  file read for each signature).

Cold is the first run (status list places given, files first read), warm the best of
``--rounds`` more. Prints credentials per second and the ratio to the floor. The machine is
shared and noisy: compare the ratios, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build_if_missing(var_dir: Path, certificates: int) -> None:
    marker = var_dir / "sign-bench.ready"
    if marker.exists():
        return
    var_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, APCERT_VAR_DIR=str(var_dir))
    env.pop("DATABASE_URL", None)
    for args in (
        ["migrate", "--noinput"],
        ["load-reference"],
        ["demo-data", "--certificates", str(certificates), "--seed", "1", "--if-empty"],
        ["keys-generate", "--missing"],
    ):
        progress(f"apcert {' '.join(args)}")
        subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "apcert", *args],
            env=env,
            check=True,
            cwd=ROOT,
            stdout=sys.stderr,
        )
    marker.write_text("ok\n")


def rolled_back(run: Callable[[], int]) -> tuple[float, int]:
    """The wall time of ``run`` and what it returned, its writes undone."""
    from django.db import transaction

    with transaction.atomic():
        start = time.perf_counter()
        done = run()
        seconds = time.perf_counter() - start
        transaction.set_rollback(True)
    return seconds, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--var-dir", type=Path, required=True)
    parser.add_argument("--certificates", type=int, default=20_000)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    build_if_missing(args.var_dir, args.certificates)

    os.environ["APCERT_VAR_DIR"] = str(args.var_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apcert.settings")
    import django

    django.setup()
    from django.db import transaction

    from apcert.certificates.models import Certificate
    from apcert.credentials import keyfiles, selectors, services
    from apcert.credentials.models import IssueCredential, SigningKey
    from apcert.credentials.proofs import parse_proof

    waiting = selectors.unsigned_latest_issues().count()
    if not waiting:
        raise SystemExit("every issue is signed already: use a fresh --var-dir")

    results: dict[str, list[tuple[float, int]]] = {"batch": [], "floor": [], "before": []}
    hashes: list[tuple[str, bytes]] = []

    def batch() -> int:
        done = services.credentials_sign_missing()
        if not hashes:
            for key_id, credential in IssueCredential.objects.values_list(
                "signing_key__key_id", "credential"
            ).iterator(chunk_size=2000):
                hashes.append((key_id, parse_proof(credential).hash_data))
        return done

    for _ in range(1 + args.rounds):
        results["batch"].append(rolled_back(batch))
    private = {
        key.key_id: keyfiles.read_private_key(keyfiles.owner_dir(key), key.public_key_multibase)
        for key in SigningKey.objects.filter(cb__isnull=False, retired_at__isnull=True)
    }
    signing = [(private[key_id], data) for key_id, data in hashes]

    def floor() -> int:
        for key, data in signing:
            key.sign(data)
        return len(signing)

    for _ in range(1 + args.rounds):
        start = time.perf_counter()
        done = floor()
        results["floor"].append((time.perf_counter() - start, done))

    certificates = list(
        Certificate.objects.filter(
            pk__in=selectors.unsigned_latest_issues()
            .order_by("pk")
            .values("certificate_id")[: args.count]
        )
    )

    def one_by_one() -> int:
        for certificate in certificates:
            with transaction.atomic():
                services.credential_keep(certificate)
        return len(certificates)

    for _ in range(1 + args.rounds):
        results["before"].append(rolled_back(one_by_one))

    def rate(runs: list[tuple[float, int]], warm: bool) -> float:
        chosen = runs[1:] if warm and len(runs) > 1 else runs[:1]
        return max(done / seconds for seconds, done in chosen)

    load = os.getloadavg()[0]
    print(f"{waiting:,} issues to sign; {os.cpu_count()} cores; load average {load:.2f}")
    print("| what | cold cred/s | x floor | warm cred/s | x floor |")
    print("| --- | ---: | ---: | ---: | ---: |")
    labels = {
        "floor": "raw Ed25519 sign (floor)",
        "batch": "credentials_sign_missing (after)",
        "before": f"credential_keep one by one, {len(certificates)} (before)",
    }
    for kind in ("floor", "batch", "before"):
        cold, warm = rate(results[kind], False), rate(results[kind], True)
        cold_floor, warm_floor = rate(results["floor"], False), rate(results["floor"], True)
        print(
            f"| {labels[kind]} | {cold:,.0f} | {cold / cold_floor:.3f} | "
            f"{warm:,.0f} | {warm / warm_floor:.3f} |"
        )


if __name__ == "__main__":
    main()
