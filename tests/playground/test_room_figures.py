"""The customer's wait, live in a room (issue 12): amazon-sync-vs-async run for 70 s carries
both designs' waits in its snapshot and, as they change, in its frames; a page that adds up
the frames after its snapshot has the room's numbers; and a room rebuilt by replay (wake,
rewind, seek) has the figures of a room that watched from the start."""

import asyncio
import json

from broker_core.scenarios import load_builtin
from playground.rooms.frames import MAX_FRAME_BYTES
from playground.rooms.room import Room
from tests.playground.rooms_support import FakeClock, clock, drive, rooms  # noqa: F401

SCENARIO = "amazon-sync-vs-async"
SYNC, ASYNC = 0, 1  # the scenario's figures: the synchronous, then the asynchronous wait


async def snapshot(rooms, room) -> dict:  # noqa: F811
    return json.loads((await rooms.handle(room.id, {"type": "resync"}, {}))["text"])


async def next_frame(layer, channel) -> dict:
    while True:
        message = await asyncio.wait_for(layer.receive(channel), 5)
        if message["type"] == "room.frame":
            assert len(message["text"]) < MAX_FRAME_BYTES + 64 * 1024
            return json.loads(message["text"])


async def play_for(rooms, room, clock, seconds, layer, channel):  # noqa: F811
    """Play at 10x for `seconds` of virtual time, half a wall second per tick; the frames."""
    frames = []
    await drive(rooms, room, {"type": "control", "request_id": "s", "action": "speed",
                              "speed": 10})
    await drive(rooms, room, {"type": "control", "request_id": "p", "action": "play"})
    end = room.cluster.now_ms + seconds * 1000
    while room.cluster.now_ms < end:
        clock.forward(0.5)
        await room.tick(cpu_budget_s=60)
        frames.append(await next_frame(layer, channel))
    return frames


async def watched_room(rooms):  # noqa: F811
    """The scenario's room, and a channel in its group that receives its frames."""
    room = rooms.create(load_builtin(SCENARIO), meta={"name": SCENARIO})
    layer = rooms.layer
    channel = await layer.new_channel()
    await layer.group_add(room.group, channel)
    await rooms.attach(room.id, channel)
    return room, layer, channel


def numbers(figure: dict) -> dict:
    return {k: v for k, v in figure.items() if k not in ("label", "index", "points")}


async def test_the_snapshot_and_frames_carry_both_customers_waits(rooms, clock):  # noqa: F811
    room, layer, channel = await watched_room(rooms)
    first = await snapshot(rooms, room)
    labels = [f["label"] for f in first["room"]["figures"]]
    assert "synchronous" in labels[SYNC] and "asynchronous" in labels[ASYNC]
    # What a page holds: the snapshot's figures, then each frame's changes added on.
    page = {f["index"]: dict(f) for f in first["room"]["figures"]}
    frames = await play_for(rooms, room, clock, 70, layer, channel)
    assert room.cluster.now_ms >= 70_000
    updates = 0
    for frame in frames:
        for change in frame.get("figures", []):
            updates += 1
            held = page[change["index"]]
            held.update({k: v for k, v in change.items() if k != "points"})
            held["points"] = held["points"] + change["points"]
    assert updates > 20  # the waits arrive as they happen, not only in snapshots

    last = await snapshot(rooms, room)
    figures = last["room"]["figures"]
    sync, async_ = figures[SYNC], figures[ASYNC]
    assert sync["count"] > 50 and async_["count"] > 50
    assert async_["mean_ms"] == async_["max_ms"] == 20  # one acknowledged produce
    assert sync["mean_ms"] > 1_000 and sync["max_ms"] > 5_000  # five calls in turn
    assert sync["newest_ms"] == sync["points"][-1][1] > 50 * async_["newest_ms"]
    for figure in figures:
        assert numbers(page[figure["index"]]) == numbers(figure)
        assert page[figure["index"]]["points"] == figure["points"]


async def test_a_quiet_frame_carries_no_figures(rooms, clock):  # noqa: F811
    room, layer, channel = await watched_room(rooms)
    await snapshot(rooms, room)
    await drive(rooms, room, {"type": "control", "request_id": "p", "action": "play"})
    clock.forward(2)
    await room.tick(cpu_budget_s=60)
    await next_frame(layer, channel)
    await drive(rooms, room, {"type": "control", "request_id": "z", "action": "pause"})
    clock.forward(1)
    await room.tick(cpu_budget_s=60)  # the pause's clock-only frame
    frame = await next_frame(layer, channel)
    assert frame["events"] == [] and "figures" not in frame


async def test_a_room_woken_by_replay_has_the_figures_of_one_that_watched(rooms, clock):  # noqa: F811
    room, layer, channel = await watched_room(rooms)
    await play_for(rooms, room, clock, 40, layer, channel)
    # Someone's own order on the asynchronous path, mid-way: part of the recording.
    ack = await drive(rooms, room, {"type": "command", "request_id": "c", "command": {
        "type": "produce", "topic": "order-placed", "key": "order-mine", "value": "x"}})
    assert ack["type"] == "ack"
    await play_for(rooms, room, clock, 10, layer, channel)
    watched = room.moments.figures.state()
    assert watched[ASYNC]["summary"]["count"] > 0

    await rooms.detach(room.id, channel)
    rooms.sleep(room.id)
    await rooms.attach(room.id, "again")
    woken = rooms.awake[room.id]
    assert woken is not room
    assert woken.moments.figures.state() == watched
    woken_snapshot = await snapshot(rooms, woken)
    assert woken_snapshot["room"]["figures"] == room.moments.figures.snapshot()

    # A rewind (Back to an earlier step) rebuilds the room there: the figures of a room that
    # played only that far.
    cluster, moments = woken._build_live_at(20_000)
    fresh = Room("x", load_builtin(SCENARIO), seed=room.seed, build=woken.build,
                 layer=layer, clock=FakeClock())
    fresh.goal_ms = 20_000
    while not fresh.advance(0.0, cpu_budget_s=60):
        pass
    assert fresh.cluster.now_ms == cluster.now_ms == 20_000
    assert moments.figures.state() == fresh.moments.figures.state()

    # A replay room's seek builds the same way (from its script).
    replay = Room("r", load_builtin(SCENARIO), seed=room.seed, build=woken.build, layer=layer,
                  clock=FakeClock(), script={"slug": "s", "log": woken.cluster.command_log,
                                             "end_ms": woken.cluster.now_ms})
    reply = json.loads((await replay.handle(
        {"type": "control", "request_id": "k", "action": "seek",
         "to_ms": woken.cluster.now_ms}, {}))["text"])
    assert reply["type"] == "ack"
    assert replay.moments.figures.state() == watched
