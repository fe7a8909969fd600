"""Back-office pages: home, sign-out, messages, invitations, API tokens, webhooks.

Sign-in, password change and password reset are Django's own views with our templates
(:mod:`apcert.web.urls`). Every view here parses input, calls one service or selector and
renders; the services decide what is allowed.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apcert.accounts.api_tokens import (
    api_token_issue,
    api_tokens_visible_to,
    may_revoke,
    places_to_issue_for,
)
from apcert.accounts.api_tokens import api_token_revoke as revoke_api_token
from apcert.accounts.models import User
from apcert.accounts.selectors import (
    invitation_target,
    invitation_target_kinds,
    invitations_pending_visible_to,
    may_invite_anywhere,
    user_roles,
)
from apcert.accounts.services import invitation_accept as accept_invitation
from apcert.accounts.services import invitation_check, invitation_create
from apcert.bodies.models import CertificationBody
from apcert.core.errors import DomainError, PermissionDenied
from apcert.notifications.models import Message
from apcert.notifications.selectors import (
    message_of,
    messages_listed,
    notification_preferences,
    unread_messages,
)
from apcert.notifications.services import (
    message_mark_read,
    messages_mark_all_read,
    notification_preferences_set,
)
from apcert.organizations.models import Organization
from apcert.web.chooser import answers_kept, query_of, wants_matches
from apcert.web.errors import add_form_error, error_page
from apcert.web.lists import ChoiceFilter, Search, Sort, list_page
from apcert.web.section import current_user, section
from apcert.web.sections.account.choosers import invitation_target_chooser
from apcert.web.sections.account.dashboard import dashboard_context
from apcert.web.sections.account.forms import (
    NOT_A_TARGET,
    ApiTokenForm,
    InvitationAcceptForm,
    InvitationForm,
    MailPreferencesForm,
    WebhookForm,
    place_value,
)
from apcert.web.sections.account.refusals import (
    NO_RIGHT_TO_API_TOKENS,
    NO_RIGHT_TO_INVITE,
    NO_RIGHT_TO_WEBHOOKS,
)
from apcert.web.targets import message_link, message_links
from apcert.webhooks.models import WebhookSubscription
from apcert.webhooks.selectors import deliveries_of, subscriptions_visible_to
from apcert.webhooks.services import (
    Filters,
    webhook_delete,
    webhook_pause,
    webhook_replay,
    webhook_resume,
    webhook_subscribe,
)

#: How many unread messages the home page shows.
HOME_MESSAGES = 5


@require_http_methods(["GET", "HEAD"])
@section("home")
def home(request: HttpRequest) -> HttpResponse:
    """Who the signed-in person is, the roles they hold, and their dashboard."""
    user = current_user(request)
    roles = user_roles(user)
    inbox = unread_messages(user, HOME_MESSAGES)
    return render(
        request,
        "web/account/home.html",
        {
            "inbox": _with_links(user, inbox),
            "roles": roles,
            "may_invite": may_invite_anywhere(user),
            "section": "home",
            **dashboard_context(roles, today=timezone.localdate()),
        },
    )


class SignOutView(auth_views.LogoutView):
    """Sign out (POST only), then back to the sign-in page with a note saying so."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        was_signed_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_signed_in:
            messages.info(request, "You are signed out.")
        return response


# --- messages and mail preferences -------------------------------------------------------------

MESSAGE_SORTS = {"received": Sort("Received", ("created_at",))}
MESSAGE_STATES = ChoiceFilter(
    "state", "state", (("unread", "unread"), ("read", "read")), label="Read or not"
)
MESSAGE_SEARCH = Search("Search the subject and text", ("subject__icontains", "body__icontains"))


def _with_links(user: User, listed: list[Message]) -> list[tuple[Message, str | None]]:
    """Each message with the link to its record (None when there is none)."""
    links = message_links(user, listed)
    return [(m, links.get(m.pk)) for m in listed]


def _back_to_list(request: HttpRequest) -> HttpResponse:
    """Back where the form was posted from (the list with its filters, or home), else the list."""
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    return redirect("web:messages")


@require_http_methods(["GET", "HEAD"])
@section("messages")
def message_list(request: HttpRequest) -> HttpResponse:
    """The signed-in person's messages, newest first, each with a link to its record."""
    user = current_user(request)
    listing = list_page(
        request,
        messages_listed(user),
        sorts=MESSAGE_SORTS,
        default_sort="-received",
        filters=[MESSAGE_STATES],
        search=MESSAGE_SEARCH,
    )
    return render(
        request,
        "web/account/messages.html",
        {"listing": listing, "rows": _with_links(user, listing.items)},
    )


def _own_message(request: HttpRequest, pk: int) -> Message:
    message = message_of(current_user(request), pk)
    if message is None:
        raise Http404("No such message.")
    return message


@require_http_methods(["POST"])
@section("messages")
def message_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark the message read and go to the record it is about (the list if it has none)."""
    user = current_user(request)
    message = message_mark_read(actor=user, message=_own_message(request, pk))
    link = message_link(user, message)
    if link is None:
        messages.info(request, "That message has no page to open; it is marked as read.")
        return redirect("web:messages")
    return redirect(link)


@require_http_methods(["POST"])
@section("messages")
def message_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one message read, then back to the list."""
    message_mark_read(actor=current_user(request), message=_own_message(request, pk))
    return _back_to_list(request)


@require_http_methods(["POST"])
@section("messages")
def messages_read_all(request: HttpRequest) -> HttpResponse:
    """Mark every unread message of the person read, then back to the list."""
    count = messages_mark_all_read(actor=current_user(request))
    if count:
        messages.success(request, f"{count} message{'s' if count != 1 else ''} marked as read.")
    return _back_to_list(request)


@require_http_methods(["GET", "HEAD", "POST"])
@section("mail")
def mail_preferences(request: HttpRequest) -> HttpResponse:
    """Choose which groups of e-mails to get; the in-app messages are kept either way."""
    user = current_user(request)
    if request.method != "POST":
        form = MailPreferencesForm(initial=notification_preferences(user))
        return render(request, "web/account/mail_preferences.html", {"form": form})
    form = MailPreferencesForm(request.POST)
    if form.is_valid():
        try:
            notification_preferences_set(actor=user, mail=dict(form.cleaned_data))
        except DomainError as exc:
            add_form_error(form, exc)
        else:
            messages.success(request, "Your mail preferences are saved.")
            return redirect(reverse("web:mail-preferences"))
    return render(request, "web/account/mail_preferences.html", {"form": form}, status=400)


# --- invitations --------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
@section("invitations")
def invitation_list(request: HttpRequest) -> HttpResponse:
    """The invitations not yet accepted nor expired that the user sent or administers."""
    user = current_user(request)
    if not may_invite_anywhere(user):
        return error_page(request, NO_RIGHT_TO_INVITE, title="Invitations")
    return render(
        request,
        "web/account/invitations.html",
        {"invitations": list(invitations_pending_visible_to(user)), "section": "invitations"},
    )


def _invitation_form(
    request: HttpRequest, form: InvitationForm, *, query: str = "", status: int = 200
) -> HttpResponse:
    value = form["target"].value()
    chooser = invitation_target_chooser(
        current_user(request), query=query, selected=value if isinstance(value, str) else ""
    )
    return render(
        request,
        "web/account/invitation_new.html",
        {"form": form, "chooser": chooser, "section": "invite"},
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@section("invite")
def invitation_new(request: HttpRequest) -> HttpResponse:
    """Invite a colleague to a CB or an organization the user administers, chosen by a
    search among those places only."""
    user = current_user(request)
    kinds = invitation_target_kinds(user)
    if not any(kinds):
        return error_page(request, NO_RIGHT_TO_INVITE, title="Invite a colleague")
    if request.method != "POST":
        return _invitation_form(request, InvitationForm(kinds=kinds))
    form = InvitationForm(request.POST, kinds=kinds)
    query = query_of(request.POST, "target")
    if wants_matches(request, "target"):
        kept = InvitationForm(initial=answers_kept(form), kinds=kinds)
        return _invitation_form(request, kept, query=query)
    if form.is_valid():
        # Read among the places the user may invite to only: any other reads as unknown.
        target = invitation_target(user, form.cleaned_data["target"])
        kind, _, role = form.cleaned_data["role"].partition(":")
        if target is None:
            form.add_error("target", NOT_A_TARGET)
        else:
            cb = target if isinstance(target, CertificationBody) else None
            organization = target if isinstance(target, Organization) else None
            try:
                sent = invitation_create(
                    actor=user,
                    email=form.cleaned_data["email"],
                    cb=cb,
                    organization=organization,
                    cb_role=role if kind == "cb" else None,
                    org_role=role if kind == "org" else None,
                    site_url=request.build_absolute_uri("/"),
                )
            except PermissionDenied as exc:
                return error_page(request, exc, title="Invite a colleague")
            except DomainError as exc:
                add_form_error(form, exc, {"cb_role": "role", "org_role": "role"})
            else:
                invitation = sent.invitation
                messages.success(
                    request,
                    f"The invitation is on its way to {invitation.email}: "
                    f"{invitation.role_label} at {invitation.target_label}.",
                )
                return redirect("web:invitations")
    return _invitation_form(request, form, query=query, status=400)


_GONE = {"invitation.used", "invitation.expired"}


def _invitation_refused(request: HttpRequest, error: DomainError) -> HttpResponse:
    response = error_page(request, error, title="Invitation")
    if error.code in _GONE:
        response.status_code = 410
    return response


@login_not_required
@never_cache
@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "HEAD", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Accept an invitation: choose a username and a password; the account gets its role."""
    try:
        invitation = invitation_check(token=token)
    except DomainError as exc:
        return _invitation_refused(request, exc)
    form = InvitationAcceptForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            user = accept_invitation(
                token=token,
                username=form.cleaned_data["username"],
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
            )
        except DomainError as exc:
            if not exc.field:
                return _invitation_refused(request, exc)
            add_form_error(form, exc, {"password": "password1"})
        else:
            messages.success(
                request,
                f"Your account {user.username} is ready: {invitation.role_label} at "
                f"{invitation.target_label}. Sign in with your username and password.",
            )
            return redirect("web:sign-in")
    return render(
        request,
        "web/account/invitation_accept.html",
        {"invitation": invitation, "form": form},
        status=400 if form.is_bound else 200,
    )


# --- API tokens ----------------------------------------------------------------------------------


@require_safe
@section("api-tokens")
def api_token_list(request: HttpRequest) -> HttpResponse:
    """The API tokens the user issued or whose place they administer (every one, for the
    Secretariat), each with its state and, while active, a button to revoke it."""
    user = current_user(request)
    may_issue = bool(places_to_issue_for(user))
    tokens = list(api_tokens_visible_to(user))
    if not may_issue and not tokens:
        return error_page(request, NO_RIGHT_TO_API_TOKENS, title="API tokens")
    return render(
        request,
        "web/account/api_tokens.html",
        {
            "rows": [(t, t.active and may_revoke(user, t)) for t in tokens],
            "may_issue": may_issue,
            "section": "api-tokens",
        },
    )


def _api_token_form(request: HttpRequest, form: ApiTokenForm, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "web/account/api_token_new.html",
        {"form": form, "section": "api-tokens"},
        status=status,
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@section("api-tokens")
@sensitive_variables("issued")
def api_token_new(request: HttpRequest) -> HttpResponse:
    """Issue a token for a place the user administers, and show its secret this once: it
    is not stored, so it is never in an address, a message or a log."""
    user = current_user(request)
    places = places_to_issue_for(user)
    if not places:
        return error_page(request, NO_RIGHT_TO_API_TOKENS, title="Issue an API token")
    if request.method != "POST":
        return _api_token_form(request, ApiTokenForm(places=places))
    form = ApiTokenForm(request.POST, places=places)
    if form.is_valid():
        # The field accepts only the places offered: the value names one of them.
        place = {place_value(p): p for p in places}[form.cleaned_data["place"]]
        try:
            issued = api_token_issue(
                actor=user,
                name=form.cleaned_data["name"],
                place=place,
                scope=form.cleaned_data["scope"],
                expires_in_days=form.cleaned_data["expires_in_days"],
            )
        except DomainError as exc:
            add_form_error(form, exc)
        else:
            return render(
                request,
                "web/account/api_token_issued.html",
                {
                    "token": issued.token,
                    "secret": issued.secret,
                    "check_url": request.build_absolute_uri(reverse("integrations-api:token_read")),
                    "section": "api-tokens",
                },
            )
    return _api_token_form(request, form, status=400)


@require_POST
@section("api-tokens")
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke a token: the next request that sends it is refused."""
    user = current_user(request)
    token = api_tokens_visible_to(user).filter(pk=pk).first()
    if token is None:
        raise Http404("No API token of yours has this number.")
    try:
        revoked = revoke_api_token(actor=user, token=token)
    except DomainError as exc:
        return error_page(request, exc, title="Revoke an API token")
    messages.success(
        request,
        f"The API token {revoked.name} ({revoked.hint}…) is revoked: it no longer works.",
    )
    return redirect("web:api-tokens")


# --- webhooks ------------------------------------------------------------------------------------


def _webhook_places(user: User) -> list[CertificationBody | Organization]:
    """The CBs and organizations ``user`` administers (a webhook is for one of them)."""
    return [p for p in places_to_issue_for(user) if p is not None]


def _webhook_of(user: User, pk: int) -> WebhookSubscription:
    subscription = subscriptions_visible_to(user).filter(pk=pk).first()
    if subscription is None:
        raise Http404("No webhook of a place you administer has this number.")
    return subscription


@require_safe
@section("webhooks")
def webhook_list(request: HttpRequest) -> HttpResponse:
    """The webhook subscriptions of the places the user administers."""
    user = current_user(request)
    places = _webhook_places(user)
    if not places:
        return error_page(request, NO_RIGHT_TO_WEBHOOKS, title="Webhooks")
    return render(
        request,
        "web/account/webhooks.html",
        {"subscriptions": list(subscriptions_visible_to(user)), "section": "webhooks"},
    )


def _webhook_form(request: HttpRequest, form: WebhookForm, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "web/account/webhook_new.html",
        {"form": form, "section": "webhooks"},
        status=status,
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@section("webhooks")
@sensitive_variables("made")
def webhook_new(request: HttpRequest) -> HttpResponse:
    """Subscribe a receiver for a place the user administers, and show its signing secret
    this once."""
    user = current_user(request)
    places = _webhook_places(user)
    if not places:
        return error_page(request, NO_RIGHT_TO_WEBHOOKS, title="New webhook")
    if request.method != "POST":
        return _webhook_form(request, WebhookForm(places=places))
    form = WebhookForm(request.POST, places=places)
    if form.is_valid():
        place = {place_value(p): p for p in places}[form.cleaned_data["place"]]
        data = form.cleaned_data
        try:
            made = webhook_subscribe(
                actor=user,
                place=place,
                name=data["name"],
                url=data["url"],
                event_types=data["event_types"],
                filters=Filters(
                    cb=data["filter_cb"],
                    organization=data["filter_organization"],
                    country=data["filter_country"],
                    category=data["filter_category"],
                ),
            )
        except DomainError as exc:
            add_form_error(form, exc, {"country": "filter_country", "category": "filter_category"})
        else:
            return render(
                request,
                "web/account/webhook_created.html",
                {"subscription": made.subscription, "secret": made.secret, "section": "webhooks"},
            )
    return _webhook_form(request, form, status=400)


@require_safe
@section("webhooks")
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A subscription, its state and its delivery log: each event, each try and its answer."""
    user = current_user(request)
    subscription = _webhook_of(user, pk)
    return render(
        request,
        "web/account/webhook_detail.html",
        {
            "subscription": subscription,
            "deliveries": deliveries_of(subscription),
            "section": "webhooks",
        },
    )


@require_POST
@section("webhooks")
def webhook_change(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Pause, resume or delete a subscription."""
    user = current_user(request)
    subscription = _webhook_of(user, pk)
    services = {"pause": webhook_pause, "resume": webhook_resume}
    try:
        if action == "delete":
            webhook_delete(actor=user, subscription=subscription)
            messages.success(request, f"The webhook {subscription.name} is deleted.")
            return redirect("web:webhooks")
        if action not in services:
            raise Http404("No such change.")
        services[action](actor=user, subscription=subscription)
    except DomainError as exc:
        return error_page(request, exc, title="Change a webhook")
    done = "paused" if action == "pause" else "resumed: what is waiting is sent now"
    messages.success(request, f"The webhook {subscription.name} is {done}.")
    return redirect("web:webhook", pk=pk)


@require_POST
@section("webhooks")
def webhook_replay_view(request: HttpRequest, pk: int, delivery_pk: int) -> HttpResponse:
    """Send one event of the log again, as it was."""
    user = current_user(request)
    subscription = _webhook_of(user, pk)
    delivery = subscription.deliveries.filter(pk=delivery_pk).first()
    if delivery is None:
        raise Http404("This webhook has no delivery of this number.")
    try:
        webhook_replay(actor=user, delivery=delivery)
    except DomainError as exc:
        return error_page(request, exc, title="Replay a webhook delivery")
    messages.success(request, f"{delivery.message_id} is sent again.")
    return redirect("web:webhook", pk=pk)
