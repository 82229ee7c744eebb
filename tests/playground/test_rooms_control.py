"""Issue 5 in the room runtime (in-memory store, hand clock): presenter control, share, replay
rooms (byte-for-byte), seek and fork. The database versions are in test_rooms_persistence."""

import asyncio
import json

import pytest

from broker_core.checkers import digest
from broker_core.cluster import WIRE_COMMANDS
from broker_core.scenarios import load_builtin
from playground.rooms import messages
from playground.rooms.cells import add_records
from playground.rooms.room import PRESENTER_ONLY, REPLAY_ONLY
from tests.playground.rooms_support import clock, quiet_spec, rooms  # noqa: F401

ALICE = {"viewer": "a", "session": "alice-session", "client": "10.0.0.1"}
BOB = {"viewer": "b", "session": "bob-session", "client": "10.0.0.2"}
NOBODY = {"viewer": "n", "session": None, "client": "10.0.0.3"}


async def ask(rooms, room_id, actor, message) -> dict:  # noqa: F811
    return json.loads((await rooms.handle(room_id, message, actor))["text"])


def produce(n: int) -> dict:
    return {"type": "command", "request_id": f"p{n}", "command": {
        "type": "produce", "topic": "signup", "key": f"user-{n}", "value": f"v{n}"}}


async def test_only_the_presenter_drives_until_the_room_is_opened(rooms):  # noqa: F811
    layer = rooms.layer
    room = rooms.create(load_builtin("signup"), owner="alice-session")
    channel = await layer.new_channel()
    await layer.group_add(room.group, channel)
    assert room.you(ALICE) == {"type": "you", "presenter": True, "open": False,
                               "may_control": True, "mode": "live"}
    assert room.you(BOB)["may_control"] is False and room.you(BOB)["presenter"] is False
    for actor in (BOB, NOBODY):
        for message in (produce(1), {"type": "control", "request_id": "k", "action": "play"},
                        {"type": "narrate", "request_id": "n", "step": 1},
                        {"type": "room", "request_id": "r", "action": "open"}):
            reply = await ask(rooms, room.id, actor, message)
            assert reply == {"type": "error", "request_id": message["request_id"],
                             "field": "type", "message": PRESENTER_ONLY}
    assert room.cluster.command_log == [] and not room.pacer.playing
    assert (await ask(rooms, room.id, ALICE, produce(2)))["type"] == "ack"
    assert (await ask(rooms, room.id, ALICE, {"type": "room", "request_id": "o",
                                              "action": "open"}))["type"] == "ack"
    broadcast = await asyncio.wait_for(layer.receive(channel), 5)
    assert broadcast["type"] == "room.state"
    assert json.loads(broadcast["text"]) == {"type": "room", "open": True}
    assert room.you(BOB) == {"type": "you", "presenter": False, "open": True,
                             "may_control": True, "mode": "live"}
    assert (await ask(rooms, room.id, BOB, produce(3)))["type"] == "ack"
    # Opening lets others drive, not take the room: only the presenter closes it again.
    reply = await ask(rooms, room.id, BOB, {"type": "room", "request_id": "c",
                                            "action": "close"})
    assert reply["message"] == PRESENTER_ONLY
    assert (await ask(rooms, room.id, ALICE, {"type": "room", "request_id": "c",
                                              "action": "close"}))["type"] == "ack"
    assert (await ask(rooms, room.id, BOB, produce(4)))["message"] == PRESENTER_ONLY
    assert [e["command"]["key"] for e in room.cluster.command_log] == ["user-2", "user-3"]
    # Presenter and open state are part of what the store keeps.
    assert rooms.store.rooms[room.id]["owner"] == "alice-session"
    assert rooms.store.rooms[room.id]["open"] is False


async def test_a_room_without_an_owner_is_open_to_everyone(rooms):  # noqa: F811
    room = rooms.create(load_builtin("signup"))
    assert room.you(NOBODY)["may_control"] and room.you(NOBODY)["open"]
    assert (await ask(rooms, room.id, BOB, produce(1)))["type"] == "ack"


@pytest.mark.parametrize("message, field", [
    ({"type": "room", "request_id": "r", "action": "lock"}, "action"),
    ({"type": "room", "request_id": "r", "action": "open", "who": "me"}, "who"),
    ({"type": "share", "request_id": "s", "title": ""}, "title"),
    ({"type": "share", "request_id": "s", "title": "x" * 201}, "title"),
    ({"type": "share", "request_id": "s", "title": 5}, "title"),
    ({"type": "share", "request_id": "s", "slug": "mine"}, "slug"),
    ({"type": "fork", "request_id": "f", "at_ms": 5}, "at_ms"),
    ({"type": "fork"}, "request_id"),
    ({"type": "control", "request_id": "k", "action": "seek"}, "to_ms"),
    ({"type": "control", "request_id": "k", "action": "seek", "to_ms": -1}, "to_ms"),
    ({"type": "control", "request_id": "k", "action": "seek", "to_ms": 5, "ms": 1}, "ms"),
])
def test_new_messages_are_checked_field_by_field(message, field):
    with pytest.raises(messages.ProtocolError) as e:
        messages.parse(message)
    assert e.value.field == field


async def record_a_session(rooms, clock):  # noqa: F811
    """A live room driven for a while with commands at various virtual times; the events it
    made, in order, from just after its first snapshot to the share."""
    room = rooms.create(load_builtin("signup"), owner="alice-session")
    events = []
    room.add_listener(events.extend)
    await ask(rooms, room.id, ALICE, produce(0))  # at 0 ms, before anything ran
    await ask(rooms, room.id, ALICE, {"type": "control", "request_id": "s", "action": "speed",
                                      "speed": 20})
    await ask(rooms, room.id, ALICE, {"type": "control", "request_id": "p", "action": "play"})
    script = [(0.37, produce(1)), (0.0, produce(2)),  # two at the same instant
              (0.51, {"type": "command", "request_id": "g", "command": {
                  "type": "consumer.add", "group": "audit", "topics": ["signup"]}}),
              (1.3, {"type": "command", "request_id": "t", "command": {
                  "type": "topic.create", "name": "audit-log", "partitions": 3}}),
              (0.9, {"type": "command", "request_id": "b", "command": {
                  "type": "broker.stop", "broker": 1}}),
              (0.7, {"type": "narrate", "request_id": "n", "step": 1}),
              (2.2, {"type": "command", "request_id": "s2", "command": {
                  "type": "broker.start", "broker": 1}}),
              (0.4, produce(3))]
    for wall_s, message in script:
        for _ in range(int(wall_s / 0.05)):
            clock.forward(0.05)
            await room.tick()
        reply = await ask(rooms, room.id, ALICE, message)
        assert reply["type"] == "ack", reply
    clock.forward(0.6)
    await room.tick()
    return room, events


async def run_replay_to_end(rooms, replay, clock):  # noqa: F811
    events = []
    replay.add_listener(events.extend)
    end_ms = replay.script["end_ms"]
    await ask(rooms, replay.id, ALICE, {"type": "control", "request_id": "s", "action": "speed",
                                        "speed": 7})  # another pace, other slices
    await ask(rooms, replay.id, ALICE, {"type": "control", "request_id": "p", "action": "play"})
    while replay.cluster.now_ms < end_ms:
        clock.forward(min(0.05, (end_ms - replay.cluster.now_ms) / 7000))
        await replay.tick()
    assert replay.cluster.now_ms == end_ms
    return events


async def test_a_shared_recording_replays_the_identical_event_stream(rooms, clock):  # noqa: F811
    room, original = await record_a_session(rooms, clock)
    reply = await ask(rooms, room.id, BOB, {"type": "share", "request_id": "s1",
                                            "title": "My run"})  # anyone may share
    slug = reply["slug"]
    assert reply == {"type": "shared", "request_id": "s1", "slug": slug, "url": f"/s/{slug}"}
    recording = await rooms.store.load_recording(slug)
    assert recording["end_ms"] == room.cluster.now_ms > 3_000 and recording["title"] == "My run"
    assert len(recording["log"]) == 8  # 4 produces, 4 other commands (step 1 has none)

    replay = rooms.create_replay(recording, owner="alice-session")
    assert replay.clock_state()["recording"] == {"end_ms": recording["end_ms"], "slug": slug}
    assert room.clock_state()["recording"] is None
    assert replay.you(ALICE)["mode"] == "replay"
    replayed = await run_replay_to_end(rooms, replay, clock)
    assert len(replayed) == len(original) > 1_000
    assert digest(replayed) == digest(original)
    assert replay.cluster.snapshot() == room.cluster.snapshot()

    # A replay takes no commands, from anyone; its time controls work.
    for message in (produce(9), {"type": "narrate", "request_id": "n", "step": 0}):
        reply = await ask(rooms, replay.id, ALICE, message)
        assert (reply["field"], reply["message"]) == ("type", REPLAY_ONLY)
    # Past its end only the model's own timers run.
    clock.forward(1)
    await replay.tick()
    assert len(replay.cluster.command_log) == 8


async def test_seek_rebuilds_the_replay_at_any_time_and_everyone_starts_over(rooms, clock):  # noqa: F811
    room, _ = await record_a_session(rooms, clock)
    slug = (await ask(rooms, room.id, ALICE, {"type": "share", "request_id": "s"}))["slug"]
    recording = await rooms.store.load_recording(slug)
    # What the replay looks like at 1,500 ms when played there the slow way.
    reference = rooms.create_replay(recording)
    reference.goal_ms = 1_500
    reference.advance(clock())
    assert reference.cluster.now_ms == 1_500

    replay = rooms.create_replay(recording, owner="alice-session")
    await run_replay_to_end(rooms, replay, clock)
    # Listening from here (the in-memory layer drops what a channel cannot hold).
    channel = await rooms.layer.new_channel()
    await rooms.layer.group_add(replay.group, channel)
    replay.viewers.add(channel)  # as attach counts it: a room nobody watches sends no frames
    reply = await ask(rooms, replay.id, ALICE, {"type": "control", "request_id": "k",
                                                "action": "seek", "to_ms": 1_500})
    assert reply["type"] == "ack"
    message = await asyncio.wait_for(rooms.layer.receive(channel), 5)
    assert message["type"] == "room.snapshot" and message["epoch"] == 1
    snapshot = json.loads(message["text"])
    assert snapshot["seq"] == message["seq"] == reference.cluster.seq
    # (With each partition's newest records, as every snapshot carries them: cells.py.)
    assert snapshot["state"] == add_records(reference.cluster.snapshot(), reference.cluster)
    assert snapshot["room"]["clock"]["now_ms"] == 1_500
    assert replay.cluster.command_log == reference.cluster.command_log
    # Frames after a seek continue from the new snapshot, in the new epoch; playing went on.
    clock.forward(0.2)
    await replay.tick()
    frame_message = await asyncio.wait_for(rooms.layer.receive(channel), 5)
    frame = json.loads(frame_message["text"])
    assert frame_message["epoch"] == 1 and frame["from_seq"] == snapshot["seq"] + 1
    # And from there the stream is the original's again: seek back to 0, play to the end.
    await ask(rooms, replay.id, ALICE, {"type": "control", "request_id": "k0",
                                        "action": "seek", "to_ms": 0})
    fresh = rooms.create_replay(recording)
    fresh.advance(clock())  # paused at 0: applies what was recorded at 0 ms
    assert replay.cluster.snapshot() == fresh.cluster.snapshot()

    too_far = recording["end_ms"] + messages.MAX_STEP_MS + 1
    reply = await ask(rooms, replay.id, ALICE, {"type": "control", "request_id": "k",
                                                "action": "seek", "to_ms": too_far})
    assert reply["field"] == "to_ms"
    reply = await ask(rooms, room.id, ALICE, {"type": "control", "request_id": "k",
                                              "action": "seek", "to_ms": 0})
    assert reply["field"] == "action" and "replay" in reply["message"]
    # A viewer who may not drive may not seek either.
    reply = await ask(rooms, replay.id, BOB, {"type": "control", "request_id": "k",
                                              "action": "seek", "to_ms": 0})
    assert reply["message"] == PRESENTER_ONLY


async def test_anyone_forks_a_room_into_their_own_paused_copy(rooms, clock):  # noqa: F811
    room, _ = await record_a_session(rooms, clock)
    reply = await ask(rooms, room.id, BOB, {"type": "fork", "request_id": "f"})
    fork = rooms.awake[reply["room"]]
    assert reply == {"type": "forked", "request_id": "f", "room": fork.id,
                     "url": f"/r/{fork.id}"}
    assert fork.cluster.snapshot() == room.cluster.snapshot()
    assert fork.cluster.seq == room.cluster.seq and not fork.pacer.playing
    assert fork.you(BOB)["presenter"] and not fork.you(ALICE)["may_control"]
    assert rooms.store.logs[fork.id] == room.cluster.command_log  # stored before the reply
    # The copy goes its own way; the original is untouched.
    assert (await ask(rooms, fork.id, BOB, produce(50)))["type"] == "ack"
    assert len(fork.cluster.command_log) == len(room.cluster.command_log) + 1

    # Forking a replay mid-way gives a live room at that point of the recording.
    slug = (await ask(rooms, room.id, ALICE, {"type": "share", "request_id": "s"}))["slug"]
    replay = rooms.create_replay(await rooms.store.load_recording(slug), owner="alice-session")
    replay.goal_ms = 1_000
    replay.advance(clock())
    reply = await ask(rooms, replay.id, NOBODY, {"type": "fork", "request_id": "f2"})
    fork2 = rooms.awake[reply["room"]]
    assert fork2.script is None and fork2.cluster.now_ms == 1_000
    assert fork2.cluster.snapshot() == replay.cluster.snapshot()
    assert fork2.you(NOBODY)["may_control"]  # no session: nobody owns it, it is open
    assert (await ask(rooms, fork2.id, NOBODY, produce(51)))["type"] == "ack"


async def test_forks_count_against_the_room_creation_limit(clock):  # noqa: F811
    from playground.rooms.registry import Rooms

    registry = Rooms(clock=clock, autorun=False, create_burst=2, create_per_min=6)
    room = registry.create(load_builtin("signup"))
    replies = [await ask(registry, room.id, BOB, {"type": "fork", "request_id": f"f{i}"})
               for i in range(3)]
    assert [r["type"] for r in replies] == ["forked", "forked", "error"]
    assert replies[2]["field"] == "rate" and "10 s" in replies[2]["message"]
    # Another address has its own bucket; the first one's refills at 6 a minute.
    assert (await ask(registry, room.id, ALICE, {"type": "fork", "request_id": "g"}))[
        "type"] == "forked"
    clock.forward(10)
    assert (await ask(registry, room.id, BOB, {"type": "fork", "request_id": "h"}))[
        "type"] == "forked"


async def test_listeners_get_every_batch_of_model_events_in_order(rooms, clock):  # noqa: F811
    room = rooms.create(load_builtin("signup"))
    batches = []
    room.add_listener(batches.append)
    events = room.apply({"type": "produce", "topic": "signup", "key": "k", "value": "v"})
    assert events and batches == [events]
    room.pacer.play(clock())
    clock.forward(2)
    room.advance(clock())
    assert len(batches) > 1
    seqs = [e["seq"] for batch in batches for e in batch]
    assert seqs == list(range(seqs[0], room.cluster.seq + 1))
    room.remove_listener(batches.append)
    clock.forward(2)
    room.advance(clock())
    assert [e["seq"] for batch in batches for e in batch][-1] < room.cluster.seq


async def test_a_viewer_starts_over_at_a_seek_and_never_sees_the_old_clusters_frames(
        rooms, clock):  # noqa: F811
    from tests.playground.test_consumer import send, viewer

    room, _ = await record_a_session(rooms, clock)
    slug = (await ask(rooms, room.id, ALICE, {"type": "share", "request_id": "s"}))["slug"]
    replay = rooms.create_replay(await rooms.store.load_recording(slug))  # no owner: open
    communicator, first = await viewer(replay.id)
    assert first["room"]["mode"] == "replay"
    assert first["room"]["clock"]["recording"] == {"end_ms": replay.script["end_ms"],
                                                   "slug": slug}
    # `step` in a replay stops at the next scripted instant too (here: 0 ms, then 7,000 ms).
    assert (await send(communicator, {"type": "control", "request_id": "st",
                                      "action": "step"}))["type"] == "ack"
    assert replay.cluster.now_ms <= replay.script["log"][1]["at_ms"]
    await communicator.send_json_to({"type": "control", "request_id": "k", "action": "seek",
                                     "to_ms": 3_000})
    seen = {}
    while set(seen) != {"ack", "snapshot"}:  # in either order (protocol)
        message = await communicator.receive_json_from(timeout=2)
        if message["type"] in ("ack", "snapshot"):
            seen[message["type"]] = message
    snapshot = seen["snapshot"]
    assert snapshot["room"]["clock"]["now_ms"] == 3_000
    # A frame of the cluster the seek replaced, arriving late, is dropped.
    await rooms.layer.group_send(replay.group, {"type": "room.frame", "epoch": 0,
                                                "to_seq": snapshot["seq"] + 5,
                                                "text": json.dumps({"type": "stale"})})
    await send(communicator, {"type": "control", "request_id": "p", "action": "play"})
    clock.forward(0.5)
    await replay.tick()
    frame = await communicator.receive_json_from(timeout=2)
    while frame["type"] != "frame":
        frame = await communicator.receive_json_from(timeout=2)
    assert frame["from_seq"] == snapshot["seq"] + 1
    await communicator.disconnect()


@pytest.mark.parametrize("kind", sorted(WIRE_COMMANDS))
async def test_the_page_cannot_send_what_only_real_kafka_clients_send(rooms, kind):  # noqa: F811
    room = rooms.create(quiet_spec(), seed=1)
    before = room.cluster.seq
    reply = json.loads((await room.handle(
        {"type": "command", "request_id": "w", "command": {"type": kind, "group": "g"}},
        {"viewer": "v"}))["text"])
    assert reply["type"] == "error" and reply["field"] == "command.type"
    assert "wire listener" in reply["message"]
    assert room.cluster.seq == before and room.cluster.command_log == []
