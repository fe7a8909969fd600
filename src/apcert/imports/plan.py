"""Comparing the file's certificates with the register: each is new, changed (an earlier
import wrote it with other facts) or unchanged (the same facts), keyed by its number. A
number that apcert itself granted is never written by an import. The holders and sites the
new certificates name are matched with those the register knows."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from apcert.certificates.lifecycle import CERTIFICATE
from apcert.certificates.models import Certificate
from apcert.imports.choices import ImportAction
from apcert.imports.errors import (
    IMPORT_GRANT_DATE_FIXED,
    IMPORT_HOLDER_CONFLICT,
    IMPORT_NUMBER_TAKEN,
    IMPORT_STATUS_NOT_REACHABLE,
)
from apcert.imports.validate import CertificateFacts, Problem, holder_key
from apcert.organizations.models import Organization, Site

#: Values a query names at once (under SQLite's and PostgreSQL's limits on parameters).
IN_CHUNK = 900


def chunked(items: list[Any], size: int = IN_CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass
class Planned:
    cert: CertificateFacts
    action: str
    certificate_id: int | None = None
    status: str = ""  # the stored status of a changed certificate
    old: dict[str, Any] | None = None


@dataclass
class Plan:
    items: list[Planned] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: Holder key -> organization id of the holders the register knows.
    organizations: dict[tuple[str, str, str], int] = field(default_factory=dict)
    #: (organization id, site name) -> site id of the sites the register knows.
    sites: dict[tuple[int, str], int] = field(default_factory=dict)

    def count(self, action: str) -> int:
        return sum(1 for item in self.items if item.action == action)


def status_action(from_status: str, to_status: str) -> str | None:
    """The action of the certificate lifecycle that leads from one status to the other."""
    for action in CERTIFICATE.actions_from(from_status):
        if CERTIFICATE.next_state(from_status, action) == to_status:
            return action
    return None


def _holder_values(holder: dict[str, Any]) -> tuple[str, ...]:
    return (
        holder["name"], holder["country"], holder["registration_number"],
        holder["registration_authority"], holder["address"],
    )  # fmt: skip


def _org_values(org: Organization) -> tuple[str, ...]:
    return (
        org.legal_name, org.country, org.registration_number, org.registration_authority,
        org.address,
    )  # fmt: skip


def make_plan(certificates: Iterable[CertificateFacts]) -> Plan:
    plan = Plan()
    certs = list(certificates)
    stored: dict[str, tuple[int, str, Any, Any]] = {}
    for numbers in chunked([c.number for c in certs]):
        for pk, number, status, fp, facts in Certificate.objects.filter(
            number__in=numbers
        ).values_list(
            "pk", "number", "status", "import_record__fingerprint", "import_record__facts"
        ):
            stored[number] = (pk, status, fp, facts)
    for cert in certs:
        found = stored.get(cert.number)
        if found is None:
            plan.items.append(Planned(cert, ImportAction.NEW))
            continue
        pk, status, fp, facts = found
        if fp is None:
            plan.problems.append(
                Problem(
                    cert.rows[0], "number", IMPORT_NUMBER_TAKEN,
                    f"{cert.number} was granted in this register, not imported: an import "
                    "never writes over it.",
                )
            )  # fmt: skip
            continue
        if fp == cert.fingerprint:
            plan.items.append(Planned(cert, ImportAction.UNCHANGED, pk, status, facts))
            continue
        new = cert.facts
        if new["granted_on"] != facts["granted_on"]:
            plan.problems.append(
                Problem(
                    cert.rows[0], "granted_on", IMPORT_GRANT_DATE_FIXED,
                    f"{cert.number} was imported granted on {facts['granted_on']}; its grant "
                    "date is not corrected by an import.",
                )
            )  # fmt: skip
            continue
        moves = new["status"] != facts["status"] and new["status"] != status
        if moves and status_action(status, new["status"]) is None:
            plan.problems.append(
                Problem(
                    cert.rows[0], "status", IMPORT_STATUS_NOT_REACHABLE,
                    f"{cert.number} is {status}; the certificate lifecycle does not lead "
                    f"from {status} to {new['status']}.",
                )
            )  # fmt: skip
            continue
        plan.items.append(Planned(cert, ImportAction.CHANGED, pk, status, facts))
    _match_holders(plan)
    return plan


def _match_holders(plan: Plan) -> None:
    """Find the holders and sites of the written certificates that the register knows. One
    it knows with other details is a conflict, unless the file corrects a certificate an
    earlier import wrote for it (the correction then updates the holder)."""
    written = [item for item in plan.items if item.action != ImportAction.UNCHANGED]
    holders: dict[tuple[str, str, str], dict[str, Any]] = {}
    corrected: set[tuple[str, str, str]] = set()
    first_row: dict[tuple[str, str, str], int] = {}
    for item in written:
        key = holder_key(item.cert.facts["holder"])
        holders.setdefault(key, item.cert.facts["holder"])
        first_row.setdefault(key, item.cert.rows[0])
        if item.action == ImportAction.CHANGED:
            corrected.add(key)
            old = item.old or {}
            if "holder" in old:
                corrected.add(holder_key(old["holder"]))
    by_number = [k for k in holders if k[0] == "number"]
    by_name = [k for k in holders if k[0] == "name"]
    orgs: dict[tuple[str, str, str], Organization] = {}
    for keys in chunked(by_number):
        for org in Organization.objects.filter(registration_number__in=[k[2] for k in keys]):
            orgs[("number", org.country, org.registration_number)] = org
    for keys in chunked(by_name):
        names = [holders[k]["name"] for k in keys]
        for org in Organization.objects.filter(registration_number="", legal_name__in=names):
            orgs.setdefault(("name", org.country, org.legal_name.casefold()), org)
    for key, holder in holders.items():
        if key not in orgs:
            continue
        org = orgs[key]
        plan.organizations[key] = org.pk
        if _org_values(org) != _holder_values(holder) and key not in corrected:
            plan.problems.append(
                Problem(
                    first_row[key], "holder_name", IMPORT_HOLDER_CONFLICT,
                    f"The register knows this holder as {org.legal_name} ({org.country}, "
                    f"{org.registration_number or 'no registration number'}"
                    f"{', ' + org.registration_authority if org.registration_authority else ''}"
                    "); give the same details, or correct the holder in the register first.",
                )
            )  # fmt: skip
    for ids in chunked(sorted(set(plan.organizations.values()))):
        for site_id, org_id, name in Site.objects.filter(organization_id__in=ids).values_list(
            "pk", "organization_id", "name"
        ):
            plan.sites[(org_id, name)] = site_id
