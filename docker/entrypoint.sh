#!/bin/sh
# Entrypoint of the tiffin image.
#
#   docker run tiffin:local                          -> tiffin api --config /app/config/service.yaml
#   docker run tiffin:local runner iris_clf ...      -> tiffin runner iris_clf ...
#   docker run tiffin:local python -c '...'          -> runs as given
#
# The last step is exec: the server replaces this shell, so `docker stop` (SIGTERM) reaches
# gunicorn or the runner directly and they drain before exiting.
set -eu

case "${1:-}" in
    api|runner|serve|models|healthcheck) set -- tiffin "$@" ;;
esac

exec "$@"
