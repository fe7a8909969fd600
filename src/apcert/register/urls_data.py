"""Open data: bulk exports and feeds of the public register."""

from django.urls import path

from apcert.register import views_data

app_name = "register-data"

urlpatterns = [
    path("register/export.csv", views_data.export_csv, name="export-csv"),
    path("register/export.jsonl", views_data.export_jsonl, name="export-jsonl"),
    path("register/feed.atom", views_data.feed_atom, name="feed-atom"),
    path("register/feed.json", views_data.feed_json, name="feed-json"),
    path("register/audit-head.json", views_data.audit_head, name="audit-head"),
]
