#!/bin/sh
# Apply migrations (a new volume works at once), then hand PID 1 to the command (Daphne).
set -e
python manage.py migrate --noinput
exec "$@"
