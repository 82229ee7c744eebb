"""What `make run` serves: the ASGI application under a real Daphne process."""

import json
import urllib.request

import pytest


def test_daphne_serves_the_home_page(daphne_url):
    with urllib.request.urlopen(f"{daphne_url}/", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Server"].startswith("daphne")
        html = response.read().decode()
    assert "<title>Kafka playground: learn how Kafka works by watching it</title>" in html


def test_daphne_serves_healthz(daphne_url):
    with urllib.request.urlopen(f"{daphne_url}/healthz", timeout=10) as response:
        assert response.status == 200
        body = json.loads(response.read())
        assert body["ok"] is True and all(check["ok"] for check in body["checks"].values())


def test_asgi_application_routes_http_and_websocket():
    from channels.routing import ProtocolTypeRouter

    from playground.asgi import application

    assert isinstance(application, ProtocolTypeRouter)
    assert set(application.application_mapping) == {"http", "websocket"}


@pytest.mark.parametrize("headers", [[(b"origin", b"http://evil.example")], []])
async def test_websockets_from_a_foreign_or_missing_origin_are_refused(headers):
    from channels.testing import WebsocketCommunicator

    from playground.asgi import application

    communicator = WebsocketCommunicator(application, "/ws/anything", headers=headers)
    connected, _ = await communicator.connect()
    assert connected is False
    await communicator.disconnect()
