"""The public webhook pages: a buyer subscribes without an account, confirms from the mailed
link, and manages the subscription with the same link.

The form is limited per client address (a handful an hour), since each subscription mails
a confirmation; nothing is sent to the receiver before the owner of the address confirms.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from apcert.core.errors import DomainError
from apcert.core.ratelimit import RateLimiter, client_key
from apcert.webhooks.choices import SubscriptionStatus
from apcert.webhooks.forms import PublicWebhookForm
from apcert.webhooks.lifecycle import SUBSCRIPTION
from apcert.webhooks.services import (
    Filters,
    webhook_by_link,
    webhook_link_act,
    webhook_subscribe_public,
)

#: Public subscriptions one client address may ask for, per hour (each mails a link).
SUBSCRIBE_PER_HOUR = 5
_limiter = RateLimiter(SUBSCRIBE_PER_HOUR, 3600)


def _form_page(request: HttpRequest, form: PublicWebhookForm, status: int = 200) -> HttpResponse:
    return render(request, "webhooks/subscribe.html", {"form": form}, status=status)


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _form_page(request, PublicWebhookForm())
    form = PublicWebhookForm(request.POST)
    if not form.is_valid():
        return _form_page(request, form, status=400)
    wait = _limiter.hit(client_key(request.META, settings.TRUSTED_PROXY_HEADER))
    if wait:
        form.add_error(None, "Too many subscriptions from your address: try again later.")
        response = _form_page(request, form, status=429)
        response["Retry-After"] = str(int(wait) + 1)
        return response
    data = form.cleaned_data
    base = request.build_absolute_uri(reverse("webhooks:link", args=["TOKEN"]))
    try:
        webhook_subscribe_public(
            email=data["email"],
            name=data["name"],
            url=data["url"],
            event_types=data["event_types"],
            filters=Filters(
                cb=data["filter_cb"],
                organization=data["filter_organization"],
                country=data["filter_country"],
                category=data["filter_category"],
            ),
            link_base=base.removesuffix("TOKEN"),
        )
    except DomainError as exc:
        fields = {"country": "filter_country", "category": "filter_category"}
        name = fields.get(exc.field or "", exc.field)
        form.add_error(name if name in form.fields else None, exc.message)
        return _form_page(request, form, status=400)
    return render(request, "webhooks/subscribe_sent.html", {"email": data["email"]})


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def link(request: HttpRequest, token: str) -> HttpResponse:
    """The mailed link: confirm (by a button: a mail scanner that opens links confirms
    nothing), then see the secret, pause, resume or delete."""
    try:
        subscription = webhook_by_link(token)
        if request.method == "POST":
            action = request.POST.get("action", "")
            if action not in (*SUBSCRIPTION.actions, "delete"):
                action = ""
            if action:
                was_pending = subscription.status == SubscriptionStatus.PENDING
                after = webhook_link_act(token=token, action=action)
                if after is None:
                    return render(request, "webhooks/deleted.html", {"name": subscription.name})
                return render(
                    request,
                    "webhooks/manage.html",
                    {"subscription": after, "show_secret": was_pending and action == "confirm"},
                )
    except DomainError as exc:
        return render(
            request, "webhooks/link_refused.html", {"message": exc.message}, status=exc.http_status
        )
    return render(request, "webhooks/manage.html", {"subscription": subscription})
