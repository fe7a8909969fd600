"""Back-office page times on the demo data (target: every page under 200 ms).

    .venv/bin/python bench/office_pages.py [--var-dir /tmp/bench_office] [--certificates 20000]
                                           [--repeat 30] [--warmup 3] [--only calendar]

Builds the data set with ``apcert demo-data --certificates N --seed 1`` under ``--var-dir``
when it is missing (migrations and reference data first; progress on stderr), and makes sure
the demo accounts exist with their published passwords (``apcert demo-accounts``: the
Secretariat, the scheme manager, an assessor and a decision maker of the first demo CB, and a
user of one of its certified organizations). On that data set only.

Then, in this process with ``django.test.Client`` (the whole Django stack, every middleware,
no HTTP server): each demo user signs in through the sign-in page, and each back-office page
of their role (the home page with its dashboard, every list of the organization, CB and
Secretariat sections, one detail page of each kind) is asked ``--warmup`` times, then
``--repeat`` times one request at a time, timed from the call to the complete response. One
more request per page counts its SQL queries (not timed: counting costs time).

Baselines in the same run, asked the same way: the sign-in page (a form and nothing else)
and the public register's front page. Prints p50/p95/max ms and the query count per page,
and which pages meet the 200 ms target. The machine is noisy: compare a page's ratio to the
baselines between runs, not its milliseconds. The figures: docs/benchmarks.md, "Back office
pages".
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _servers as s

TARGET_MS = 200.0
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Page:
    role: str
    name: str
    path: str


@dataclass(frozen=True)
class Figures:
    page: Page
    times_ms: list[float]
    queries: int
    status: int

    @property
    def p50(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def worst(self) -> float:
        return max(self.times_ms)


# --- the data set -------------------------------------------------------------------------


def build_if_missing(args: argparse.Namespace) -> None:
    """Migrate, load the reference data and build N demo certificates, unless the SQLite
    database is already there (a PostgreSQL data set is the caller's to build)."""
    var = args.var_dir.resolve()
    if args.database_url or (var / "apcert.sqlite3").is_file():
        return
    var.mkdir(parents=True, exist_ok=True)
    env = s.app_environment(args)
    steps = [
        ("migrating", ["migrate", "--noinput", "-v0"]),
        ("loading the reference data", ["load-reference"]),
        (
            f"building {args.certificates:,} demo certificates (a few minutes)",
            ["demo-data", "--certificates", str(args.certificates), "--seed", "1"],
        ),
    ]
    for what, command in steps:
        s.progress(f"data set {var}: {what}")
        subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "apcert", *command], env=env, check=True
        )


def demo_accounts() -> dict[str, tuple[str, str]]:
    """role -> (username, password) of the demo accounts, created or reset on this data set
    (as ``apcert demo-accounts`` does)."""
    from apcert.demo.accounts import demo_accounts_ensure

    accounts, notes = demo_accounts_ensure()
    for note in notes:
        s.progress(f"demo accounts: {note}")
    roles = {}
    for account in accounts:
        label = account.role
        role = (
            "secretariat"
            if label.startswith("Secretariat")
            else "scheme manager"
            if "scheme manager" in label
            else "assessor"
            if "assessor" in label
            else "decision maker"
            if "decision maker" in label
            else "organization"
        )
        roles[role] = (account.username, account.password)
    missing = {"secretariat", "scheme manager", "assessor", "decision maker", "organization"}
    missing -= set(roles)
    if missing:
        raise s.BenchError(f"no demo account for {', '.join(sorted(missing))}: {notes}")
    return roles


# --- the pages ------------------------------------------------------------------------------


def pages_of(accounts: dict[str, tuple[str, str]]) -> list[Page]:
    """Every list of each role's section and a detail page of each kind, chosen from what
    the role sees (its selectors), the most recent first."""
    from apcert.accounts.models import User
    from apcert.applications.selectors import (
        applications_for_cb_staff,
        applications_for_organization_users,
    )
    from apcert.assessments.models import TeamMember
    from apcert.assessments.selectors import (
        assessments_for_cb_staff,
        findings_for_organization_users,
    )
    from apcert.bodies.models import CertificationBody
    from apcert.certificates.selectors import (
        certificates_for_cb_staff,
        certificates_for_organization_users,
    )
    from apcert.organizations.selectors import organizations_for_organization_users

    users = {role: User.objects.get(username=name) for role, (name, _) in accounts.items()}
    manager, assessor, decider = (
        users["scheme manager"],
        users["assessor"],
        users["decision maker"],
    )
    org_user = users["organization"]

    app = applications_for_cb_staff(manager).order_by("-submitted_at", "-pk").first()
    # the planning form is offered for an accepted application with no assessment yet
    to_plan = (
        applications_for_cb_staff(manager)
        .filter(status="accepted", assessments__isnull=True)
        .order_by("-submitted_at", "-pk")
        .first()
    )
    assessment = assessments_for_cb_staff(manager).order_by("-start_date", "-pk").first()
    cert = certificates_for_cb_staff(manager).order_by("-pk").first()
    on_team = (
        TeamMember.objects.filter(user=assessor)
        .order_by("-assessment__start_date", "-assessment_id")
        .values_list("assessment_id", flat=True)
        .first()
    )
    initial = (
        assessments_for_cb_staff(decider)
        .filter(kind="initial", application__isnull=False)
        .exclude(team__user=decider)
        .order_by("-start_date", "-pk")
        .first()
    )
    cb = CertificationBody.objects.order_by("code").first()
    org = organizations_for_organization_users(org_user).order_by("pk").first()
    if None in (app, assessment, cert, initial, cb, org):
        raise s.BenchError("the data set lacks an application, assessment or certificate")
    assert app and assessment and cert and initial and cb and org  # for mypy
    org_app = applications_for_organization_users(org_user).filter(organization=org).first()
    finding = findings_for_organization_users(org_user, organization_id=org.pk).first()
    org_cert = certificates_for_organization_users(org_user).filter(organization=org).first()

    o, cb_apps, cb_ass = (
        f"/office/org/{org.pk}",
        "/office/cb/applications",
        "/office/cb/assessments",
    )
    sm, dm, org_role = "scheme manager", "decision maker", "organization"
    pages = [
        Page("baseline", "sign-in page (anonymous)", "/office/sign-in"),
        Page("baseline", "public register front page (anonymous)", "/"),
        Page("secretariat", "home and dashboard", "/office/"),
        Page("secretariat", "CB list", "/office/secretariat/"),
        Page("secretariat", "CB detail", f"/office/secretariat/cbs/{cb.pk}/"),
        Page("secretariat", "reference data", "/office/secretariat/reference/"),
        Page("secretariat", "certificate list", "/office/secretariat/certificates/"),
        Page("secretariat", "review before publication", "/office/secretariat/publication/"),
        Page("secretariat", "organization list", "/office/org/"),
        Page("secretariat", "invitations", "/office/invitations/"),
        Page(sm, "home and dashboard", "/office/"),
        Page(sm, "application list", f"{cb_apps}/"),
        Page(sm, "application detail", f"{cb_apps}/{app.pk}/"),
        Page(sm, "assessment list", f"{cb_ass}/"),
        Page(sm, "assessment detail", f"{cb_ass}/{assessment.pk}/"),
        Page(sm, "certificate list", "/office/cb/certificates/"),
        Page(sm, "certificate detail", f"/office/cb/certificates/{cert.pk}/"),
        Page(sm, "certificate history", f"/office/cb/certificates/{cert.pk}/history"),
        Page(
            sm, "plan a surveillance (form)", f"/office/cb/certificates/{cert.pk}/plan/surveillance"
        ),
        Page(sm, "take over a certificate (form)", "/office/cb/transfers/take-over"),
        Page(sm, "calendar of visits", "/office/cb/calendar/"),
        Page(sm, "messages", "/office/messages/"),
        Page(sm, "assessment history", f"{cb_ass}/{assessment.pk}/history"),
        Page(sm, "application history", f"{cb_apps}/{app.pk}/history"),
        Page("assessor", "home and dashboard", "/office/"),
        Page("assessor", "assessment list", f"{cb_ass}/"),
        Page("assessor", "assessments on my team", f"{cb_ass}/?show=mine"),
        Page("assessor", "calendar of visits", "/office/cb/calendar/"),
    ]
    if to_plan is not None:
        pages.append(Page(sm, "plan an assessment (form)", f"{cb_apps}/{to_plan.pk}/plan"))
    else:
        s.progress("no accepted application awaits its assessment: its planning form is not read")
    if on_team is not None:
        pages.append(Page("assessor", "assessment detail (on its team)", f"{cb_ass}/{on_team}/"))
    pages += [
        Page(dm, "home and dashboard", "/office/"),
        Page(dm, "decision page", f"{cb_ass}/{initial.pk}/decision"),
        Page(dm, "certificate detail", f"/office/cb/certificates/{cert.pk}/"),
        Page(dm, "suspend (form)", f"/office/cb/certificates/{cert.pk}/suspend"),
        Page(dm, "assessments awaiting my decision", f"{cb_ass}/?show=decide"),
        Page(dm, "assessment report (HTML)", f"{cb_ass}/{initial.pk}/report.html"),
        Page(org_role, "home and dashboard", "/office/"),
        Page(org_role, "profile and sites", f"{o}/"),
        Page(org_role, "application list", f"{o}/applications/"),
        Page(org_role, "finding list", f"{o}/findings/"),
        Page(org_role, "certificate list", f"{o}/certificates/"),
    ]
    if org_app is not None:
        pages.append(Page(org_role, "application detail", f"{o}/applications/{org_app.pk}/"))
    if finding is not None:
        pages.append(Page(org_role, "finding detail", f"{o}/findings/{finding.pk}/"))
    if org_cert is not None:
        pages.append(Page(org_role, "certificate detail", f"{o}/certificates/{org_cert.pk}/"))
    return pages


def client_for(role: str, accounts: dict[str, tuple[str, str]]) -> Any:
    """A client signed in as the role's demo user through the sign-in page (anonymous for
    the baselines)."""
    from django.test import Client

    client = Client(HTTP_HOST=HOST, REMOTE_ADDR=HOST)
    if role == "baseline":
        return client
    username, password = accounts[role]
    response = client.post("/office/sign-in", {"username": username, "password": password})
    if response.status_code != 302:
        raise s.BenchError(f"{username} could not sign in: HTTP {response.status_code}")
    return client


def measure(client: Any, page: Page, *, warmup: int, repeat: int) -> Figures:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    get: Callable[[str], Any] = client.get
    status = 0
    for _ in range(warmup):
        status = get(page.path).status_code
    if status != 200:
        raise s.BenchError(f"{page.role}: {page.path} answered HTTP {status}")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = get(page.path)
        _ = response.content
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        get(page.path)
    return Figures(page, times, len(queries), status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "bench_office",
        help="APCERT_VAR_DIR of the data set; default /tmp/bench_office",
    )
    parser.add_argument(
        "--database-url", default="", help="DATABASE_URL of the data set instead of SQLite"
    )
    parser.add_argument(
        "--certificates",
        type=int,
        default=20_000,
        help="certificates of the data set built when it is missing (default 20,000)",
    )
    parser.add_argument("--repeat", type=int, default=30, help="timed requests a page")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests first")
    parser.add_argument(
        "--only",
        default="",
        help="measure only the pages whose name holds this text (the baselines always)",
    )
    args = parser.parse_args()

    build_if_missing(args)
    s.setup_django(args)
    from django.conf import settings

    from apcert.certificates.choices import PUBLIC_STATUSES
    from apcert.certificates.models import Certificate

    s.progress("demo accounts")
    accounts = demo_accounts()
    pages = [
        p for p in pages_of(accounts) if p.role == "baseline" or args.only.lower() in p.name.lower()
    ]
    clients = {role: client_for(role, accounts) for role in dict.fromkeys(p.role for p in pages)}
    certificates = Certificate.objects.count()
    public = Certificate.objects.filter(status__in=PUBLIC_STATUSES).count()
    s.progress(f"{len(pages)} pages, {args.warmup} + {args.repeat} requests each")
    results = []
    for page in pages:
        results.append(measure(clients[page.role], page, warmup=args.warmup, repeat=args.repeat))
        r = results[-1]
        s.progress(f"  {page.role}: {page.name}: p50 {r.p50:.1f} ms")

    print(
        f"Back-office pages, in-process (django.test.Client), {dt.date.today().isoformat()}: "
        f"{certificates:,} certificates ({public:,} public); {s.data_description(args)}; "
        f"DEBUG={settings.DEBUG}; {args.warmup} warm-up + {args.repeat} timed requests a page"
    )
    baseline = statistics.median(r.p50 for r in results if r.page.role == "baseline")
    header = (
        f"{'role':<15} {'page':<38} {'p50':>7} {'p95':>7} {'max':>7} {'x base':>7} "
        f"{'SQL':>4}  target"
    )
    print(header)
    print("-" * len(header))
    slow = []
    for r in results:
        meets = r.p95 < TARGET_MS and r.worst < TARGET_MS
        verdict = "yes" if meets else ("p95 yes, max no" if r.p95 < TARGET_MS else "NO")
        if r.page.role != "baseline" and not meets:
            slow.append(r)
        if r.page.role == "baseline":
            verdict = "-"
        print(
            f"{r.page.role:<15} {r.page.name:<38} {r.p50:7.1f} {r.p95:7.1f} {r.worst:7.1f} "
            f"{r.p50 / baseline:7.1f} {r.queries:4d}  {verdict}"
        )
    print()
    measured = [r for r in results if r.page.role != "baseline"]
    print(
        f"Target: every page under {TARGET_MS:.0f} ms. {len(measured) - len(slow)} of "
        f"{len(measured)} pages answered every timed request under it"
        + (": all of them." if not slow else "; not: " + ", ".join(
            f"{r.page.role} {r.page.name} (p95 {r.p95:.0f} ms, max {r.worst:.0f} ms)"
            for r in slow
        ))
    )  # fmt: skip
    print(f"Baseline (median p50 of the two anonymous pages): {baseline:.1f} ms.")


if __name__ == "__main__":
    main()
