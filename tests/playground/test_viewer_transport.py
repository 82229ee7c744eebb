"""The transport between a room and its viewers (playground/consumers.py, wsbuffer.py):
snapshots too big for one WebSocket message go in parts, a viewer that stops reading is
dropped to a resync instead of buffered without end, and one client address holds at most
PLAYGROUND_WS_PER_ADDRESS sockets.

Most tests drive the consumer in-process (Channels' communicator, a hand-ticked room); the
transport's unsent bytes are then a number the test sets. The last ones run a real Daphne with
real clients that stop reading, so the lookup of Daphne's buffer is checked too."""

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from channels.testing import WebsocketCommunicator

from playground import consumers
from playground.asgi import application
from playground.consumers import open_sockets, snapshot_parts
from tests.conftest import ROOT, _wait_until, free_port, stop_process
from tests.playground.rooms_support import busy_spec, clock, rooms  # noqa: F401

ORIGIN = [(b"origin", b"http://localhost")]
MIB = 1024 * 1024
PLAY = {"type": "control", "request_id": "p", "action": "play"}


def big_spec() -> dict:
    """Three topics of 1,000 partitions: a snapshot of about 1 MiB."""
    return {"name": "big", "title": "Big", "brokers": 3,
            "topics": [{"name": f"t{i}", "partitions": 1_000, "replication_factor": 3}
                       for i in range(3)],
            "producers": [{"id": "load", "topic": "t0", "rate_per_s": 20}],
            "timeline": []}


def communicator_for(room_id: str, client: str | None = None, headers=()) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"/ws/rooms/{room_id}/",
                                         headers=[*ORIGIN, *headers])
    if client is not None:
        # The application task has not started yet: it sees this scope.
        communicator.scope["client"] = [client, 40_000]
    return communicator


async def texts_until(communicator, kind: str, timeout: float = 5) -> list[str]:
    """Every text message up to and including the first of type `kind`."""
    out = []
    while True:
        message = await communicator.receive_output(timeout)
        assert message["type"] == "websocket.send", message
        out.append(message["text"])
        if json.loads(message["text"])["type"] == kind:
            return out


def joined(texts: list[str]) -> tuple[dict, int]:
    """The snapshot that `texts` (a snapshot or its parts, and what follows) carry, and how
    many messages it took."""
    first = json.loads(texts[0])
    if first["type"] == "snapshot":
        return first, 1
    assert first["type"] == "snapshot.part" and first["index"] == 0, first
    parts = [json.loads(t) for t in texts[:first["count"]]]
    assert [p["index"] for p in parts] == list(range(first["count"]))
    assert {p["id"] for p in parts} == {first["id"]}
    return json.loads("".join(p["data"] for p in parts)), first["count"]


# -- snapshots in parts ---------------------------------------------------------------------------

def test_snapshot_parts_join_back_to_the_text_and_each_fits_its_bound():
    # Quotes and backslashes double when escaped; non-ASCII takes 2-4 bytes; nothing is cut
    # inside a character.
    text = json.dumps({"v": ['"q\\', "é€😀" * 50, "x" * 300] * 40}, ensure_ascii=False)
    assert snapshot_parts("small", 1, 2_048) == ["small"]
    parts = [json.loads(p) for p in snapshot_parts(text, 7, 2_048)]
    assert len(parts) > 5
    assert all(len(p.encode()) <= 2_048 for p in snapshot_parts(text, 7, 2_048))
    assert [p["index"] for p in parts] == list(range(len(parts)))
    assert {(p["type"], p["id"], p["count"]) for p in parts} == {("snapshot.part", 7, len(parts))}
    assert "".join(p["data"] for p in parts) == text


async def test_a_room_whose_snapshot_passes_1_mib_is_watched_through_parts(rooms, clock):  # noqa: F811
    room = rooms.create(big_spec(), meta={"name": "big", "title": "Big"})
    assert len(room._snapshot_message()[0].encode()) > MIB
    communicator = communicator_for(room.id)
    assert (await communicator.connect())[0]
    texts = await texts_until(communicator, "you")
    # Nothing the server sends may pass 1 MiB (Daphne's peers refuse it, closing with 1009).
    assert max(len(t.encode()) for t in texts) <= consumers.SNAPSHOT_PART_BYTES
    snapshot, count = joined(texts)
    assert count >= 3 and len(texts) == count + 1
    assert snapshot["type"] == "snapshot" and snapshot["seq"] == room.cluster.seq
    assert [len(snapshot["state"]["topics"][f"t{i}"]["partitions"]) for i in range(3)] == [
        1_000] * 3
    # Frames go on from the snapshot's seq, as for a small one.
    await communicator.send_json_to(PLAY)
    await texts_until(communicator, "ack")
    clock.forward(0.5)
    await room.tick()
    frames = [json.loads(t) for t in await texts_until(communicator, "frame")]
    assert frames[-1]["from_seq"] == snapshot["seq"] + 1
    await communicator.disconnect()


async def test_a_seek_snapshot_to_everyone_goes_in_parts_too(rooms, clock):  # noqa: F811
    room = rooms.create(busy_spec(rate_per_s=20), meta={"name": "busy", "title": "Busy"})
    communicator = communicator_for(room.id)
    assert (await communicator.connect())[0]
    await texts_until(communicator, "you")
    # What a seek publishes (Room._seek): a new epoch's snapshot, to the room's group.
    big = json.dumps({"type": "snapshot", "seq": 3, "pad": "x\"y" * 400_000})
    await room._send({"type": "room.snapshot", "epoch": room.epoch + 1, "seq": 3, "text": big})
    parts = [json.loads(await communicator.receive_from(timeout=5))]
    while len(parts) < parts[0]["count"]:
        parts.append(json.loads(await communicator.receive_from(timeout=5)))
    assert parts[0]["type"] == "snapshot.part"
    assert "".join(p["data"] for p in parts) == big
    await communicator.disconnect()


# -- a viewer that stops reading ------------------------------------------------------------------

class FakeConnection:
    """Stands for Daphne's protocol: its unsent bytes are what the test says."""

    def __init__(self):
        self.unsent = 0


@pytest.fixture
def transport(monkeypatch):
    connection = FakeConnection()
    monkeypatch.setattr(consumers, "connection_of", lambda send: connection)
    monkeypatch.setattr(consumers, "unsent_bytes", lambda c: c.unsent)
    monkeypatch.setattr(consumers, "is_closing", lambda c: False)
    return connection


async def test_a_viewer_past_its_queue_bound_gets_no_frames_then_a_fresh_snapshot(
        rooms, clock, transport, settings):  # noqa: F811
    settings.PLAYGROUND_VIEWER_QUEUE_BYTES = 100_000
    room = rooms.create(busy_spec(rate_per_s=20), meta={"name": "busy", "title": "Busy"})
    communicator = communicator_for(room.id)
    assert (await communicator.connect())[0]
    first, _ = joined(await texts_until(communicator, "you"))
    await communicator.send_json_to(PLAY)
    await texts_until(communicator, "ack")
    # Its socket stops taking bytes: the next frames are not sent (nor queued).
    transport.unsent = 100_001
    for _ in range(5):
        clock.forward(0.05)
        await room.tick()
    await room.notice("info", "a notice while behind")
    assert await communicator.receive_nothing(timeout=0.3)
    # It drained: a snapshot of now, then `you`, then frames contiguous from it.
    transport.unsent = 0
    texts = await texts_until(communicator, "you")
    fresh, _ = joined(texts)
    assert fresh["seq"] == room.cluster.seq > first["seq"]
    assert any(n["message"] == "a notice while behind" for n in fresh["room"]["notices"])
    clock.forward(0.05)
    await room.tick()
    frame = json.loads((await texts_until(communicator, "frame"))[-1])
    assert frame["from_seq"] == fresh["seq"] + 1
    await communicator.disconnect()


async def test_a_relay_that_subscribed_again_after_an_outage_resyncs_its_viewers(
        rooms, clock):  # noqa: F811
    """After a channel-layer outage the relay hands its viewers `room.resync`: frames may have
    been lost, and in a quiet room no later frame would show the gap."""
    room = rooms.create(busy_spec(rate_per_s=20), meta={"name": "busy", "title": "Busy"})
    communicator = communicator_for(room.id)
    assert (await communicator.connect())[0]
    first, _ = joined(await texts_until(communicator, "you"))
    await room.notice("info", "said while the relay was away")  # as if lost in the outage
    await texts_until(communicator, "notice")
    from playground.rooms.relay import get_relay

    for viewer in list(get_relay().viewers[room.group]):
        await viewer.deliver({"type": "room.resync"})
    fresh, _ = joined(await texts_until(communicator, "you"))
    assert fresh["type"] == "snapshot" and fresh["seq"] == room.cluster.seq
    assert fresh["room"]["notices"][-1]["message"] == "said while the relay was away"
    await communicator.disconnect()


async def test_replies_still_reach_a_viewer_that_is_behind(rooms, clock, transport, settings):  # noqa: F811
    settings.PLAYGROUND_VIEWER_QUEUE_BYTES = 100_000
    room = rooms.create(busy_spec(rate_per_s=20), meta={"name": "busy", "title": "Busy"})
    communicator = communicator_for(room.id)
    assert (await communicator.connect())[0]
    await texts_until(communicator, "you")
    transport.unsent = 200_000
    clock.forward(0.05)
    await room.tick()  # the frame finds it behind
    # Its own requests are answered (a page waits on them); a resync waits for the drain.
    await communicator.send_json_to(PLAY)
    assert json.loads(await communicator.receive_from(timeout=2))["type"] == "ack"
    await communicator.send_json_to({"type": "resync"})
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_a_viewer_stuck_behind_past_the_timeout_is_closed(rooms, clock, transport,  # noqa: F811
                                                                settings):
    settings.PLAYGROUND_VIEWER_QUEUE_BYTES = 100_000
    settings.PLAYGROUND_VIEWER_STUCK_S = 0.3
    room = rooms.create(busy_spec(rate_per_s=20), meta={"name": "busy", "title": "Busy"})
    communicator = communicator_for(room.id)
    assert (await communicator.connect())[0]
    await texts_until(communicator, "you")
    transport.unsent = 10 * MIB
    await room.notice("info", "finds it behind")
    closed = await communicator.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": consumers.CLOSE_TOO_SLOW}
    await communicator.disconnect()


# -- sockets per client address -------------------------------------------------------------------

async def test_sockets_per_address_are_capped_and_given_back(rooms, settings):  # noqa: F811
    settings.PLAYGROUND_WS_PER_ADDRESS = 2
    room = rooms.create(busy_spec(rate_per_s=20), meta={"name": "busy", "title": "Busy"})
    held = []
    for _ in range(2):
        c = communicator_for(room.id, client="198.51.100.7")
        assert (await c.connect())[0]
        await texts_until(c, "you")
        held.append(c)
    over = communicator_for(room.id, client="198.51.100.7")
    assert (await over.connect())[0]  # accepted, so the page can read why it is closed
    error = json.loads(await over.receive_from(timeout=2))
    assert error["type"] == "error" and error["field"] == "connections"
    assert "PLAYGROUND_WS_PER_ADDRESS = 2" in error["message"]
    assert await over.receive_output(timeout=2) == {"type": "websocket.close",
                                                    "code": consumers.CLOSE_TOO_MANY}
    await over.disconnect()
    # Another address is not affected.
    other = communicator_for(room.id, client="203.0.113.9")
    assert (await other.connect())[0]
    assert joined(await texts_until(other, "you"))[0]["type"] == "snapshot"
    # A closed socket is given back.
    await held.pop().disconnect()
    assert open_sockets.held("198.51.100.7") == 1
    again = communicator_for(room.id, client="198.51.100.7")
    assert (await again.connect())[0]
    assert joined(await texts_until(again, "you"))[0]["type"] == "snapshot"
    for c in (*held, other, again):
        await c.disconnect()
    assert open_sockets.held("198.51.100.7") == 0


async def test_a_connect_that_fails_halfway_gives_its_socket_back(rooms, settings,  # noqa: F811
                                                                 monkeypatch):
    settings.PLAYGROUND_WS_PER_ADDRESS = 1
    room = rooms.create(busy_spec(rate_per_s=20), meta={"name": "busy", "title": "Busy"})

    async def broken_attach(*args, **kwargs):
        raise RuntimeError("the store went away")

    monkeypatch.setattr(rooms, "attach", broken_attach)
    c = communicator_for(room.id, client="198.51.100.8")
    assert (await c.connect())[0]
    with pytest.raises(RuntimeError):
        await c.wait(timeout=2)
    assert open_sockets.held("198.51.100.8") == 0
    monkeypatch.undo()
    settings.PLAYGROUND_WS_PER_ADDRESS = 1
    c = communicator_for(room.id, client="198.51.100.8")
    assert (await c.connect())[0]
    assert joined(await texts_until(c, "you"))[0]["type"] == "snapshot"
    await c.disconnect()


async def test_limits_key_on_the_forwarded_client_behind_a_trusted_proxy(rooms, settings,  # noqa: F811
                                                                        monkeypatch):
    settings.PLAYGROUND_TRUSTED_PROXIES = ["10.0.0.1"]
    room = rooms.create(busy_spec(rate_per_s=20), meta={"name": "busy", "title": "Busy"})
    actors = []
    handle = rooms.handle

    async def spy(room_id, message, actor):
        actors.append(actor)
        return await handle(room_id, message, actor)

    monkeypatch.setattr(rooms, "handle", spy)
    c = communicator_for(room.id, client="10.0.0.1",
                         headers=[(b"x-forwarded-for", b"192.0.2.44")])
    assert (await c.connect())[0]
    await texts_until(c, "you")
    assert actors[0]["client"] == "192.0.2.44"
    assert open_sockets.held("192.0.2.44") == 1 and open_sockets.held("10.0.0.1") == 0
    await c.disconnect()


# -- over a real Daphne ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_queue_daphne(daphne_env, tmp_path_factory):
    """A Daphne whose viewers may fall 64 KiB behind and stay stuck 3 s (see
    viewer_transport_settings.py); its own copy of the test database."""
    workdir = tmp_path_factory.mktemp("viewer-daphne")
    db = Path(daphne_env["DATABASE_URL"].removeprefix("sqlite:///"))
    (workdir / "db.sqlite3").write_bytes(db.read_bytes())
    env = {**daphne_env, "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
           "DJANGO_SETTINGS_MODULE": "tests.playground.viewer_transport_settings",
           "PLAYGROUND_VIEWER_QUEUE_BYTES": "65536"}
    port = free_port()
    log = workdir / "daphne.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port),
             "playground.asgi:application"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def healthy() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    _wait_until(healthy, proc, log, "daphne", timeout_s=30)
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        stop_process(proc)


def open_busy_room(base: str) -> tuple[str, str]:
    import http.client

    netloc = urlsplit(base)
    conn = http.client.HTTPConnection(netloc.hostname, netloc.port, timeout=10)
    conn.request("GET", "/s/signup")
    response = conn.getresponse()
    response.read()
    assert response.status == 302, response.status
    cookie = response.getheader("Set-Cookie").split(";")[0]
    conn.close()
    return response.getheader("Location").removeprefix("/r/").split("?")[0], cookie


DRIVE = [
    {"type": "command", "request_id": "c1",
     "command": {"type": "producer.remove", "id": "signup-form"}},
    {"type": "command", "request_id": "c2",
     "command": {"type": "topic.create", "name": "load", "partitions": 6,
                 "replication_factor": 1}},
    {"type": "command", "request_id": "c3",
     "command": {"type": "producer.add", "id": "load", "topic": "load", "rate_per_s": 1000,
                 "acks": "1"}},
    {"type": "control", "request_id": "s", "action": "speed", "speed": 20},
    PLAY,
]


async def presenter(uri: str, origin: str, cookie: str, stop: asyncio.Event) -> None:
    """Drives the room (about 1.5 MB/s of frames to every viewer) and reads everything."""
    from websockets.asyncio.client import connect

    async with connect(uri, origin=origin, max_size=2 ** 24,
                       additional_headers={"Cookie": cookie}) as ws:
        for message in DRIVE:
            await ws.send(json.dumps(message))
        while not stop.is_set():
            try:
                await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                pass


async def slow_client(uri: str, origin: str):
    """A WebSocket client with a 4 KiB receive buffer that takes one message and then holds
    it: until the test reads, the server's bytes for it stay on the server."""
    from websockets.asyncio.client import connect

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((urlsplit(uri).hostname, urlsplit(uri).port))
    ws = await connect(uri, origin=origin, sock=sock, max_size=2 ** 24, max_queue=1)
    return ws, sock.getsockname()[1]


def server_side_open(port: int, client_port: int) -> bool:
    """Whether the server still holds the TCP connection from `client_port` (/proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if (int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) == client_port
                and fields[3] == "01"):  # ESTABLISHED
            return True
    return False


def start_busy_room(small_queue_daphne):
    """A busy room on the small-queue server, its presenter driving it until `stop` is set."""
    base, _ = small_queue_daphne
    port = urlsplit(base).port
    room_id, cookie = open_busy_room(base)
    uri = f"ws://127.0.0.1:{port}/ws/rooms/{room_id}/"
    stop = asyncio.Event()
    driving = asyncio.create_task(presenter(uri, base, cookie, stop))
    return base, port, uri, stop, driving


async def test_over_daphne_a_viewer_that_never_reads_is_bounded_then_closed(small_queue_daphne):
    base, port, uri, stop, driving = start_busy_room(small_queue_daphne)
    try:
        ws, client_port = await slow_client(uri, base)
        assert server_side_open(port, client_port)
        # Today's main buffers about 1.5 MB a second for it until Daphne's ping timeout (about
        # 40 s); bounded, it is closed 3 s (the stuck timeout) after it fell behind.
        deadline = time.monotonic() + 15
        while server_side_open(port, client_port):
            assert time.monotonic() < deadline, "the viewer that never reads was never closed"
            await asyncio.sleep(0.2)
        assert not driving.done()  # the presenter watched on throughout
        ws.transport.abort()
    finally:
        stop.set()
        await asyncio.wait_for(driving, 10)


async def test_over_daphne_a_viewer_that_pauses_reading_resyncs_from_a_snapshot(
        small_queue_daphne):
    base, port, uri, stop, driving = start_busy_room(small_queue_daphne)
    try:
        ws, _ = await slow_client(uri, base)
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert first["type"] == "snapshot"
        await asyncio.sleep(1.5)  # not reading: far more than 64 KiB of frames are due
        # Reading again: the frames it could hold, a gap, a fresh snapshot, frames from it.
        last = first["seq"]
        snapshot = None
        deadline = time.monotonic() + 15
        while snapshot is None:
            assert time.monotonic() < deadline, "no resync snapshot after the pause"
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] == "frame":
                assert message["from_seq"] == last + 1  # nothing half-sent before the drop
                last = message["to_seq"]
            elif message["type"] == "snapshot":
                snapshot = message
        assert snapshot["seq"] > last
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] == "frame":
                assert message["from_seq"] == snapshot["seq"] + 1
                break
        await ws.close()
    finally:
        stop.set()
        await asyncio.wait_for(driving, 10)
