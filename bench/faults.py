"""Faults under load: no acknowledged write is lost, and the audit chain stays whole.

Two app servers (``apcert serve``) and the worker (``apcert worker``) run on one data set.
Writers, each signed in as the demo organization's user, add sites through the back office's
form, sent to the two servers in turn (to the other one when a server refuses the connection,
as a load balancer would); a write is *acknowledged* when the server answered the
redirect that follows a save. While they write, the script

1. kills the first app server outright (SIGKILL of its main process, its workers dying with
   it) and starts it again;
2. kills the worker outright and starts it again;
3. ends every connection the app has to the database (``pg_terminate_backend`` on
   PostgreSQL; not available on SQLite, where this step is skipped and said so).

Then it checks every acknowledged site is in the database, runs the audit chain's check
(``apcert audit verify``) and prints the figures. Exit 0 when nothing acknowledged was lost
and the chain is whole, 1 otherwise.

The data set is the demo's (``apcert demo-data``), on SQLite under ``--var-dir`` or on the
PostgreSQL database of ``--database-url``. Traffic goes to 127.0.0.1 only, for a bounded
time. Example:

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/faults
    .venv/bin/apcert migrate --noinput && .venv/bin/apcert load-reference \\
        && .venv/bin/apcert demo-data --certificates 300
    .venv/bin/python bench/faults.py --database-url "$DATABASE_URL" --duration 40
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _servers import (
    HOST,
    BenchError,
    Server,
    add_data_arguments,
    free_port,
    install_cleanup,
    progress,
    setup_django,
    start,
)

SITE_NAME = "Fault test site {run} {writer}-{n}"


# --- a signed-in client of the back office ---------------------------------------------------


@dataclass
class Answer:
    status: int
    location: str
    body: bytes


class OfficeClient:
    """One person's cookies, sent to whichever server is asked; a new connection each time
    (a killed server must not leave a dead connection behind)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def request(
        self, port: int, method: str, path: str, form: dict[str, str] | None = None
    ) -> Answer:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        try:
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
            body = None
            if form is not None:
                body = urllib.parse.urlencode(form)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            content = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            return Answer(response.status, response.headers.get("Location", ""), content)
        finally:
            conn.close()

    def sign_in(self, port: int, username: str, password: str) -> None:
        self.request(port, "GET", "/office/sign-in")
        answer = self.request(
            port,
            "POST",
            "/office/sign-in",
            {
                "csrfmiddlewaretoken": self.cookies.get("csrftoken", ""),
                "username": username,
                "password": password,
            },
        )
        if answer.status != 302:
            raise BenchError(f"{username} could not sign in (HTTP {answer.status})")


# --- the writers --------------------------------------------------------------------------


@dataclass
class Tally:
    acknowledged: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    #: The first page of each refusal, for the figures' reader to see why.
    samples: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, name: str, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            (self.acknowledged if outcome == "acknowledged" else self.unanswered).append(name)


def writer(
    index: int,
    run: str,
    ports: list[int],
    org_id: int,
    account: tuple[str, str],
    stop: threading.Event,
    tally: Tally,
) -> None:
    client = OfficeClient()
    client.sign_in(ports[index % len(ports)], *account)
    path = f"/office/org/{org_id}/sites/new"
    n = 0
    while not stop.is_set():
        n += 1
        name = SITE_NAME.format(run=run, writer=index, n=n)
        port = ports[(index + n) % len(ports)]
        form = {
            "csrfmiddlewaretoken": client.cookies.get("csrftoken", ""),
            "name": name,
            "city": "Faultville",
            "country": "DE",
            "address": "",
            "published": "",
        }
        try:
            try:
                answer = client.request(port, "POST", path, form)
            except ConnectionRefusedError:
                # Nothing was sent: a load balancer would try the other server, and so do we.
                port = ports[(index + n + 1) % len(ports)]
                answer = client.request(port, "POST", path, form)
        except (OSError, http.client.HTTPException) as exc:
            tally.record(name, f"no answer ({type(exc).__name__})")
            time.sleep(0.05)
            continue
        if answer.status == 302 and answer.location.endswith(f"/office/org/{org_id}/"):
            tally.record(name, "acknowledged")
        else:
            tally.record(name, f"HTTP {answer.status}")
            tally.samples.setdefault(f"HTTP {answer.status}", answer.body)
            time.sleep(0.05)


# --- the faults ---------------------------------------------------------------------------


def kill_group(server: Server) -> None:
    """SIGKILL of the main process only, as an operator's ``kill -9`` or an OOM kill would
    do: its workers must die with it by themselves."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=10)


def terminate_connections() -> int:
    """End every other connection to the database; the number ended."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return -1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (ended,) = cursor.fetchone()
    return int(ended)


def leftover_workers(server: Server) -> list[int]:
    """Processes still running from a killed server's session (none expected)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[3]) == server.proc.pid:  # its session id
            found.append(int(entry.name))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    add_data_arguments(parser)
    parser.set_defaults(min_certificates=1)
    parser.add_argument("--duration", type=float, default=40.0, help="seconds of load (40)")
    parser.add_argument("--writers", type=int, default=4, help="writers at once (4)")
    parser.add_argument("--threads", type=int, default=4, help="threads per server (4)")
    parser.add_argument(
        "--replica-url",
        default="",
        help="a streaming replica of the --database-url server: the app servers and the "
        "worker read the public register from it (DATABASE_REPLICA_URLS)",
    )
    args = parser.parse_args()
    install_cleanup()
    env = setup_django(args)
    if args.replica_url:
        if not args.database_url:
            raise BenchError("--replica-url needs --database-url (a PostgreSQL primary)")
        env["DATABASE_REPLICA_URLS"] = args.replica_url

    from django.db import connection

    from apcert.demo.accounts import demo_accounts_ensure
    from apcert.organizations.models import Site

    accounts, notes = demo_accounts_ensure()
    org_account = next((a for a in accounts if a.role.startswith("organization user")), None)
    if org_account is None:
        raise BenchError("no demo organization user: " + "; ".join(notes))
    from apcert.accounts.models import User

    user = User.objects.get(username=org_account.username)
    org_id = int(user.organization_roles.values_list("organization_id", flat=True)[0])
    connection.close()

    logs = Path(tempfile.mkdtemp(prefix="apcert-faults-"))
    apcert = str(Path(sys.executable).with_name("apcert"))
    run = uuid.uuid4().hex[:8]
    ports = [free_port(), free_port()]

    def serve(name: str, port: int) -> contextlib.AbstractContextManager[Server]:
        argv = [apcert, "serve", "--host", HOST, "--port", str(port), "--workers", "1"]
        argv += ["--threads", str(args.threads)]
        return start(name, argv, port=port, env=env, ready_path="/healthz", logs=logs)

    def work(name: str) -> subprocess.Popen[bytes]:
        out = (logs / f"{name}.log").open("ab")
        return subprocess.Popen(  # noqa: S603 - our own command
            [apcert, "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    # The servers serve the static files from the data set's folder.
    subprocess.run(  # noqa: S603 - our own command
        [apcert, "collectstatic", "--noinput", "-v0"], env=env, check=True
    )
    tally = Tally()
    stop = threading.Event()
    events: list[str] = []
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(serve("app-1", ports[0]))
        stack.enter_context(serve("app-2", ports[1]))
        worker = work("worker-1")
        progress(
            f"two app servers on {ports} and the worker; {args.writers} writers"
            + (f"; public reads from the replica {args.replica_url}" if args.replica_url else "")
        )
        threads = [
            threading.Thread(
                target=writer,
                args=(i, run, ports, org_id, (org_account.username, org_account.password)),
                kwargs={"stop": stop, "tally": tally},
                daemon=True,
            )
            for i in range(args.writers)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()

        def at(fraction: float) -> None:
            time.sleep(max(0.0, started + args.duration * fraction - time.monotonic()))

        at(0.2)
        kill_group(first)
        time.sleep(1.0)
        left = leftover_workers(first)
        events.append(
            f"app-1 killed (SIGKILL of its main process); workers left running: {len(left)}"
        )
        progress(events[-1])
        stack.enter_context(serve("app-1-again", ports[0]))
        events.append("app-1 started again")
        at(0.45)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        events.append("worker killed (SIGKILL)")
        progress(events[-1])
        worker = work("worker-2")
        at(0.7)
        ended = terminate_connections()
        events.append(
            f"database connections ended: {ended}"
            if ended >= 0
            else "database connections not ended (SQLite has none to end)"
        )
        progress(events[-1])
        at(1.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        worker.terminate()
        worker.wait(timeout=30)
    elapsed = time.monotonic() - started

    stored = set(
        Site.objects.filter(name__startswith=f"Fault test site {run} ").values_list(
            "name", flat=True
        )
    )
    lost = [name for name in tally.acknowledged if name not in stored]
    unanswered_kept = [name for name in tally.unanswered if name in stored]
    check = subprocess.run(  # noqa: S603 - our own command
        [apcert, "audit", "verify", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    chain = (check.stdout + check.stderr).strip()

    print(f"\n## Faults under load ({connection.vendor}, {elapsed:.0f} s, {args.writers} writers)")
    print()
    for event in events:
        print(f"- {event}")
    print()
    print("| outcome of a write | count |")
    print("|---|---:|")
    for outcome, count in sorted(tally.outcomes.items(), key=lambda item: -item[1]):
        print(f"| {outcome} | {count:,} |")
    print()
    print(f"acknowledged writes: {len(tally.acknowledged):,}; of them missing: {len(lost):,}")
    print(
        f"unacknowledged writes that were kept all the same: {len(unanswered_kept):,} "
        f"(a write may commit and its answer be lost; that is no loss)"
    )
    for outcome, body in tally.samples.items():
        text = re.sub(r"<[^>]+>", " ", body.decode(errors="replace"))
        said = " ".join(text.split())
        print(f"{outcome}, the first one said: {said[-300:]}")
    print(f"audit chain: {chain}")
    print(f"logs: {logs}")
    ok = not lost and check.returncode == 0 and bool(tally.acknowledged)
    if not tally.acknowledged:
        print("no write was acknowledged: the load did not run", file=sys.stderr)
    if lost:
        print("LOST: " + ", ".join(lost[:20]), file=sys.stderr)
    if re.search(r"workers left running: [1-9]", " ".join(events)):
        print("a killed server left workers running", file=sys.stderr)
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
