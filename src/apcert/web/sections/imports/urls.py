"""The import screen, under /office/import/ (namespace ``web:imports``)."""

from django.urls import path

from apcert.web.sections.imports import views as v

app_name = "imports"

urlpatterns = [
    path("", v.import_home, name="home"),
    path("columns", v.import_columns, name="columns"),
    path("template.<str:file_format>", v.import_template, name="template"),
    path("<int:pk>/", v.import_batch, name="batch"),
    path("<int:pk>/progress", v.import_progress, name="progress"),
    path("<int:pk>/commit", v.import_commit, name="commit"),
]
