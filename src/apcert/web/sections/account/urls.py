"""The account pages of the back office: home, sign-in and out, password, invitations,
API tokens, webhooks."""

from typing import cast

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from apcert.web.section import View, section
from apcert.web.sections.account import choosers, views

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "sign-in",
        auth_views.LoginView.as_view(
            template_name="web/account/sign_in.html", redirect_authenticated_user=True
        ),
        name="sign-in",
    ),
    path("sign-out", section("home")(cast(View, views.SignOutView.as_view())), name="sign-out"),
    path(
        "password/change",
        auth_views.PasswordChangeView.as_view(
            template_name="web/account/password_change.html",
            success_url=reverse_lazy("web:password-change-done"),
            extra_context={"section": "password"},
        ),
        name="password-change",
    ),
    path(
        "password/change/done",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="web/account/password_change_done.html"
        ),
        name="password-change-done",
    ),
    path(
        "password/reset",
        auth_views.PasswordResetView.as_view(
            template_name="web/account/password_reset.html",
            email_template_name="web/email/password_reset.txt",
            subject_template_name="web/email/password_reset_subject.txt",
            success_url=reverse_lazy("web:password-reset-sent"),
        ),
        name="password-reset",
    ),
    path(
        "password/reset/sent",
        auth_views.PasswordResetDoneView.as_view(
            template_name="web/account/password_reset_sent.html"
        ),
        name="password-reset-sent",
    ),
    path(
        "password/reset/<uidb64>/<token>",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="web/account/password_reset_confirm.html",
            success_url=reverse_lazy("web:password-reset-done"),
        ),
        name="password-reset-confirm",
    ),
    path(
        "password/reset/done",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="web/account/password_reset_done.html"
        ),
        name="password-reset-done",
    ),
    path("messages/", views.message_list, name="messages"),
    path("messages/read-all", views.messages_read_all, name="messages-read-all"),
    path("messages/<int:pk>/open", views.message_open, name="message-open"),
    path("messages/<int:pk>/read", views.message_read, name="message-read"),
    path("account/mail", views.mail_preferences, name="mail-preferences"),
    path("invitations/", views.invitation_list, name="invitations"),
    path("invitations/new", views.invitation_new, name="invitation-new"),
    path("invitations/<str:token>", views.invitation_accept, name="invitation-accept"),
    path("account/api-tokens/", views.api_token_list, name="api-tokens"),
    path("account/api-tokens/new", views.api_token_new, name="api-token-new"),
    path("account/api-tokens/<int:pk>/revoke", views.api_token_revoke, name="api-token-revoke"),
    path("account/webhooks/", views.webhook_list, name="webhooks"),
    path("account/webhooks/new", views.webhook_new, name="webhook-new"),
    path("account/webhooks/<int:pk>/", views.webhook_detail, name="webhook"),
    path(
        "account/webhooks/<int:pk>/<str:action>",
        views.webhook_change,
        name="webhook-change",
    ),
    path(
        "account/webhooks/<int:pk>/deliveries/<int:delivery_pk>/replay",
        views.webhook_replay_view,
        name="webhook-replay",
    ),
    # The choosers' matches (HTML fragments for htmx), before a search box's page needs them.
    path(
        "choosers/invitation-targets",
        choosers.invitation_targets,
        name="chooser-invitation-targets",
    ),
    path("choosers/certification-bodies", choosers.cbs, name="chooser-cbs"),
]
