"""WSGI entry point, served by granian (``apcert serve``).

Django answers every request; in front of it :class:`apcert.api.fastpath.PublicApiLayer`
applies the public API's rate limit and answers the certificate-by-number read straight from
the search index. Each granian worker process loads this module once and has its own layer,
rate limit counts included.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apcert.settings")
django_application = get_wsgi_application()

from apcert.api.fastpath import PublicApiLayer  # noqa: E402 - once Django is set up

application = PublicApiLayer(django_application)
