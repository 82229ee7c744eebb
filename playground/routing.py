"""WebSocket routes. Empty for now: the live room view (one socket per viewer) comes later."""

websocket_urlpatterns: list = []
