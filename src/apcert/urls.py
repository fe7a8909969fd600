from django.contrib import admin
from django.urls import include, path

from apcert.api.public import api as public_api
from apcert.web.views_health import healthz

admin.site.site_header = "apcert: Secretariat administration"
admin.site.site_title = "apcert"
admin.site.index_title = "Browse the scheme's records (changes go through the services)"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("office/", include("apcert.web.urls")),
    path("healthz", healthz, name="healthz"),
    path("api/public/", public_api.urls),
    path("", include("apcert.register.urls_data")),
    path("", include("apcert.credentials.urls")),
    path("", include("apcert.register.urls")),
]
