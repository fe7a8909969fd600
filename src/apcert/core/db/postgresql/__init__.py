"""PostgreSQL, with connection health checks kept off the per-request path."""
