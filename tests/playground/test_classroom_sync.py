"""One room, one truth: every viewer's page gets the clock, the narration step and the viewer
count the presenter's gets, in quiet rooms too (issue 12).

Driven through the real consumer with Channels' communicator, a hand clock and a hand-ticked
room, so nothing sleeps: every wait below is a bounded wait for a message."""

import json

from tests.playground.rooms_support import clock, quiet_spec, rooms  # noqa: F401
from tests.playground.test_consumer import send, viewer

WAIT_S = 2


def narrated_spec() -> dict:
    """A quiet room (nothing scheduled, so every frame after a snapshot is clock-only) with
    narration steps that run no commands."""
    return {**quiet_spec(), "steps": [{"title": f"Step {i}", "text": f"Step {i} says this."}
                                      for i in range(3)]}


async def next_frame(communicator) -> dict:
    """The next frame (notices, acks and `you` on the way are passed over)."""
    while True:
        message = await communicator.receive_json_from(timeout=WAIT_S)
        if message["type"] == "frame":
            return message


async def frame_where(communicator, check) -> dict:
    """The first frame for which `check(frame)` holds; earlier frames are passed over."""
    while True:
        frame = await next_frame(communicator)
        if check(frame):
            return frame


async def test_a_quiet_rooms_clock_only_frames_reach_a_viewer_after_its_snapshot(
        rooms, clock):  # noqa: F811
    room = rooms.create(quiet_spec())
    # Something happened, then nothing: the snapshot's seq is the last event's, and every
    # frame after it is clock-only (to_seq = from_seq - 1 = the snapshot's seq).
    await room.handle({"type": "command", "request_id": "c", "command": {
        "type": "produce", "topic": "orders", "key": "k", "value": "v"}}, {"viewer": "x"})
    await room.flush()
    communicator, snapshot = await viewer(room.id)  # a reload: a fresh snapshot
    assert snapshot["seq"] == room.cluster.seq
    assert (await send(communicator, {"type": "control", "request_id": "p",
                                      "action": "play"}))["type"] == "ack"
    await room.tick()
    playing = await frame_where(communicator, lambda f: f["clock"]["playing"])
    assert (playing["from_seq"], playing["to_seq"]) == (snapshot["seq"] + 1, snapshot["seq"])
    # Three seconds of nothing happening: the idle frames keep the page's clock running.
    shown = []
    for _ in range(3):
        clock.forward(1.0)
        await room.tick()
        shown.append((await next_frame(communicator))["clock"]["now_ms"])
    assert shown == [1_000, 2_000, 3_000]
    # Pausing holds the clock where it got to, never back at the snapshot's time.
    clock.forward(0.5)
    assert (await send(communicator, {"type": "control", "request_id": "z",
                                      "action": "pause"}))["type"] == "ack"
    await room.tick()
    paused = await frame_where(communicator, lambda f: not f["clock"]["playing"])
    assert paused["clock"]["now_ms"] == 3_500
    await communicator.disconnect()


async def test_a_frame_the_snapshot_covers_is_still_dropped(rooms, clock):  # noqa: F811
    room = rooms.create(quiet_spec())
    communicator, snapshot = await viewer(room.id)
    seq = snapshot["seq"]
    # Sent before the snapshot, delivered after it (possible across processes): it starts at
    # or before the snapshot's seq, so the snapshot holds it.
    await room.layer.group_send(room.group, {"type": "room.frame", "from_seq": seq,
                                             "to_seq": seq, "epoch": 0,
                                             "text": json.dumps({"type": "stale"})})
    await room.handle({"type": "control", "request_id": "p", "action": "play"},
                      {"viewer": "x"})
    await room.tick()
    frame = await communicator.receive_json_from(timeout=WAIT_S)
    assert frame["type"] == "frame" and frame["from_seq"] == seq + 1
    await communicator.disconnect()


async def test_the_presenters_narration_step_reaches_every_viewer_in_the_next_frame(
        rooms, clock):  # noqa: F811
    room = rooms.create(narrated_spec())
    presenter, _ = await viewer(room.id)
    student, snapshot = await viewer(room.id)
    assert snapshot["room"]["narration_step"] == 0
    assert (await send(presenter, {"type": "narrate", "request_id": "n",
                                   "step": 2}))["type"] == "ack"
    clock.forward(0.05)
    await room.tick()  # paused, nothing happening: the step alone makes the frame
    frame = await frame_where(student, lambda f: f["narration_step"] == 2)
    assert frame["from_seq"] == snapshot["seq"] + 1 and frame["events"] == []
    # Every frame says the step, not only the one after the change.
    await room.handle({"type": "control", "request_id": "p", "action": "play"},
                      {"viewer": "x"})
    clock.forward(1.0)
    await room.tick()
    assert (await next_frame(student))["narration_step"] == 2
    for c in (presenter, student):
        await c.disconnect()


async def test_frames_say_how_many_people_watch_as_they_come_and_go(
        rooms, clock):  # noqa: F811
    room = rooms.create(quiet_spec())
    presenter, snapshot = await viewer(room.id)
    assert snapshot["room"]["viewers"] == 1
    student, _ = await viewer(room.id)
    # Paused and quiet: a newcomer alone makes the presenter's page hear of it.
    assert (await frame_where(presenter, lambda f: f["viewers"] == 2))["events"] == []
    await student.disconnect()
    clock.forward(0.05)
    await room.tick()
    assert (await next_frame(presenter))["viewers"] == 1
    # A process that keeps the room awake (the Kafka listener) is not a person watching.
    sent = room.frames_sent
    await rooms.attach(room.id, "process:kafka")
    clock.forward(0.05)
    await room.tick()
    assert room.frames_sent == sent
    await rooms.detach(room.id, "process:kafka")
    await presenter.disconnect()
