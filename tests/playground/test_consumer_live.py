"""The rooms over real components: a real Daphne with a real WebSocket client, and the real
Redis channel layer carrying frames between processes' worth of layer instances."""

import asyncio
import http.client
import json
from urllib.parse import urlsplit

from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from channels_redis.core import RedisChannelLayer

from playground.env import channel_layers as layer_settings
from playground.rooms.registry import Rooms, set_rooms
from tests.playground.rooms_support import FakeClock, busy_spec


async def test_a_browser_like_client_watches_a_room_over_real_daphne(daphne_url):
    from websockets.asyncio.client import connect

    base = urlsplit(daphne_url)
    conn = http.client.HTTPConnection(base.hostname, base.port, timeout=10)
    conn.request("GET", "/s/signup")
    response = conn.getresponse()
    assert response.status == 302
    room_path = response.getheader("Location")
    # The session that opened the room is its presenter: the socket carries its cookie.
    cookie = response.getheader("Set-Cookie").split(";")[0]
    conn.close()
    room_id = room_path.removeprefix("/r/")
    uri = f"ws://{base.netloc}/ws/rooms/{room_id}/"
    async with connect(uri, origin=daphne_url, additional_headers={"Cookie": cookie}) as ws:
        snapshot = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert snapshot["type"] == "snapshot" and snapshot["room"]["id"] == room_id
        you = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert you == {"type": "you", "presenter": True, "open": False, "may_control": True,
                       "mode": "live"}
        await ws.send(json.dumps({"type": "control", "request_id": "s", "action": "speed",
                                  "speed": 50}))
        await ws.send(json.dumps({"type": "control", "request_id": "p", "action": "play"}))
        last = snapshot["seq"]
        acks, produced = set(), 0
        while produced < 3:  # signup produces one record a second of virtual time
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] == "ack":
                acks.add(message["request_id"])
            elif message["type"] == "frame":
                assert message["from_seq"] == last + 1
                last = message["to_seq"]
                produced += sum(e["type"] == "record.produced" for e in message["events"])
        assert acks == {"s", "p"}
    # A foreign page may not open the socket.
    try:
        async with connect(uri, origin="http://evil.example"):
            raise AssertionError("a foreign origin was let in")
    except Exception as e:  # websockets refuses the handshake: the server answered 403
        assert "403" in str(e)


async def test_frames_cross_the_real_redis_layer(redis_url, settings):
    settings.CHANNEL_LAYERS = layer_settings(redis_url)
    channel_layers.backends.clear()
    clock = FakeClock()
    rooms = Rooms(clock=clock, autorun=False)
    set_rooms(rooms)
    # Another process's view of the same Redis: its own layer instance, its own connection.
    elsewhere = RedisChannelLayer(**layer_settings(redis_url)["default"]["CONFIG"])
    try:
        from playground.asgi import application

        room = rooms.create(busy_spec(rate_per_s=100))
        assert isinstance(rooms.layer, RedisChannelLayer)
        communicator = WebsocketCommunicator(application, f"/ws/rooms/{room.id}/",
                                             headers=[(b"origin", b"http://localhost")])
        assert (await communicator.connect())[0]
        snapshot = await communicator.receive_json_from(timeout=5)
        assert (await communicator.receive_json_from(timeout=5))["type"] == "you"
        remote = await elsewhere.new_channel()
        await elsewhere.group_add(room.group, remote)
        await communicator.send_json_to({"type": "control", "request_id": "p",
                                         "action": "play"})
        assert (await communicator.receive_json_from(timeout=5))["type"] == "ack"
        clock.forward(0.05)
        await room.tick()
        frame = await communicator.receive_json_from(timeout=5)
        assert frame["type"] == "frame" and frame["from_seq"] == snapshot["seq"] + 1
        remote_message = await asyncio.wait_for(elsewhere.receive(remote), 5)
        assert remote_message["type"] == "room.frame"
        assert json.loads(remote_message["text"]) == frame
        await communicator.disconnect()
    finally:
        await elsewhere.flush()
        await elsewhere.close_pools()
        await rooms.layer.close_pools()
        set_rooms(None)
        channel_layers.backends.clear()
