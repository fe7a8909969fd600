"""Public API: organizations and certification bodies.

Registered into the public API by :mod:`apcert.api.public`. Each answer has its own output
schema listing its fields one by one, filled from
:mod:`apcert.register.directory`, which reads public fields only. A missing organization or
CB is a 404 problem ``{"code": ..., "message": ...}``, as for certificates.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from apcert.api.errors import BODY_NOT_FOUND, ORGANIZATION_NOT_FOUND
from apcert.register import directory

router = Router(tags=["directory"])


# --- output schemas ---------------------------------------------------------------------
# Named apart from those of apcert.api.public: OpenAPI components are keyed by class name.


class DirectoryProblem(Schema):
    code: str
    message: str


class NamedOut(Schema):
    code: str
    name: str


class CertificateCBOut(Schema):
    code: str
    name: str
    country: str


class HolderCertificateOut(Schema):
    number: str
    status: str
    status_since: dt.date
    status_recorded: bool = Field(
        description="False when the status, and its date, are what the calendar alone made "
        "them (validity ended, surveillance window missed, maximum suspension reached) and "
        "the register's daily check has not recorded this change yet."
    )
    expires_on: dt.date
    issue_number: int
    scheme: NamedOut
    programmes: list[NamedOut]
    cb: CertificateCBOut


class OrganizationOut(Schema):
    id: int
    name: str
    country: str
    certificates: list[HolderCertificateOut]


class AcceptanceOut(Schema):
    scheme: NamedOut
    programme: NamedOut
    status: str
    accepted_on: dt.date
    valid_until: dt.date | None
    in_force: bool
    categories: list[str]


class BodyOut(Schema):
    code: str
    name: str
    country: str
    website: str
    current_certificates: int
    acceptances: list[AcceptanceOut]


class BodiesOut(Schema):
    bodies: list[BodyOut]


class BodyHolderOut(Schema):
    name: str
    country: str


class BodyCertificateOut(Schema):
    number: str
    status_since: dt.date
    expires_on: dt.date
    issue_number: int
    organization_id: int
    holder: BodyHolderOut
    programmes: list[NamedOut]


class BodyDetailOut(BodyOut):
    page: int
    per_page: int
    pages: int
    certificates: list[BodyCertificateOut]


# --- rendering --------------------------------------------------------------------------


def _named(item: directory.Named) -> NamedOut:
    return NamedOut(code=item.code, name=item.name)


def _body_fields(body: directory.BodySummary) -> dict[str, object]:
    return {
        "code": body.code,
        "name": body.name,
        "country": body.country,
        "website": body.website,
        "current_certificates": body.current_certificates,
        "acceptances": [
            AcceptanceOut(
                scheme=_named(a.scheme),
                programme=_named(a.programme),
                status=a.status,
                accepted_on=a.accepted_on,
                valid_until=a.valid_until,
                in_force=a.in_force,
                categories=list(a.categories),
            )
            for a in body.acceptances
        ],
    }


# --- endpoints --------------------------------------------------------------------------


@router.get(
    "/organizations/{organization_id}",
    response={200: OrganizationOut, 404: DirectoryProblem},
    openapi_extra={
        "responses": {
            404: {
                "description": (
                    "Code `organization.not_found`: no organization with this id holds a "
                    "public certificate."
                )
            }
        }
    },
    summary="A certificate holder and its public certificates",
    description=(
        "Name and country as the holder's latest certificate issue gives them. An "
        "organization with no public certificate is not in the register."
    ),
)
def organization_detail(
    request: HttpRequest, organization_id: int
) -> OrganizationOut | Status[DirectoryProblem]:
    profile = directory.public_organization(organization_id)
    if profile is None:
        return Status(
            404,
            DirectoryProblem(
                code=ORGANIZATION_NOT_FOUND,
                message=f"There is no organization {organization_id} in the public register.",
            ),
        )
    return OrganizationOut(
        id=profile.id,
        name=profile.name,
        country=profile.country,
        certificates=[
            HolderCertificateOut(
                number=c.number,
                status=c.status,
                status_since=c.status_since,
                status_recorded=c.status_recorded,
                expires_on=c.expires_on,
                issue_number=c.issue_number,
                scheme=_named(c.scheme),
                programmes=[_named(p) for p in c.programmes],
                cb=CertificateCBOut(code=c.cb_code, name=c.cb_name, country=c.cb_country),
            )
            for c in profile.certificates
        ],
    )


@router.get(
    "/bodies",
    response={200: BodiesOut},
    summary="The accepted certification bodies",
    description=(
        "Every CB the Secretariat has accepted for a programme, by code, with its "
        "acceptances and its number of current certificates."
    ),
)
def body_list(request: HttpRequest) -> BodiesOut:
    return BodiesOut(
        bodies=[BodyOut(**_body_fields(body)) for body in directory.public_bodies()]  # type: ignore[arg-type]
    )


@router.get(
    "/bodies/{code}",
    response={200: BodyDetailOut, 404: DirectoryProblem},
    openapi_extra={
        "responses": {
            404: {
                "description": (
                    "Code `body.not_found`: no certification body the Secretariat has "
                    "accepted has this code."
                )
            }
        }
    },
    summary="A certification body and its current certificates, a page at a time",
)
def body_detail(
    request: HttpRequest,
    code: str,
    page: int = Query(
        1,
        ge=1,
        le=directory.BODY_CERTIFICATES_PAGE_MAX,
        description="The page of current certificates, from 1.",
    ),
    per_page: int = Query(
        directory.BODY_CERTIFICATES_PER_PAGE,
        ge=1,
        le=directory.BODY_CERTIFICATES_PER_PAGE_MAX,
        description="Certificates a page.",
    ),
) -> BodyDetailOut | Status[DirectoryProblem]:
    body = directory.public_body(code)
    if body is None:
        return Status(
            404,
            DirectoryProblem(
                code=BODY_NOT_FOUND,
                message=f"There is no certification body {code!r} in the public register.",
            ),
        )
    certificates = directory.body_current_certificates(body.code, page=page, per_page=per_page)
    return BodyDetailOut(
        **_body_fields(body),  # type: ignore[arg-type]
        page=certificates.page,
        per_page=certificates.per_page,
        pages=certificates.pages,
        certificates=[
            BodyCertificateOut(
                number=c.number,
                status_since=c.status_since,
                expires_on=c.expires_on,
                issue_number=c.issue_number,
                organization_id=c.organization_id,
                holder=BodyHolderOut(name=c.holder_name, country=c.holder_country),
                programmes=[_named(p) for p in c.programmes],
            )
            for c in certificates.items
        ],
    )
