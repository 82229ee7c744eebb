"""The room runtime and this process's registry: sleep and wake, caps, the record budget."""

import asyncio
import json

import pytest

from broker_core.checkers import digest
from broker_core.scenarios import load_builtin
from playground.rooms.registry import NoSuchRoom, Rooms, RoomsFull
from tests.playground.rooms_support import FakeClock, busy_spec, clock, drive, quiet_spec, rooms  # noqa: F401


def state_digest(room) -> str:
    return digest([room.cluster.snapshot(), {"seq": room.cluster.seq,
                                             "log": room.cluster.command_log}])


async def test_an_idle_room_sleeps_and_wakes_by_replay_to_the_identical_state(rooms, clock):  # noqa: F811
    room = rooms.create(load_builtin("signup"), meta={"name": "signup"})
    await rooms.attach(room.id, "viewer-1")
    await drive(rooms, room, {"type": "control", "request_id": "p", "action": "play"})
    await drive(rooms, room, {"type": "control", "request_id": "s", "action": "speed",
                              "speed": 20})
    for second in range(1, 4):
        clock.forward(1)
        await room.tick()
        ack = await drive(rooms, room, {"type": "command", "request_id": f"c{second}",
                                        "command": {"type": "produce", "topic": "signup",
                                                    "key": f"user-{second}", "value": "hi"}})
        assert ack["type"] == "ack"
    await drive(rooms, room, {"type": "narrate", "request_id": "n", "step": 2})
    before = state_digest(room)
    seq, now_ms = room.cluster.seq, room.cluster.now_ms
    await rooms.detach(room.id, "viewer-1")

    clock.forward(rooms.idle_s - 1)
    rooms.sweep()
    assert room.id in rooms.awake  # not idle long enough yet
    clock.forward(1)
    rooms.sweep()
    assert room.id not in rooms.awake and rooms.exists(room.id)
    assert rooms.info(room.id)["name"] == "signup"

    await rooms.attach(room.id, "viewer-2")  # opening it again wakes it
    woken = rooms.awake[room.id]
    assert woken is not room
    assert state_digest(woken) == before
    assert (woken.cluster.seq, woken.cluster.now_ms) == (seq, now_ms)
    assert woken.narration_step == 2 and woken.pacer.speed == 20
    assert woken.notices[-1]["message"].startswith("This room was asleep")
    # And it goes on exactly as the room that never slept would have.
    expected = room.cluster.advance(30_000)
    assert digest(woken.cluster.advance(30_000)) == digest(expected)
    assert woken.sent_seq == seq  # the next frame starts right after the snapshot's seq


async def test_the_room_cap_puts_the_idlest_unwatched_room_to_sleep_or_refuses(clock):  # noqa: F811
    registry = Rooms(clock=clock, autorun=False, max_rooms=2, idle_s=300)
    first = registry.create(quiet_spec())
    clock.forward(1)
    second = registry.create(quiet_spec())
    await registry.attach(first.id, "a")
    await registry.attach(second.id, "b")
    with pytest.raises(RoomsFull):
        registry.create(quiet_spec())
    await registry.detach(second.id, "b")
    third = registry.create(quiet_spec())
    assert set(registry.awake) == {first.id, third.id}
    assert second.id not in registry.awake and await registry.aexists(second.id)
    await registry.attach(third.id, "c")
    with pytest.raises(RoomsFull):  # waking needs a slot too, and both are watched now
        await registry.attach(second.id, "b")
    assert registry.exists(second.id)


async def test_sleeping_rooms_leave_memory_for_the_store(clock):  # noqa: F811
    registry = Rooms(clock=clock, autorun=False, max_rooms=5, idle_s=1)
    rooms_ = [registry.create(quiet_spec()) for _ in range(3)]
    await registry.persist(rooms_[0].id)
    await drive(registry, rooms_[0], {"type": "command", "request_id": "c", "command": {
        "type": "topic.create", "name": "extra", "partitions": 1}})
    clock.forward(2)
    registry.sweep()
    assert not registry.awake
    await asyncio.sleep(0.01)  # the saves run as tasks on the loop
    assert not registry.settling  # nothing of a sleeping room stays in this process
    assert set(registry.store.rooms) == {r.id for r in rooms_}
    assert all(registry.store.rooms[r.id]["state"] == "asleep" for r in rooms_)
    assert [e["command"]["name"] for e in registry.store.logs[rooms_[0].id]] == ["extra"]
    woken = await registry.wake(rooms_[0].id)
    assert woken.cluster.snapshot() == rooms_[0].cluster.snapshot()
    with pytest.raises(NoSuchRoom):
        await registry.attach("0123456789", "a")


async def test_the_record_budget_bites_like_retention_bytes_and_says_so(clock):  # noqa: F811
    registry = Rooms(clock=clock, autorun=False, records_max=500)
    room = registry.create(busy_spec(rate_per_s=2_000))
    layer = registry.layer
    channel = await layer.new_channel()
    await layer.group_add(room.group, channel)
    await registry.attach(room.id, channel)
    await drive(registry, room, {"type": "control", "request_id": "p", "action": "play"})
    clock.forward(1)  # 2,000 records into a budget of 500
    await room.tick(cpu_budget_s=60)  # all of that second in one tick, on any machine
    frame = json.loads((await layer.receive(channel))["text"])
    expired = [e for e in frame["events"] if e["type"] == "record.expired"] + [
        a for a in frame["aggregates"] if a["type"] == "record.expired"]
    assert expired and all(e.get("reason", "retained.records.max") == "retained.records.max"
                           for e in expired)
    notice = json.loads((await layer.receive(channel))["text"])
    assert notice["type"] == "notice" and notice["level"] == "warning"
    assert "500" in notice["message"]
    snapshot = json.loads((await registry.handle(room.id, {"type": "resync"}, {}))["text"])
    limits = snapshot["room"]["limits"]
    assert limits["retained_records_max"] == 500
    assert limits["retained_records"] == 500
    assert snapshot["room"]["notices"][-1] == notice
    partitions = snapshot["state"]["topics"]["orders"]["partitions"]
    assert sum(p["log_end_offset"] for p in partitions) == 2_001  # records at 0 ms … 1,000 ms
    # The budget is part of the recording: a replay expires the same records.
    registry.sleep(room.id)
    await registry.attach(room.id, "again")
    assert registry.awake[room.id].cluster.snapshot() == room.cluster.snapshot()


def test_the_model_budget_keeps_the_newest_records_across_partitions():
    from broker_core import Cluster

    cluster = Cluster(seed=1, brokers=1, config={"retained.records.max": 4})
    cluster.apply({"type": "topic.create", "name": "t", "partitions": 2,
                   "replication_factor": 1})
    for n in range(6):
        cluster.advance(10)
        cluster.apply({"type": "produce", "topic": "t", "partition": n % 2, "value": f"{n}"})
    parts = cluster.snapshot()["topics"]["t"]["partitions"]
    # Records 0 and 1 (one on each partition) were the oldest and went first.
    assert [(p["log_start_offset"], p["log_end_offset"]) for p in parts] == [(1, 3), (1, 3)]
    with pytest.raises(Exception, match="config.retained.records.max"):
        Cluster(config={"retained.records.max": -1})


async def test_a_bug_in_a_message_never_breaks_the_room(rooms, clock):  # noqa: F811
    room = rooms.create(quiet_spec())
    for message in (None, 3, "play", [], {"type": None}, {"type": "control"}):
        reply = await drive(rooms, room, message)
        assert reply["type"] == "error", message
    assert (await drive(rooms, room, {"type": "control", "request_id": "p",
                                      "action": "play"}))["type"] == "ack"


async def test_the_runner_ticks_while_watched_and_stops_when_nobody_is(clock):  # noqa: F811
    import asyncio

    from channels.layers import InMemoryChannelLayer

    registry = Rooms(layer=InMemoryChannelLayer(), tick_s=0.01)  # real time, real runner
    room = registry.create(busy_spec(rate_per_s=1_000))
    await registry.attach(room.id, "v")
    await drive(registry, room, {"type": "control", "request_id": "p", "action": "play"})
    await asyncio.sleep(0.2)
    assert room.cluster.now_ms > 0 and room.frames_sent > 0
    await registry.detach(room.id, "v")
    await asyncio.sleep(0.05)
    assert room.task is None
    frozen = room.cluster.now_ms
    await asyncio.sleep(0.05)
    assert room.cluster.now_ms == frozen  # time stands still while nobody watches


async def test_idle_rooms_are_swept_to_sleep_without_anyone_asking():
    import asyncio

    from channels.layers import InMemoryChannelLayer

    registry = Rooms(layer=InMemoryChannelLayer(), idle_s=0.05, tick_s=0.01)
    room = registry.create(quiet_spec())
    await registry.attach(room.id, "v")
    await registry.detach(room.id, "v")
    await asyncio.sleep(0.3)
    assert room.id not in registry.awake and await registry.aexists(room.id)
    registry._janitor.cancel()
    registry._checkpointer.cancel()


async def test_the_relay_takes_one_layer_channel_per_room_and_isolates_viewers():
    import asyncio

    from channels.layers import InMemoryChannelLayer

    from playground.rooms.relay import Relay

    layer = InMemoryChannelLayer()
    relay = Relay(layer)
    got: dict[str, list] = {"good": [], "late": []}

    class Viewer:
        def __init__(self, name, broken=False):
            self.name, self.broken = name, broken

        async def deliver(self, message):
            if self.broken:
                raise ConnectionError("socket gone")
            got[self.name].append(message["text"])

    good, broken, late = Viewer("good"), Viewer("broken", broken=True), Viewer("late")
    await relay.join("room.r1", broken)
    await relay.join("room.r1", good)
    assert len(layer.groups["room.r1"]) == 1  # one subscription, however many viewers
    await layer.group_send("room.r1", {"type": "room.frame", "to_seq": 1, "text": "f1"})
    await relay.join("room.r1", late)
    await layer.group_send("room.r1", {"type": "room.frame", "to_seq": 2, "text": "f2"})
    await asyncio.sleep(0.05)
    assert got == {"good": ["f1", "f2"], "late": ["f2"]}
    for viewer in (good, broken, late):
        await relay.leave("room.r1", viewer)
    assert "room.r1" not in layer.groups and not relay.viewers


async def test_a_recording_the_model_now_replays_differently_wakes_with_a_warning(
        rooms, clock):  # noqa: F811
    room = rooms.create(quiet_spec())
    rooms.sleep(room.id)
    await asyncio.sleep(0.01)  # its save is a task on the loop
    stored = rooms.store.rooms[room.id]
    stored["seq"] += 1  # as if an older model had made one more event of this log
    woken = await rooms.wake(room.id)
    assert woken.cluster.seq == stored["seq"] - 1
    assert "changed model" in woken.notices[-2]["message"]  # then the usual wake notice


async def test_a_room_put_to_sleep_before_its_persist_still_stores_the_command_first(
        rooms, clock):  # noqa: F811
    room = rooms.create(quiet_spec())
    room.apply({"type": "topic.create", "name": "late", "partitions": 1})
    rooms.sleep(room.id)  # its save is now a task, not yet run
    assert room.id not in rooms.store.logs
    await rooms.persist(room.id)  # what handle awaits before an ack
    assert [e["command"]["name"] for e in rooms.store.logs[room.id]] == ["late"]


async def test_huge_records_cannot_hold_what_the_record_budget_would_not(clock):  # noqa: F811
    """A 10/s producer of 1 MB values kept 50,000 of them (50 GB) within every count limit;
    the budget's bytes (records_max x 1 KiB) now bite too, and the room says so."""
    registry = Rooms(clock=clock, autorun=False, records_max=200)
    spec = busy_spec(rate_per_s=10)
    spec["producers"][0]["value_bytes"] = 100_000
    room = registry.create(spec)
    layer = registry.layer
    channel = await layer.new_channel()
    await layer.group_add(room.group, channel)
    await registry.attach(room.id, channel)
    await drive(registry, room, {"type": "control", "request_id": "p", "action": "play"})
    clock.forward(10)  # 100 records of 100 KB: 10 MB, far over 200 KiB, well under 200 records
    await room.tick(cpu_budget_s=60)
    kept = sum(p.leader_log.size_bytes for t in room.cluster.topics.values()
               for p in t.partitions)
    assert kept <= 200 * 1024
    frame = json.loads((await layer.receive(channel))["text"])
    expired = [e for e in frame["events"] + frame["aggregates"] if e["type"] == "record.expired"]
    assert expired and {e.get("reason", "retained.bytes.max") for e in expired} == {
        "retained.bytes.max"}
    notice = json.loads((await layer.receive(channel))["text"])
    assert notice["level"] == "warning" and "0.2 MiB" in notice["message"]
    # Part of the recording: a replay expires the same records.
    registry.sleep(room.id)
    await registry.attach(room.id, "again")
    assert registry.awake[room.id].cluster.snapshot() == room.cluster.snapshot()


async def test_a_room_nobody_watches_builds_no_frames_and_a_newcomer_picks_up_from_its_snapshot(
        clock):  # noqa: F811
    from playground.rooms.room import PROCESS_VIEWER_PREFIX

    registry = Rooms(clock=clock, autorun=False)
    room = registry.create(busy_spec(rate_per_s=2_000))
    layer = registry.layer
    # Kept awake by a process (as the Kafka listener keeps its room), watched by no one.
    await registry.attach(room.id, PROCESS_VIEWER_PREFIX + "listener")
    channel = await layer.new_channel()
    await layer.group_add(room.group, channel)
    room.pacer.play(clock())
    for _ in range(5):
        clock.forward(1)
        await room.tick(cpu_budget_s=60)
    assert room.cluster.seq > 10_000  # it ran: 2,000 records a second, events for each
    assert room.frames_sent == 0 and room.pending == []  # none built, none kept for later
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(channel), 0.05)
    # Someone comes: their snapshot covers all that, and frames go on from there, gap-free.
    await registry.attach(room.id, channel)
    snapshot = json.loads((await registry.handle(room.id, {"type": "resync"}, {}))["text"])
    clock.forward(0.1)
    await room.tick(cpu_budget_s=60)
    frame = json.loads((await layer.receive(channel))["text"])
    assert frame["type"] == "frame" and frame["from_seq"] <= snapshot["seq"] + 1
    assert frame["to_seq"] > snapshot["seq"] and frame["viewers"] == 1


async def test_with_rooms_spread_over_processes_frames_go_out_even_if_nobody_is_counted(
        clock):  # noqa: F811
    """Pages attached to the copy another process ran before this one took the room over
    listen on its group without being counted here: their frames must not stop."""
    from playground.rooms.room import PROCESS_VIEWER_PREFIX

    registry = Rooms(clock=clock, autorun=False, redis_url="redis://127.0.0.1:1/0")
    room = registry.create(busy_spec(rate_per_s=100))  # no Redis is asked for this
    room.viewers.add(PROCESS_VIEWER_PREFIX + "listener")
    channel = await registry.layer.new_channel()
    await registry.layer.group_add(room.group, channel)  # a page that was never counted here
    room.pacer.play(clock())
    clock.forward(1)
    await room.tick(cpu_budget_s=60)
    frame = json.loads((await asyncio.wait_for(registry.layer.receive(channel), 5))["text"])
    assert frame["type"] == "frame" and frame["to_seq"] >= frame["from_seq"]


async def test_a_room_nobody_watches_folds_per_record_events_and_a_newcomer_gets_them_whole(
        clock):  # noqa: F811
    """With no person at a page, the model counts per-record events instead of building a
    dict each (broker_core.events.Folding): listeners get the counts, which say as much as
    the events would. Once someone watches, every record's events are dicts again and frames
    run gap-free from the newcomer's snapshot."""
    from playground.rooms.room import PROCESS_VIEWER_PREFIX

    registry = Rooms(clock=clock, autorun=False)
    room = registry.create(busy_spec(rate_per_s=1_000))
    seen = []
    room.add_listener(seen.extend, counts=True)
    await registry.attach(room.id, PROCESS_VIEWER_PREFIX + "listener")
    room.pacer.play(clock())
    before, sent = room.cluster.seq, room.cluster.producers["load"].sent
    for _ in range(3):
        clock.forward(1)
        await room.tick(cpu_budget_s=60)
    assert room.cluster.out is room.folding
    folded = [e for e in seen if e.get("aggregated")]
    assert not any(e["type"] == "record.produced" and e["seq"] > before
                   for e in seen if not e.get("aggregated"))
    produced = sum(a["count"] for a in folded if a["type"] == "record.produced")
    acked = sum(a["count"] for a in folded if a["type"] == "record.acked")
    whole_produced = sum(1 for e in seen if e["type"] == "record.produced"
                         and not e.get("aggregated"))
    assert produced > 2_000
    assert produced == acked == room.cluster.producers["load"].sent - sent - whole_produced
    assert room.frames_sent == 0 and room.pending == []

    channel = await registry.layer.new_channel()
    await registry.layer.group_add(room.group, channel)
    await registry.attach(room.id, channel)
    snapshot = json.loads((await registry.handle(room.id, {"type": "resync"}, {}))["text"])
    clock.forward(0.1)
    await room.tick(cpu_budget_s=60)
    assert room.cluster.out is not room.folding
    frame = json.loads((await registry.layer.receive(channel))["text"])
    assert frame["from_seq"] == snapshot["seq"] + 1
    assert frame["to_seq"] == frame["from_seq"] + len(frame["events"]) - 1 + sum(
        a["count"] for a in frame["aggregates"])
    assert any(e["type"] == "record.produced" for e in frame["events"])


async def test_a_room_with_figures_never_folds_per_record_events(clock):  # noqa: F811
    """A scenario's figures are per-record waits: its room keeps every event whole."""
    registry = Rooms(clock=clock, autorun=False)
    spec = busy_spec(rate_per_s=100)
    spec["figures"] = [{"label": "wait", "from": {"type": "record.produced"},
                        "to": {"type": "record.acked"}}]
    room = registry.create(spec)
    room.pacer.play(clock())
    clock.forward(1)
    await room.tick(cpu_budget_s=60)
    assert room.cluster.out is not room.folding


async def test_a_watched_room_with_a_full_frame_waiting_has_the_model_fold_the_rest(
        clock):  # noqa: F811
    """Once a frame's worth of events waits, the rest of a burst would only be folded into
    aggregates by the frame: the model folds it itself (no dict a record), and the frame
    still covers every seq, its whole events and aggregates adding up to the range."""
    from playground.rooms.frames import MAX_FRAME_EVENTS

    registry = Rooms(clock=clock, autorun=False)
    room = registry.create(busy_spec(rate_per_s=20_000))
    channel = await registry.layer.new_channel()
    await registry.layer.group_add(room.group, channel)
    await registry.attach(room.id, channel)
    snapshot = json.loads((await registry.handle(room.id, {"type": "resync"}, {}))["text"])
    room.pacer.play(clock())
    clock.forward(1)
    folded_while_watched = []
    original = room._pick_sink

    def watching_pick():
        original()
        folded_while_watched.append(room.cluster.out is room.folding)

    room._pick_sink = watching_pick
    await room.tick(cpu_budget_s=60)
    assert True in folded_while_watched and room.people_watching() == 1
    frame = json.loads((await registry.layer.receive(channel))["text"])
    assert frame["from_seq"] == snapshot["seq"] + 1 and frame["to_seq"] == room.cluster.seq
    covered = len(frame["events"]) + sum(a["count"] for a in frame["aggregates"])
    assert covered == frame["to_seq"] - frame["from_seq"] + 1
    produced = [a for a in frame["aggregates"] if a["type"] == "record.produced"]
    assert sum(a["count"] for a in produced) > 15_000
    assert all(a["high_watermark"] == a["last_offset"] + 1 for a in produced)
    assert len(frame["events"]) <= MAX_FRAME_EVENTS
