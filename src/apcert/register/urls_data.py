"""Open data: bulk exports and feeds of the public register."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
