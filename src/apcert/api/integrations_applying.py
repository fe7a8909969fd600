"""The organization's side of its application over the API for integrators: submit a
draft to the CB (every rule of the scheme is checked, as on the organization's application
page, the first broken one answered with its code and the others listed with it), and
withdraw an application until a certification decision is taken on it.

Each calls the service of the organization's screen with the token's issuer as the actor
(a user of the organization). Drafting the application (its sites, programmes and scope
lines) is done in the back office.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from apcert.api.integrations import (
    WRITE_HEADERS,
    ApplicationOut,
    Problem,
    ReasonIn,
    api,
    application_out,
    caller_of,
    place_application,
    require_write_scope,
    written,
)
from apcert.applications.services import application_submit, application_withdraw

_ANSWERS: dict[int, Any] = {
    200: ApplicationOut,
    400: Problem,
    401: Problem,
    403: Problem,
    404: Problem,
    409: Problem,
    422: Problem,
}


@api.post(
    "/applications/{application_id}/submit",
    response=_ANSWERS,
    operation_id="application_submit",
    summary="Submit a draft application of the token's organization to its CB",
    description="A user of the organization. Every rule of the scheme is checked: the "
    "refusal answers the first broken one's code and lists the others in its message.",
    openapi_extra=WRITE_HEADERS,
)
def application_submit_api(request: HttpRequest, application_id: int) -> HttpResponse:
    caller = caller_of(request)
    require_write_scope(caller)
    application = place_application(request, application_id)
    return written(
        request,
        lambda: application_out(application_submit(actor=caller.user, application=application)),
    )


@api.post(
    "/applications/{application_id}/withdraw",
    response=_ANSWERS,
    operation_id="application_withdraw",
    summary="Withdraw an application of the token's organization, until a certification "
    "decision is taken on it",
    description="A user of the organization; the reason is optional.",
    openapi_extra=WRITE_HEADERS,
)
def application_withdraw_api(
    request: HttpRequest, application_id: int, body: ReasonIn | None = None
) -> HttpResponse:
    caller = caller_of(request)
    require_write_scope(caller)
    application = place_application(request, application_id)
    reason = body.reason if body is not None else ""
    return written(
        request,
        lambda: application_out(
            application_withdraw(actor=caller.user, application=application, reason=reason)
        ),
    )
