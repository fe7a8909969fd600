"""Offline verification of signed credentials on one core, beside its floor: raw Ed25519
verification of the same signatures over the same bytes, measured in the same run.

    .venv/bin/python bench/verify.py [--count 5000] [--rounds 3]

Makes ``--count`` distinct credentials of the shape apcert signs (``build_credential``'s:
holder, sites, programmes, scope lines, standards, two status entries; names in several
scripts), signs them with two CB keys, and times, in this process:

- **raw**: ``Ed25519PublicKey.verify`` of each signature over the 64 bytes it signed (the
  floor: what no verifier of this cryptosuite can skip);
- **verify**: ``verify_credential`` on each parsed credential against an in-memory trust store
  (the whole offline check: proof parsing, JCS, SHA-256, Ed25519, validity dates);
- **verify (rfc8785 only)**: the same with the canonicalization of the ``rfc8785`` library
  alone, as before the fast path (the "before" figure).

Cold: each credential verified once, in a fresh order. Warm: the first 100 verified again
and again. Prints credentials per second and the ratio to raw of each.

Then the batch command, end to end: the credentials written one a file to a temporary
directory with a trust bundle of the two keys, and ``apcert verify DIR --trust-bundle B
--jobs J`` run for J = 1 and J = the cores (a fresh process each: Django's start, reading and
parsing every file, one line a file), beside raw Ed25519 verification on one core times J.

The machine is noisy: compare the ratios, measured in the same run, not the rates across
runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from apcert.credentials import jcs, multikey, proofs
from apcert.credentials.proofs import create_proof, parse_proof
from apcert.credentials.trust import TrustedIssuer, TrustedKey, TrustStore
from apcert.credentials.verification import verify_credential

SITE = "https://register.example"
NAMES = [
    "Müller Elektronik GmbH",
    "Société Générale de Câblage",
    "Ελληνικά Κυκλώματα ΑΕ",
    "Завод Электроники",
    "深圳电子有限公司",
    "Nordic PCB AB",
    "O'Brien & Sons Ltd",
]


def credential(n: int, cb: str) -> dict[str, Any]:
    """An unsigned credential shaped as apcert's, the ``n``-th of CB ``cb``."""
    rng = random.Random(n)
    did = f"did:web:register.example:bodies:{cb}"
    number = f"IECQ-AP {cb} {n:07d}"
    sites = [
        {"id": rng.randrange(10**6), "name": f"{rng.choice(NAMES)} plant {s}",
         "city": rng.choice(["Lyon", "Köln", "Αθήνα", "Ōsaka"]), "country": "FR"}
        for s in range(rng.randrange(1, 4))
    ]  # fmt: skip
    lines = [
        {"category": f"{rng.randrange(100, 999)}", "categoryName": "Printed boards",
         "wording": f"Manufacture of multilayer boards, up to {rng.randrange(4, 40)} layers",
         "standards": ["IEC 61189", "IEC 62326-4"], "siteId": sites[0]["id"]}
        for _ in range(rng.randrange(1, 6))
    ]  # fmt: skip
    entries = [
        {"id": f"{SITE}/bodies/{cb}/status/{p}#{n}", "type": "BitstringStatusListEntry",
         "statusPurpose": p, "statusListIndex": str(n),
         "statusListCredential": f"{SITE}/bodies/{cb}/status/{p}"}
        for p in ("revocation", "suspension")
    ]  # fmt: skip
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", f"{SITE}/credentials/v1"],
        "id": f"{SITE}/certificates/{number}/issues/1",
        "type": ["VerifiableCredential", "IECQApprovedProcessCredential"],
        "name": f"IECQ certificate {number}, issue 1",
        "issuer": {"id": did, "name": f"CB {cb}"},
        "validFrom": "2025-01-01T00:00:00Z",
        "validUntil": "2028-12-31T23:59:59Z",
        "credentialSubject": {
            "id": f"{SITE}/organizations/{n}",
            "type": "IECQApprovedProcessCertification",
            "certificateNumber": number,
            "issueNumber": 1,
            "issuedOn": "2025-01-01",
            "holder": {"name": rng.choice(NAMES), "country": "DE"},
            "sites": sites,
            "scheme": {"code": "IECQ-AP", "name": "IECQ Approved Process"},
            "programmes": [{"code": "AP", "name": "Approved Process"}],
            "scopeLines": lines,
            "standards": [{"designation": "IEC 61189", "edition": "2.0", "title": "Tests"}],
            "certificationBody": {"id": did, "code": cb, "name": f"CB {cb}", "country": "FR"},
        },
        "credentialStatus": entries,
    }


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def timed(run: Callable[[], None], rounds: int) -> float:
    """The best (least disturbed) of ``rounds`` wall times of ``run``."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    store = TrustStore()
    signers = {}
    published: dict[str, tuple[str, bytes]] = {}
    for cb in ("CB1", "CB2"):
        private = Ed25519PrivateKey.generate()
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        did = f"did:web:register.example:bodies:{cb}"
        key_id = f"{did}#key-1"
        store.add_issuer(TrustedIssuer(id=did, name=f"CB {cb}"), [TrustedKey(key_id, did, raw)])
        signers[cb] = (private, key_id)
        published[did] = (key_id, raw)
    created = dt.datetime(2025, 1, 1, 9, 30, tzinfo=dt.UTC)
    documents = []
    for n in range(args.count):
        private, key_id = signers["CB1" if n % 2 else "CB2"]
        documents.append(
            create_proof(
                credential(n, "CB1" if n % 2 else "CB2"),
                private_key=private,
                verification_method=key_id,
                created=created,
            )
        )
    assert all(jcs.dumps(d) == rfc8785.dumps(d) for d in documents[:200])
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    # The floor: the same signatures over the same signed bytes, the keys already loaded.
    parsed = [parse_proof(d) for d in documents]
    keys = {key.key_id: Ed25519PublicKey.from_public_bytes(key.public_key)
            for key in store.keys.values()}  # fmt: skip
    raw_inputs = [(keys[p.verification_method], p.signature, p.hash_data) for p in parsed]

    def raw(inputs: list[Any]) -> Callable[[], None]:
        def run() -> None:
            for key, signature, data in inputs:
                key.verify(signature, data)

        return run

    def full(docs: list[dict[str, Any]]) -> Callable[[], None]:
        def run() -> None:
            for doc in docs:
                if not verify_credential(doc, trust=store, now=now).valid:
                    raise SystemExit("a credential did not verify")

        return run

    def rfc8785_only(run: Callable[[], None]) -> Callable[[], None]:
        def wrapped() -> None:
            proofs.jcs = _Rfc8785Only  # type: ignore[assignment]
            try:
                run()
            finally:
                proofs.jcs = jcs

        return wrapped

    order = list(range(args.count))
    random.Random(7).shuffle(order)
    cold_docs = [documents[i] for i in order]
    cold_raw = [raw_inputs[i] for i in order]
    warm_docs = documents[:100] * max(1, args.count // 100)
    warm_raw = raw_inputs[:100] * max(1, args.count // 100)

    size = statistics.mean(len(rfc8785.dumps(d)) for d in documents)
    print(f"{args.count} credentials of {size:.0f} bytes on average; best of {args.rounds} rounds")
    print("| run | what | credentials/s | x raw Ed25519 |")
    print("| --- | --- | ---: | ---: |")
    for label, docs, raws in (("cold", cold_docs, cold_raw), ("warm", warm_docs, warm_raw)):
        # The three in turn, round after round, so that a change of the machine's load
        # falls on each; the best round of each counts.
        runs = {
            "raw Ed25519 verify (floor)": (len(raws), raw(raws)),
            "verify_credential, rfc8785 only (before)": (len(docs), rfc8785_only(full(docs))),
            "verify_credential (after)": (len(docs), full(docs)),
        }
        best = {what: 0.0 for what in runs}
        for _ in range(args.rounds):
            for what, (count, run) in runs.items():
                best[what] = max(best[what], rate(count, timed(run, 1)))
        floor = best["raw Ed25519 verify (floor)"]
        for what, value in best.items():
            print(f"| {label} | {what} | {value:,.0f} | {value / floor:.3f} |")
        if label == "cold":
            cold_floor = floor
    batch_command(documents, published, cold_floor)


def batch_command(
    documents: list[dict[str, Any]], store_keys: dict[str, tuple[str, bytes]], floor: float
) -> None:
    """``apcert verify DIR`` on the documents, one process and one a core."""
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        folder = Path(tmp) / "credentials"
        folder.mkdir()
        for n, document in enumerate(documents):
            (folder / f"{n:06d}.json").write_text(json.dumps(document))
        issuers = []
        for did, (key_id, raw) in store_keys.items():
            method = {
                "id": key_id,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": multikey.public_key_multibase(raw),
            }
            document = {"id": did, "verificationMethod": [method], "assertionMethod": [key_id]}
            issuers.append({"id": did, "name": did, "didDocument": document})
        bundle = Path(tmp) / "bundle.json"
        bundle.write_text(json.dumps({"type": "ApcertTrustBundle", "version": 1,
                                      "issuers": issuers}))  # fmt: skip
        env = dict(os.environ, APCERT_VAR_DIR=tmp)
        env.pop("DATABASE_URL", None)
        print()
        print(f"apcert verify DIR on {len(documents)} files (end to end, a fresh process each)")
        print("| processes | files/s | x raw Ed25519 on as many cores |")
        print("| ---: | ---: | ---: |")
        for jobs in sorted({1, cores}):
            start = time.perf_counter()
            run = subprocess.run(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "apcert", "verify", str(folder), "--trust-bundle",
                 str(bundle), "--jobs", str(jobs), "--skip-checks"],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            seconds = time.perf_counter() - start
            if run.returncode != 0 or not run.stdout.rstrip().endswith(f"{len(documents)} valid"):
                raise SystemExit(f"the batch did not verify: {run.stderr or run.stdout[-500:]}")
            value = len(documents) / seconds
            print(f"| {jobs} | {value:,.0f} | {value / (floor * jobs):.3f} |")


class _Rfc8785Only:
    dumps = staticmethod(rfc8785.dumps)


if __name__ == "__main__":
    main()
