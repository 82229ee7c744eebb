"""ASGI entry point: HTTP goes to Django, WebSocket to Channels' router.

Daphne serves this both under `manage.py runserver` and as `daphne playground.asgi:application`.
"""

import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
# Every Django middleware, and every database call, hops to a worker thread and back. While
# the loop thread is busy advancing rooms, such a thread waits for the interpreter lock until
# the switch interval (5 ms by default) forces it free: with a dozen hops a request, a page
# or /healthz took 70 ms and more (bench/classroom.py). 1 ms costs nothing while no other
# thread is waiting, which is most of the time.
sys.setswitchinterval(0.001)
# Set up Django (apps, settings) before importing anything that may touch models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import (  # noqa: E402
    AllowedHostsOriginValidator,
    OriginValidator,
)
from channels.sessions import SessionMiddlewareStack  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from playground.health import watch_loop  # noqa: E402
from playground.routing import websocket_urlpatterns  # noqa: E402


def websocket_app():
    """The room sockets behind an Origin check: PLAYGROUND_ALLOWED_ORIGINS when set, else
    ALLOWED_HOSTS (settings refuse ALLOWED_HOSTS=* without explicit origins). The session
    cookie rides along: the room's presenter is the session that created it."""
    router = SessionMiddlewareStack(URLRouter(websocket_urlpatterns))
    if settings.PLAYGROUND_ALLOWED_ORIGINS:
        return OriginValidator(router, settings.PLAYGROUND_ALLOWED_ORIGINS)
    return AllowedHostsOriginValidator(router)


class WatchLoop:
    """Starts /healthz's event-loop lag monitor (playground/health.py) on the loop that serves
    this connection, so stalls are measured from the first request on, not from the first
    health probe. Once it runs, a dictionary lookup per connection."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        watch_loop()
        return await self.app(scope, receive, send)


# The page's CSS and ES modules come from the same server, with or without DEBUG: no build
# step and no second host. (A deployment behind a CDN or WhiteNoise would take this over.)
application = ProtocolTypeRouter(
    {"http": WatchLoop(ASGIStaticFilesHandler(django_asgi_app)),
     "websocket": WatchLoop(websocket_app())}
)
