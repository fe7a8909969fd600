from django.contrib import admin
from django.urls import path

admin.site.site_header = "apcert: Secretariat administration"
admin.site.site_title = "apcert"

urlpatterns = [
    path("admin/", admin.site.urls),
]
