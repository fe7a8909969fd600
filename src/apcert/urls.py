from django.contrib import admin
from django.urls import include, path

from apcert.api.integrations import api as integrations_api
from apcert.api.public import api as public_api
from apcert.web.views_health import healthz
from apcert.web.views_metrics import metrics

admin.site.site_header = "apcert: Secretariat administration"
admin.site.site_title = "apcert"
admin.site.index_title = "Browse the scheme's records (changes go through the services)"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("office/", include("apcert.web.urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("api/public/", public_api.urls),
    path("api/v1/", integrations_api.urls),
    path("", include("apcert.register.urls_data")),
    path("", include("apcert.credentials.urls")),
    path("", include("apcert.webhooks.urls")),
    path("", include("apcert.register.urls")),
]

# The back office's layout under /office/, the register's elsewhere (apcert.web.views_errors);
# a server error is Django's own handler with the plain template 500.html.
handler400 = "apcert.web.views_errors.bad_request"
handler403 = "apcert.web.views_errors.permission_denied"
handler404 = "apcert.web.views_errors.page_not_found"
