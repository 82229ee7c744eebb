"""A WebSocket to a path no route serves is closed cleanly with 4404, not a 500 and a
traceback per request."""

import asyncio
import json
import logging

import pytest
from channels.testing import WebsocketCommunicator

from playground.asgi import application
from playground.routing import UNKNOWN_PATH_CLOSE_CODE

ORIGIN = [(b"origin", b"http://localhost")]


@pytest.mark.parametrize("path", ["/ws/nope/", "/ws/rooms/NOT-AN-ID/", "/anything",
                                  "/ws/rooms/" + "a" * 300 + "/"])
async def test_an_unknown_websocket_path_is_closed_with_4404_and_a_reason(path, caplog):
    caplog.set_level(logging.WARNING)
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    connected, _ = await communicator.connect(timeout=10)
    assert connected is True
    error = json.loads(await communicator.receive_from(timeout=10))
    close = await communicator.receive_output(timeout=10)
    assert close["type"] == "websocket.close"
    assert close["code"] == UNKNOWN_PATH_CLOSE_CODE == 4404
    reason = close["reason"]
    assert reason.startswith(f"no WebSocket at {path[:60]}")
    assert "/ws/rooms/<room id>/" in reason and len(reason.encode()) <= 123
    assert error == {"type": "error", "field": "path", "message": reason}
    await communicator.wait(timeout=10)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_client_leaving_before_its_handshake_costs_nothing():
    communicator = WebsocketCommunicator(application, "/ws/nope/", headers=ORIGIN)
    await communicator.send_input({"type": "websocket.disconnect", "code": 1001})
    await communicator.wait(timeout=10)  # the app returned, nothing sent
    assert await communicator.receive_nothing(timeout=0.05)


async def test_a_foreign_origin_is_still_refused_before_routing():
    communicator = WebsocketCommunicator(application, "/ws/nope/",
                                         headers=[(b"origin", b"http://evil.example")])
    connected, _ = await communicator.connect(timeout=10)
    assert connected is False


async def test_daphne_closes_an_unknown_path_with_4404(daphne_url):
    import websockets

    uri = daphne_url.replace("http://", "ws://") + "/ws/nope/"
    async with websockets.connect(uri, origin="http://127.0.0.1", open_timeout=10) as ws:
        error = json.loads(await asyncio.wait_for(ws.recv(), 10))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    # Daphne sends the code but not the reason; the error message before it says why.
    assert closed.value.rcvd.code == 4404
    assert error["type"] == "error" and error["field"] == "path"
    assert error["message"].startswith("no WebSocket at /ws/nope/")
