"""The room WebSocket consumer, driven with Channels' WebsocketCommunicator and the in-memory
layer. The room is ticked by hand on a hand-driven clock, so nothing here sleeps."""

import json

import pytest
from channels.testing import WebsocketCommunicator

from playground.asgi import application
from tests.playground.rooms_support import busy_spec, clock, quiet_spec, rooms  # noqa: F401

ORIGIN = [(b"origin", b"http://localhost")]


async def viewer(room_id: str) -> tuple[WebsocketCommunicator, dict]:
    communicator = WebsocketCommunicator(application, f"/ws/rooms/{room_id}/", headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    first = await communicator.receive_json_from(timeout=2)
    you = await communicator.receive_json_from(timeout=2)
    assert you["type"] == "you", you  # after every snapshot a viewer asked for
    return communicator, first


async def send(communicator, message) -> dict:
    """The reply to `message` (frames and notices that come before it are passed over)."""
    await communicator.send_to(text_data=json.dumps(message))
    while True:
        reply = await communicator.receive_json_from(timeout=2)
        if reply["type"] not in ("frame", "notice", "you"):
            return reply


async def frames_until(communicator, to_seq: int) -> list[dict]:
    """Frames up to and including the one that reaches `to_seq` (notices are skipped)."""
    out = []
    while not out or out[-1]["to_seq"] < to_seq:
        message = await communicator.receive_json_from(timeout=2)
        if message["type"] == "frame":
            out.append(message)
    return out


def assert_contiguous(frames: list[dict], after_seq: int) -> None:
    expected = after_seq + 1
    for frame in frames:
        assert frame["from_seq"] == expected, (frame["from_seq"], expected)
        carried = len(frame["events"]) + sum(a["count"] for a in frame["aggregates"])
        assert carried == frame["to_seq"] - frame["from_seq"] + 1
        seqs = sorted([e["seq"] for e in frame["events"]] + [
            s for a in frame["aggregates"] for s in (a["first_seq"], a["last_seq"])])
        assert not seqs or (seqs[0] >= frame["from_seq"] and seqs[-1] <= frame["to_seq"])
        expected = frame["to_seq"] + 1


PLAY = {"type": "control", "request_id": "p", "action": "play"}


async def test_snapshot_first_then_contiguous_frames(rooms, clock):  # noqa: F811
    room = rooms.create(busy_spec(rate_per_s=20), meta={"name": "busy", "title": "Busy"})
    communicator, snapshot = await viewer(room.id)
    assert snapshot["type"] == "snapshot"
    assert snapshot["seq"] == room.cluster.seq
    assert snapshot["state"]["topics"]["orders"]["partitions"][0]["partition"] == 0
    assert snapshot["room"]["id"] == room.id
    assert snapshot["room"]["scenario"]["name"] == "busy"
    assert snapshot["room"]["clock"] == {"now_ms": 0, "speed": 1.0, "playing": False,
                                         "behind": False, "goal_ms": None, "goal_from_ms": None,
                                         "goal_step": None,
                                         "recording": None,
                                         "realtime": False}
    assert snapshot["room"]["viewers"] == 1
    assert {"retained_records", "retained_records_max", "frame_events_max"} <= set(
        snapshot["room"]["limits"])
    assert (await send(communicator, PLAY))["type"] == "ack"
    for _ in range(10):
        clock.forward(0.05)
        await room.tick()
    frames = await frames_until(communicator, room.cluster.seq)
    assert_contiguous(frames, snapshot["seq"])
    assert frames[-1]["clock"]["now_ms"] == 500
    produced = [e for f in frames for e in f["events"] if e["type"] == "record.produced"]
    assert len(produced) == 10  # 20 a second for half a second, every one of them
    assert all(f["aggregates"] == [] for f in frames)
    await communicator.disconnect()


async def test_a_few_thousand_events_a_second_all_arrive_one_by_one(rooms, clock):  # noqa: F811
    room = rooms.create(busy_spec(rate_per_s=2_000))  # 4,000 events a second
    communicator, snapshot = await viewer(room.id)
    await send(communicator, PLAY)
    for _ in range(20):
        clock.forward(0.05)
        await room.tick()
    frames = await frames_until(communicator, room.cluster.seq)
    assert_contiguous(frames, snapshot["seq"])
    assert all(f["aggregates"] == [] for f in frames)
    seqs = [e["seq"] for f in frames for e in f["events"]]
    assert seqs == list(range(snapshot["seq"] + 1, room.cluster.seq + 1))
    assert sum(e["type"] == "record.produced" for f in frames for e in f["events"]) == 2_000
    await communicator.disconnect()


async def test_under_load_frames_aggregate_but_never_leave_a_gap(rooms, clock):  # noqa: F811
    room = rooms.create(busy_spec(rate_per_s=20_000))
    communicator, snapshot = await viewer(room.id)
    await send(communicator, PLAY)
    for _ in range(4):
        clock.forward(0.05)  # 1,000 records a tick: 2,000 events, far over a frame's 400
        await room.tick()
    frames = await frames_until(communicator, room.cluster.seq)
    assert_contiguous(frames, snapshot["seq"])
    assert any(f["aggregates"] for f in frames)
    for frame in frames:
        assert len(frame["events"]) <= 400
        for agg in frame["aggregates"]:
            assert agg["aggregated"] is True
            if agg["type"] == "record.produced":
                assert agg["last_offset"] - agg["first_offset"] + 1 == agg["count"]
    await communicator.disconnect()


@pytest.mark.parametrize(("text", "field"), [
    ("{not json", "message"),
    ("[1, 2]", "message"),
    (json.dumps({"type": "shout", "request_id": "x"}), "type"),
    (json.dumps({"type": "command", "command": {"type": "topic.delete", "name": "orders"}}),
     "request_id"),
    (json.dumps({"type": "command", "request_id": "c", "command": {
        "type": "topic.create", "name": "x", "partitions": 0}}), "command.partitions"),
    (json.dumps({"type": "command", "request_id": "c", "command": {
        "type": "topic.delete", "name": "orders", "force": True}}), "command.force"),
    (json.dumps({"type": "command", "request_id": "c", "command": "produce"}), "command"),
    (json.dumps({"type": "control", "request_id": "k", "action": "rewind"}), "action"),
    (json.dumps({"type": "control", "request_id": "k", "action": "speed", "speed": 1e9}),
     "speed"),
    (json.dumps({"type": "control", "request_id": "k", "action": "jump"}), "ms"),
    (json.dumps({"type": "control", "request_id": "k", "action": "play", "ms": 5}), "ms"),
    (json.dumps({"type": "narrate", "request_id": "n", "step": 7}), "step"),
    (json.dumps({"type": "resync", "now": True}), "now"),
    (json.dumps({"type": "command", "request_id": "c", "command": {
        "type": "produce", "topic": "orders", "value": "x" * 70_000}}), "message"),
])
async def test_invalid_messages_get_an_error_naming_the_field_and_change_nothing(
        rooms, text, field):  # noqa: F811
    room = rooms.create(quiet_spec())
    communicator, before = await viewer(room.id)
    await communicator.send_to(text_data=text)
    reply = await communicator.receive_json_from(timeout=2)
    assert reply["type"] == "error"
    assert reply["field"] == field
    assert reply["message"]
    after = await send(communicator, {"type": "resync"})
    assert after["type"] == "snapshot"
    assert after["state"] == before["state"] and after["seq"] == before["seq"]
    # The room goes on: a valid command after the bad one works.
    ack = await send(communicator, {"type": "command", "request_id": "ok", "command": {
        "type": "produce", "topic": "orders", "key": "k", "value": "v"}})
    assert ack == {"type": "ack", "request_id": "ok", "seq": room.cluster.seq}
    assert ack["seq"] > before["seq"]
    await communicator.disconnect()


async def test_binary_messages_are_refused(rooms):  # noqa: F811
    room = rooms.create(quiet_spec())
    communicator, _ = await viewer(room.id)
    await communicator.send_to(bytes_data=b"\x00\x01")
    reply = await communicator.receive_json_from(timeout=2)
    assert reply["type"] == "error" and reply["field"] == "message"
    await communicator.disconnect()


async def test_commands_beyond_the_rate_limit_are_refused(rooms, settings):  # noqa: F811
    settings.PLAYGROUND_WS_RATE_PER_S = 0.1  # no refill within the test
    settings.PLAYGROUND_WS_BURST = 5
    room = rooms.create(quiet_spec())
    communicator, _ = await viewer(room.id)
    replies = []
    for i in range(8):
        replies.append(await send(communicator, {"type": "command", "request_id": f"c{i}",
                                                 "command": {"type": "produce",
                                                             "topic": "orders", "value": "v"}}))
    assert [r["type"] for r in replies] == ["ack"] * 5 + ["error"] * 3
    assert {r["field"] for r in replies[5:]} == {"rate"}
    assert len(room.cluster.command_log) == 5
    await communicator.disconnect()


async def test_a_foreign_origin_is_refused(rooms):  # noqa: F811
    room = rooms.create(quiet_spec())
    communicator = WebsocketCommunicator(application, f"/ws/rooms/{room.id}/",
                                         headers=[(b"origin", b"http://evil.example")])
    connected, _ = await communicator.connect()
    assert connected is False
    assert not room.viewers


async def test_explicit_allowed_origins_replace_allowed_hosts(rooms, settings):  # noqa: F811
    from playground.asgi import websocket_app

    settings.ALLOWED_HOSTS = ["*"]
    settings.PLAYGROUND_ALLOWED_ORIGINS = ["https://class.example"]
    app = websocket_app()
    room = rooms.create(quiet_spec())
    for origin, ok in ((b"https://class.example", True), (b"http://evil.example", False)):
        communicator = WebsocketCommunicator(app, f"/ws/rooms/{room.id}/",
                                             headers=[(b"origin", origin)])
        connected, _ = await communicator.connect()
        assert connected is ok, origin
        await communicator.disconnect()


async def test_an_unknown_room_closes_the_socket(rooms):  # noqa: F811
    communicator = WebsocketCommunicator(application, "/ws/rooms/0123456789/", headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected  # accepted so that the browser can be told why, then closed
    reply = await communicator.receive_json_from(timeout=2)
    assert reply["type"] == "error" and reply["field"] == "room"
    assert await communicator.receive_output(timeout=2) == {"type": "websocket.close",
                                                             "code": 4404}


async def test_two_viewers_see_the_same_stream_and_a_late_one_starts_at_its_snapshot(
        rooms, clock):  # noqa: F811
    room = rooms.create(busy_spec(rate_per_s=100))
    first, snap1 = await viewer(room.id)
    second, snap2 = await viewer(room.id)
    assert snap1["seq"] == snap2["seq"]
    await send(first, PLAY)
    for _ in range(5):
        clock.forward(0.05)
        await room.tick()
    frames1 = await frames_until(first, room.cluster.seq)
    frames2 = await frames_until(second, room.cluster.seq)
    assert frames1 == frames2
    assert_contiguous(frames1, snap1["seq"])
    # A late viewer: its snapshot is where the stream stands; its frames follow on from it.
    clock.forward(0.05)
    room.advance(clock())  # events pending, not yet framed: the snapshot flushes them first
    late, snap3 = await viewer(room.id)
    assert snap3["seq"] == room.cluster.seq and snap3["room"]["viewers"] == 3
    clock.forward(0.05)
    await room.tick()
    assert_contiguous(await frames_until(late, room.cluster.seq), snap3["seq"])
    for c in (first, second, late):
        await c.disconnect()
    assert not room.viewers


async def test_frames_a_snapshot_already_covers_are_dropped(rooms, clock):  # noqa: F811
    room = rooms.create(busy_spec(rate_per_s=100))
    communicator, _ = await viewer(room.id)
    await send(communicator, PLAY)
    clock.forward(0.05)
    await room.tick()
    await frames_until(communicator, room.cluster.seq)
    clock.forward(0.05)
    room.advance(clock())  # pending events: the resync flushes them as a frame, then snapshots
    await communicator.send_to(text_data=json.dumps({"type": "resync"}))
    messages = [await communicator.receive_json_from(timeout=2)]
    # Whether the flushed frame beat the snapshot depends on delivery order; either is fine.
    if messages[0]["type"] == "frame":
        messages.append(await communicator.receive_json_from(timeout=2))
    snapshot = messages[-1]
    assert snapshot["type"] == "snapshot" and snapshot["seq"] == room.cluster.seq
    assert (await communicator.receive_json_from(timeout=2))["type"] == "you"
    # A frame sent before the snapshot but delivered after it (possible across processes).
    await room.layer.group_send(room.group, {"type": "room.frame", "to_seq": snapshot["seq"],
                                             "text": json.dumps({"type": "stale"})})
    clock.forward(0.05)
    await room.tick()
    frames = [await communicator.receive_json_from(timeout=2)]
    assert frames[0]["type"] == "frame"
    assert_contiguous(frames, snapshot["seq"])
    await communicator.disconnect()


async def test_narration_runs_a_steps_commands_through_the_room(rooms):  # noqa: F811
    from broker_core.scenarios import load_builtin

    # A step with commands (the built-ins' steps name moments instead): they run when the
    # viewer gets there, through the room, into its command log.
    spec = {**load_builtin("signup"), "steps": [
        {"title": "a"}, {"title": "b", "at": "1s"},
        {"title": "standby", "commands": [{"type": "consumer.add", "group": "welcome-email",
                                               "topics": ["signup"]}]}]}
    room = rooms.create(spec, meta={"name": "signup"})
    communicator, snapshot = await viewer(room.id)
    assert len(snapshot["room"]["scenario"]["steps"]) == 3
    ack = await send(communicator, {"type": "narrate", "request_id": "n2", "step": 2})
    assert ack["type"] == "ack"
    assert room.cluster.command_log[-1]["command"]["type"] == "consumer.add"
    after = await send(communicator, {"type": "resync"})
    assert after["room"]["narration_step"] == 2
    await communicator.disconnect()
