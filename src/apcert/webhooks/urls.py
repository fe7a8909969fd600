"""The public webhook pages (no account)."""

from django.urls import path

from apcert.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("webhooks/subscribe", views.subscribe, name="subscribe"),
    path("webhooks/s/<str:token>", views.link, name="link"),
]
