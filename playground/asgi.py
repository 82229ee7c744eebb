"""ASGI entry point: HTTP goes to Django, WebSocket to Channels' router.

Daphne serves this both under `manage.py runserver` and as `daphne playground.asgi:application`.
"""

import os
import warnings

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
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
from django.contrib.staticfiles.storage import ManifestFilesMixin  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.core.files.storage import storages  # noqa: E402
from django.http import Http404  # noqa: E402
from whitenoise.middleware import WhiteNoiseMiddleware  # noqa: E402

from playground.health import watch_loop  # noqa: E402
from playground.process import tune  # noqa: E402
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


class StaticFiles(ASGIStaticFilesHandler):
    """The page's CSS and ES modules, from the same server, with or without DEBUG (no second
    host), served by WhiteNoise: the .br or .gz copy collectstatic wrote when
    the browser accepts it (Vary: Accept-Encoding), ETag and Last-Modified, and for a
    content-hashed name a ten-year `immutable` Cache-Control. With DEBUG, WhiteNoise finds
    each file in static/ at request time (its autorefresh), so edits show without
    collectstatic.

    WhiteNoise's own Django middleware is synchronous: in settings.MIDDLEWARE it would put
    every request, pages and /healthz too, through a worker thread and back once more (see
    playground/process.py). Here only /static/ requests reach it: a collected file up to
    STATIC_INLINE_BYTES is answered on the event loop (`_send_collected`), anything else
    (DEBUG's lookups in static/, a larger file) through Django's own ASGI static handler in a
    worker thread; everything else goes straight to the application."""

    def __init__(self, application):
        super().__init__(application)
        # The middleware's configuration (settings.WHITENOISE_*, DEBUG, STATIC_ROOT) and
        # lookup; a file it does not have is the site's 404 page. It warns when STATIC_ROOT
        # is missing: with DEBUG files come from static/, and without DEBUG
        # require_collected_static() has already refused to start.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "No directory at", UserWarning)
            self.whitenoise = WhiteNoiseMiddleware(get_response=self._not_found)

    @staticmethod
    def _not_found(request):
        raise Http404(request.path)

    def serve(self, request):
        return self.whitenoise(request)

    async def __call__(self, scope, receive, send):
        if (scope["type"] == "http" and not self.whitenoise.autorefresh
                and scope["method"] in ("GET", "HEAD")):
            static_file = self.whitenoise.files.get(scope["path"])
            if static_file is not None and await self._send_collected(static_file, scope, send):
                return
        return await super().__call__(scope, receive, send)

    async def _send_collected(self, static_file, scope, send) -> bool:
        """A collected file, answered on the event loop: False when it is not one to answer
        here (a file over STATIC_INLINE_BYTES, a redirect), and then Django's handler does.

        Django's ASGI static handler hops to a worker thread to find the file and again to
        read it, and builds a request object around it: a cold room page asks for 24 modules
        at once, and those hops queued one behind another took 150 ms of its first 500
        (bench/anim_frames.py). Collected files are few and small (the largest of ours is
        51 KB before compression): a read from the page cache takes microseconds, less than
        one hop. WhiteNoise still chooses the encoding and answers conditional and range
        requests."""
        meta = {}
        for name, value in scope["headers"]:
            key = REQUEST_HEADERS.get(name)
            if key is not None:
                meta[key] = value.decode("latin-1")
        method = scope["method"]
        response = static_file.get_response(method, meta)  # HEAD, 304: no file opened
        headers = [(k.lower().encode("latin-1"), str(v).encode("latin-1"))
                   for k, v in response.headers]
        length = next((int(v) for k, v in headers if k == b"content-length"), 0)
        body = b""
        try:
            if response.status not in (200, 206, 304) or length > STATIC_INLINE_BYTES:
                return False
            if response.file is not None:
                body = response.file.read()
        finally:
            if response.file is not None:
                response.file.close()
        await send({"type": "http.response.start", "status": int(response.status),
                    "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True


# The request headers WhiteNoise reads (as WSGI names them): the encodings the browser takes,
# its cached copy's validators, a byte range.
REQUEST_HEADERS = {b"accept-encoding": "HTTP_ACCEPT_ENCODING",
                   b"if-none-match": "HTTP_IF_NONE_MATCH",
                   b"if-modified-since": "HTTP_IF_MODIFIED_SINCE",
                   b"range": "HTTP_RANGE"}
# Files up to this size are read on the event loop; a larger one (none of ours) goes through
# a worker thread, so that no file read holds the loop for long.
STATIC_INLINE_BYTES = 512 * 1024


def require_collected_static() -> None:
    """With DEBUG off, `{% static %}` names the content-hashed files listed in STATIC_ROOT's
    manifest: without it every page would fail (500) and the page's files would 404. Say so
    at startup rather than on the first page."""
    storage = storages["staticfiles"]
    if settings.DEBUG or not isinstance(storage, ManifestFilesMixin):
        return
    if storage.read_manifest() is None:
        raise ImproperlyConfigured(
            f"STATIC_ROOT={settings.STATIC_ROOT} has no {storage.manifest_name}: run "
            "`manage.py collectstatic --noinput` before serving with DEBUG off "
            "(`make run` does), or set DJANGO_STATIC_ROOT to where it was collected")


require_collected_static()
application = ProtocolTypeRouter(
    {"http": WatchLoop(StaticFiles(django_asgi_app)),
     "websocket": WatchLoop(websocket_app())}
)
# The switch interval and the garbage collector (playground/process.py), once all is loaded.
tune(settings.PLAYGROUND_GC_YOUNG)
