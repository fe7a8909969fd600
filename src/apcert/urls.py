from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "apcert: Secretariat administration"
admin.site.site_title = "apcert"
admin.site.index_title = "Browse the scheme's records (changes go through the services)"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
]
