"""python -m tests.oidc_provider --redirect-uri URI --user NAME:PASSWORD:EMAIL ...

Prepares a fresh provider (database, users, one confidential client) and serves it on
127.0.0.1; prints one JSON line with its port and client credentials once it listens."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

CLIENT_ID = "minimax-web"
CLIENT_SECRET = "test-client-secret-not-secret"


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write("idp: " + (format % args) + "\n")


def _prepare(redirect_uris: list[str], users: list[str]) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)
    for spec in users:
        name, password, email = spec.split(":", 2)
        get_user_model().objects.create_user(name, email=email, password=password)
    Application.objects.create(
        name="minimax-web",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(redirect_uris),
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redirect-uri", action="append", required=True)
    parser.add_argument("--user", action="append", default=[])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault(
        "OIDC_PROVIDER_DB", os.path.join(tempfile.mkdtemp(prefix="oidc-provider-"), "db.sqlite3")
    )
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_provider.settings"
    import django
    from django.core.wsgi import get_wsgi_application

    django.setup()
    _prepare(args.redirect_uri, args.user)
    server = make_server(
        "127.0.0.1",
        args.port,
        get_wsgi_application(),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    ready = {"port": server.server_port, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    print(json.dumps(ready), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
