#!/bin/sh
# The image's entry point: runs `apcert <arguments>`. Before `serve`, the schema is brought
# up to date (`apcert migrate`, which is safe to run at every start); the worker and the
# one-off commands run as they are.
set -eu
if [ "${1:-}" = "serve" ]; then
    apcert migrate --noinput
fi
exec apcert "$@"
