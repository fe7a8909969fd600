"""JSON APIs (django-ninja). ``public`` is the open register API; it has no account."""
