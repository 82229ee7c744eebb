"""Review R5: one recorded session with every kind of change (produce with unicode and header
order, speed changes, a jump, narration, topic create/alter/grow/delete, a producer, a consumer
crash, broker stop/start) replays byte for byte through the database: after a restart, after
share, after seeking back and forth, after export -> import, and forked at a time T.
"""

import json

import pytest
from channels.db import database_sync_to_async as sync_to_async

from broker_core.checkers import digest
from broker_core.scenarios import load_builtin
from playground.rooms.registry import Rooms, set_rooms
from tests.playground.rooms_support import FakeClock
from tests.playground.test_rooms_persistence import GatedStore, _drop_worker_connection

ALICE = {"viewer": "a", "session": "alice-session", "client": "10.0.0.1"}


@pytest.fixture
async def db(transactional_db):
    yield
    await sync_to_async(_drop_worker_connection)()


def registry(clock):
    r = Rooms(clock=clock, autorun=False, store=GatedStore())
    r.store.gate.set()
    set_rooms(r)
    return r


async def ask(rooms, room_id, message):
    reply = json.loads((await rooms.handle(room_id, message, ALICE))["text"])
    assert reply["type"] in ("ack", "shared", "forked"), (message, reply)
    return reply


def cmd(n, command):
    return {"type": "command", "request_id": f"c{n}", "command": command}


SCRIPT = [
    (0.0, cmd(0, {"type": "produce", "topic": "signup", "key": "ключ-é", "value": "v\u2028\x00",
                  "headers": {"z": "1", "a": "2", "ü": "3"}})),
    (0.3, {"type": "control", "request_id": "sp", "action": "speed", "speed": 37.5}),
    (0.2, cmd(1, {"type": "topic.create", "name": "extra", "partitions": 3,
                  "config": {"retention.ms": 90_000, "cleanup.policy": "delete"}})),
    (0.4, cmd(2, {"type": "producer.add", "id": "load", "topic": "extra", "rate_per_s": 12.5})),
    (0.4, {"type": "narrate", "request_id": "n2", "step": 2}),
    (0.2, cmd(3, {"type": "consumer.crash", "group": "profile",
                  "id": "profile-1"})),
    (0.5, {"type": "control", "request_id": "j", "action": "jump", "ms": 45_000}),
    (0.3, cmd(4, {"type": "broker.stop", "broker": 2, "mode": "crash"})),
    (0.6, cmd(5, {"type": "topic.alter_config", "name": "extra",
                  "config": {"retention.ms": 60_000}})),
    (0.2, cmd(6, {"type": "topic.add_partitions", "name": "extra", "partitions": 5})),
    (0.5, cmd(7, {"type": "broker.start", "broker": 2})),
    (0.1, {"type": "control", "request_id": "sp2", "action": "speed", "speed": 3}),
    (0.4, cmd(8, {"type": "producer.remove", "id": "load"})),
    (0.3, cmd(9, {"type": "topic.delete", "name": "extra"})),
    (0.2, cmd(10, {"type": "produce", "topic": "signup", "key": "k", "value": "😀" * 50})),
]


async def test_a_rich_session_replays_exactly_through_every_path(db):
    clock = FakeClock()
    rooms = registry(clock)
    room = rooms.create(load_builtin("signup"), meta={"name": "signup", "title": "S"},
                        owner="alice-session")
    await rooms.persist(room.id)
    events = []
    room.add_listener(events.extend)
    await ask(rooms, room.id, {"type": "control", "request_id": "p", "action": "play"})
    for wall_s, message in SCRIPT:
        for _ in range(int(wall_s / 0.05)):
            clock.forward(0.05)
            await room.tick()
        await ask(rooms, room.id, message)
        await room.flush()
    clock.forward(0.5)
    await room.tick()
    slug = (await ask(rooms, room.id, {"type": "share", "request_id": "s"}))["slug"]
    end_ms = room.cluster.now_ms
    # Eleven commands (narration step 2 names a moment: it moves the clock, adds no command).
    assert len(room.cluster.command_log) == 11 and len(events) > 1_000
    snap = room.cluster.snapshot()
    await rooms.persist(room.id)

    # restart: a fresh registry on the same database
    clock2 = FakeClock()
    rooms2 = registry(clock2)
    woken = await rooms2.wake(room.id)
    assert woken.cluster.snapshot() == snap
    assert woken.cluster.command_log == room.cluster.command_log

    async def play(rooms_, replay):
        got = []
        replay.add_listener(got.extend)
        await ask(rooms_, replay.id, {"type": "control", "request_id": "p", "action": "play"})
        await ask(rooms_, replay.id, {"type": "control", "request_id": "s", "action": "speed",
                                      "speed": 11})  # another pace than the original's
        while replay.cluster.now_ms < end_ms:
            rooms_.clock.forward(min(0.05, max(0.0001, (end_ms - replay.cluster.now_ms) / 11000)))
            await replay.tick()
        return got

    recording = await rooms2.store.load_recording(slug)
    replay = rooms2.create_replay(recording, owner="alice-session")
    got = await play(rooms2, replay)
    assert replay.cluster.now_ms == end_ms
    assert digest(got) == digest(events)
    assert replay.cluster.snapshot() == snap

    # seek back and forth, then play: same stream from the seek point
    replay2 = rooms2.create_replay(recording, owner="alice-session")
    for to in (end_ms // 2, 1000, end_ms - 10, 3000):
        await ask(rooms2, replay2.id, {"type": "control", "request_id": "k", "action": "seek",
                                       "to_ms": to})
    seq0 = replay2.cluster.seq
    got2 = await play(rooms2, replay2)
    assert digest(got2) == digest([e for e in events if e["seq"] > seq0])

    # export -> import -> open
    from playground.rooms.recordings import recording_document, save_recording
    doc = await sync_to_async(recording_document)(slug)
    del doc["slug"]
    text = json.dumps(doc)
    slug2 = await sync_to_async(save_recording)(json.loads(text))
    recording2 = await rooms2.store.load_recording(slug2)
    replay3 = rooms2.create_replay(recording2, owner="alice-session")
    got3 = await play(rooms2, replay3)
    assert digest(got3) == digest(events)

    # fork from a replay at T equals the original at T
    replay4 = rooms2.create_replay(recording, owner="alice-session")
    await ask(rooms2, replay4.id, {"type": "control", "request_id": "k", "action": "seek",
                                   "to_ms": 20_000})
    reply = await ask(rooms2, replay4.id, {"type": "fork", "request_id": "f"})
    fork = rooms2.awake[reply["room"]]
    ref = rooms2.create_replay(recording)
    ref.goal_ms = 20_000
    # One call into the model stops at its CPU budget (a loaded machine got 7,750 ms of 20,000
    # in one): call again until it is there, as the registry's ticks would.
    for _ in range(1_000):
        ref.advance(clock2())
        if ref.cluster.now_ms >= 20_000:
            break
    assert fork.cluster.snapshot() == ref.cluster.snapshot()
    # and the fork after a restart
    await rooms2.persist(fork.id)
    rooms3 = registry(FakeClock())
    f2 = await rooms3.wake(fork.id)
    assert f2.cluster.snapshot() == ref.cluster.snapshot()
    # replay room after a restart
    await rooms2.persist(replay2.id)
    r3 = await rooms3.wake(replay2.id)
    assert r3.cluster.snapshot() == replay2.cluster.snapshot()
    set_rooms(None)
