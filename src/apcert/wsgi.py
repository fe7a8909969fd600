"""WSGI entry point, served by granian (``apcert serve``).

Outermost, :class:`apcert.core.observe.RequestLayer` gives each request its id, its line in
the access log and its place in the metrics, whoever answers it. Django answers every
request; in front of it :class:`apcert.api.fastpath.PublicApiLayer` applies the public API's
rate limit and answers the certificate-by-number read straight from the search index. Each
granian worker process loads this module once and has its own layers, rate limit counts
included.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apcert.settings")
django_application = get_wsgi_application()

from apcert.api.fastpath import PublicApiLayer  # noqa: E402 - once Django is set up
from apcert.core.observe import RequestLayer  # noqa: E402

application = RequestLayer(PublicApiLayer(django_application))
