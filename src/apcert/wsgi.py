"""WSGI entry point, served by granian (``apcert serve``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apcert.settings")
application = get_wsgi_application()
