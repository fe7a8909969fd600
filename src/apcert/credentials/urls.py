"""Public documents of the signing keys. ``/cbs/<code>/did.json`` is where did:web resolves
``did:web:<host>:cbs:<code>``; the CB directory pages are ``/bodies/<code>``, apart."""

from django.urls import path

from apcert.credentials import views
from apcert.credentials.identifiers import CONTEXT_PATH, REGISTER_DID_PATH

app_name = "credentials"

urlpatterns = [
    path("cbs/<str:code>/did.json", views.did_document, name="did-document"),
    path("cbs/<str:code>/jwks.json", views.jwks, name="jwks"),
    # The status lists the credentials name (statuslists.selectors.status_list_url). The CB
    # directory page is bodies/<str:code>: a str segment holds no "/", so the two never meet.
    path("bodies/<str:code>/status/<str:purpose>", views.status_list, name="status-list"),
    path(REGISTER_DID_PATH.lstrip("/"), views.register_did_document, name="register-did"),
    path(CONTEXT_PATH.lstrip("/"), views.context, name="context"),
]
