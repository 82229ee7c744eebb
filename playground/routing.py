"""WebSocket routes: one socket per viewer of a room; any other path is closed cleanly."""

import json

from django.urls import re_path

from playground.consumers import CLOSE_NO_SUCH_ROOM, RoomConsumer

# WebSocket close codes 4000-4999 are the application's own; 4404 reads as "not found", as for
# a room that does not exist.
UNKNOWN_PATH_CLOSE_CODE = CLOSE_NO_SUCH_ROOM
# A close frame's reason is at most 123 bytes of UTF-8: the path is cut to fit.
_REASON_PATH_CHARS = 60


async def unknown_path(scope, receive, send):
    """A socket to a path no route serves: accepted, told why in an error message (the room
    socket's own form), then closed with 4404 and the same reason (Daphne drops a close frame's
    reason; other servers pass it on). Without this, Channels' router raised for every such
    request: a 500 and a traceback in the log each time, and the client learnt nothing. (A
    refused handshake would reach a browser only as 1006, like a network fault to retry.)"""
    message = await receive()
    if message["type"] != "websocket.connect":
        return  # the client left before its handshake finished
    path = scope.get("path", "")
    if len(path) > _REASON_PATH_CHARS:
        path = path[:_REASON_PATH_CHARS] + "..."
    reason = f"no WebSocket at {path}; a room's is /ws/rooms/<room id>/"
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send",
                "text": json.dumps({"type": "error", "field": "path", "message": reason})})
    await send({"type": "websocket.close", "code": UNKNOWN_PATH_CLOSE_CODE,
                "reason": reason.encode("utf-8")[:123].decode("utf-8", "ignore")})


websocket_urlpatterns = [
    re_path(r"^ws/rooms/(?P<room_id>[0-9a-f]{10}|[a-z][a-z0-9-]{1,31})/$", RoomConsumer.as_asgi()),
    # Last: everything the routes above do not match.
    re_path(r"", unknown_path),
]
