"""WebSocket routes: one socket per viewer of a room."""

from django.urls import re_path

from playground.consumers import RoomConsumer

websocket_urlpatterns = [
    re_path(r"^ws/rooms/(?P<room_id>[0-9a-f]{10}|[a-z][a-z0-9-]{1,31})/$", RoomConsumer.as_asgi()),
]
