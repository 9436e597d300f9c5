"""ASGI entry point: HTTP through Django, websockets through Channels.

Every websocket passes the Origin check (AllowedHostsOriginValidator) and the session/auth
middleware before reaching a consumer. Daphne imports this module in the serving process, so
the hooks into Daphne itself are installed here too: a bound on each socket's unsent output,
and a graceful stop that lets the answers being written end cleanly.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minimax_web.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the app registry loaded)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from accounts.websocket import PasswordChangeRequiredGate  # noqa: E402
from chat.routing import websocket_urlpatterns  # noqa: E402
from minimax_web import graceful_shutdown, ws_output_bound  # noqa: E402

ws_output_bound.install(max_unsent_bytes=settings.MAX_WS_UNSENT_BYTES)
graceful_shutdown.install()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(PasswordChangeRequiredGate(URLRouter(websocket_urlpatterns)))
        ),
    }
)
