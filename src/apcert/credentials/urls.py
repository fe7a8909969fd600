"""Public documents of the signing keys. ``/cbs/<code>/did.json`` is where did:web resolves
``did:web:<host>:cbs:<code>``; the CB directory pages are ``/bodies/<code>``, apart."""

from django.urls import path

from apcert.credentials import views
from apcert.credentials.identifiers import CONTEXT_PATH

app_name = "credentials"

urlpatterns = [
    path("cbs/<str:code>/did.json", views.did_document, name="did-document"),
    path("cbs/<str:code>/jwks.json", views.jwks, name="jwks"),
    path(CONTEXT_PATH.lstrip("/"), views.context, name="context"),
]
