"""Rooms under races and failures: concurrent joins, a command landing during
a snapshot's flush, deep JSON, model exceptions, unbounded recordings, a room put back to sleep
while a viewer attaches, a recording evicted during its own replay."""
import asyncio
import json

import pytest
from channels.testing import WebsocketCommunicator

from broker_core.scenario import build_cluster
from playground.asgi import application
from playground.rooms.room import Room
from tests.playground.rooms_support import busy_spec, clock, quiet_spec, rooms  # noqa: F401

ORIGIN = [(b"origin", b"http://localhost")]


async def _viewer(room_id):
    c = WebsocketCommunicator(application, f"/ws/rooms/{room_id}/", headers=ORIGIN)
    ok, _ = await c.connect()
    assert ok
    assert (await c.receive_json_from(timeout=2))["type"] == "snapshot"
    assert (await c.receive_json_from(timeout=2))["type"] == "you"
    return c


async def test_deeply_nested_json_gets_an_error_not_a_crash(rooms, clock):  # noqa: F811
    room = rooms.create(quiet_spec(), meta={"name": "q"})
    c = await _viewer(room.id)
    await c.send_to(text_data="[" * 30_000 + "]" * 30_000)  # 60 KB < 64 KiB limit
    reply = await c.receive_json_from(timeout=2)  # today: RecursionError escapes receive()
    assert reply == {"type": "error", "field": "message", "message": reply["message"]}
    await c.disconnect()


async def test_room_exception_in_handle_is_an_error_reply(rooms, clock):  # noqa: F811
    """A broker_core bug hit while applying a command must not kill the viewer's socket."""
    room = rooms.create(quiet_spec(), meta={"name": "q"})
    c = await _viewer(room.id)

    def boom(cluster, command):
        raise RuntimeError("model bug")
    room.cluster._command_handlers["produce"] = boom
    await c.send_to(text_data=json.dumps({"type": "command", "request_id": "c1", "command": {
        "type": "produce", "topic": "orders", "value": "x"}}))
    reply = await c.receive_json_from(timeout=2)  # today: RuntimeError escapes, socket dies
    assert reply["type"] == "error" and reply["request_id"] == "c1"
    await c.disconnect()


class YieldingLayer:
    """Like channels_redis: group_send really awaits I/O, so other coroutines run meanwhile."""

    def __init__(self):
        self.sent = []

    async def group_send(self, group, message):
        await asyncio.sleep(0)
        self.sent.append(message)


async def test_snapshot_seq_matches_its_state_when_a_command_lands_during_flush(clock):  # noqa: F811
    layer = YieldingLayer()
    room = Room("r", quiet_spec(), build=build_cluster, layer=layer, clock=clock)
    produce = {"type": "command", "request_id": "c", "command": {
        "type": "produce", "topic": "orders", "partition": 0, "value": "a"}}
    await room.handle(produce, {"viewer": "b"})  # something pending, so resync's flush awaits
    seq_after_first = room.cluster.seq
    resync = asyncio.create_task(room.handle({"type": "resync"}, {"viewer": "a"}))
    await asyncio.sleep(0)  # resync is now inside group_send
    await room.handle({**produce, "request_id": "d"}, {"viewer": "b"})  # another viewer
    snap = json.loads((await resync)["text"])
    # Invariant of the protocol: the state is exactly the events with seq <= snapshot.seq.
    # (Before the fix the state already held the second record while seq said it was still
    # to come, so the next frame delivered it again.)
    part = snap["state"]["topics"]["orders"]["partitions"][0]
    assert (snap["seq"], part["log_end_offset"]) == (seq_after_first, 1)
    assert room.cluster.seq > snap["seq"]


async def test_room_memory_is_bounded_by_records_max(clock):  # noqa: F811
    """records_max caps the log, but every produced value also stays in cluster.command_log
    (the room's recording, deep-copied, kept while awake AND while asleep) forever."""
    layer = YieldingLayer()
    room = Room("r", quiet_spec(), build=build_cluster, layer=layer, clock=clock,
                records_max=10)
    value = "x" * 60_000  # one 64 KiB message; 10 msg/s per connection, any number of sockets
    replies = []
    for i in range(300):
        reply = await room.handle({"type": "command", "request_id": f"c{i}", "command": {
            "type": "produce", "topic": "orders", "value": value}}, {"viewer": "a"})
        replies.append(json.loads(reply["text"]))
        room.pending.clear()
    size = len(json.dumps(room.recording()))
    assert size < 2_000_000, f"recording holds {size:,} bytes for a 10-record room"
    # Past the recording's budget a command is refused, clearly, and nothing else changes.
    assert replies[0]["type"] == "ack"
    refused = [r for r in replies if r["type"] == "error"]
    assert refused and refused[0]["field"] == "command" and "full" in refused[0]["message"]


async def test_tick_failure_is_reported_to_viewers(rooms, clock):  # noqa: F811
    """A model exception in a tick is only logged: viewers get no notice, and the failing
    timer was popped, so e.g. a producer silently stops for good."""
    room = rooms.create(busy_spec(rate_per_s=20), meta={"name": "b"})
    room.viewers.add("v")
    room.pacer.play(clock())
    heap = room.cluster.clock._heap
    for _, _, timer in heap:
        if timer.action is not None:
            real = timer.action
            def bad(arg, real=real):
                raise RuntimeError("model bug")
            timer.action = bad
    clock.forward(1.0)
    with pytest.raises(RuntimeError):
        await room.tick()  # _run would log.exception this and go on
    assert any(n["level"] == "warning" for n in room.notices), "viewers were told nothing"


async def test_viewer_attached_while_room_is_put_back_to_sleep(clock):  # noqa: F811
    """wake() awaits room.notice() (a real await on Redis) after the room is awake but before
    attach() adds the viewer; a room created meanwhile may put it straight back to sleep. The
    viewer is then counted on an orphaned Room object; the room it actually talks to has no
    viewers, so no task ticks it: the viewer gets a snapshot and never a frame."""
    from playground.rooms.registry import Rooms
    registry = Rooms(clock=clock, layer=YieldingLayer(), max_rooms=1, idle_s=300,
                     autorun=True, tick_s=0.01)
    a = registry.create(quiet_spec(), meta={"name": "a"})
    registry.sleep(a.id)
    attach = asyncio.create_task(registry.attach(a.id, "viewer-1"))
    while a.id not in registry.awake:
        await asyncio.sleep(0)  # replay runs in a thread; now wake() is inside notice()
    registry.create(quiet_spec(), meta={"name": "b"})  # a has no viewer yet: it is evicted
    await attach
    await registry.handle(a.id, {"type": "resync"}, {"viewer": "viewer-1"})  # as connect()
    live = registry.awake[a.id]
    try:
        assert live.viewers == {"viewer-1"}, f"live room viewers={live.viewers}"
        assert live.task is not None, "nobody ticks the room this viewer is watching"
    finally:
        for r in list(registry.awake.values()):
            r.viewers.clear()
        if registry._janitor:
            registry._janitor.cancel()


async def test_wake_survives_its_recording_being_evicted_meanwhile(clock):  # noqa: F811
    from playground.rooms.registry import NoSuchRoom, Rooms
    registry = Rooms(clock=clock, layer=YieldingLayer(), max_rooms=5, autorun=False)
    a = registry.create(busy_spec(rate_per_s=200), meta={"name": "a"})
    b = registry.create(quiet_spec(), meta={"name": "b"})
    registry.sleep(a.id)
    wake = asyncio.create_task(registry.wake(a.id))
    await asyncio.sleep(0)  # a's replay is in a worker thread
    registry.sleep(b.id)  # another room's save to the store runs meanwhile
    try:
        room = await wake
    except NoSuchRoom:
        return  # also fine: the consumer turns this into error "room" + close 4404
    # Before the fix: a bare KeyError, which connect()/receive() do not catch.
    assert registry.awake[a.id] is room


async def test_two_viewers_joining_at_once_get_each_frame_once():
    """Relay.join checks `group not in self._pumps`, then awaits group_add (a Redis round trip)
    before recording the pump: two sockets opening the same room together both create a pump.
    Every frame then reaches every viewer twice (the page sees a seq gap and resyncs on every
    frame), and leave() cancels only the second pump: the first leaks, subscribed forever."""
    from channels.layers import InMemoryChannelLayer

    from playground.rooms.relay import Relay

    class SlowAdd(InMemoryChannelLayer):
        async def group_add(self, group, channel):
            await asyncio.sleep(0)
            await super().group_add(group, channel)

    layer = SlowAdd()
    relay = Relay(layer)

    class Viewer:
        def __init__(self):
            self.got = []

        async def deliver(self, message):
            self.got.append(message["to_seq"])

    v1, v2 = Viewer(), Viewer()
    await asyncio.gather(relay.join("room.x", v1), relay.join("room.x", v2))
    await layer.group_send("room.x", {"type": "room.frame", "to_seq": 5, "text": "{}"})
    await asyncio.sleep(0.05)
    try:
        assert v1.got == [5] and v2.got == [5], (v1.got, v2.got)
    finally:
        await relay.leave("room.x", v1)
        await relay.leave("room.x", v2)
        await asyncio.sleep(0.01)
        leaked = [t for t in asyncio.all_tasks() if "_pump" in repr(t) and not t.done()]
        n = len(leaked)
        for t in leaked:
            t.cancel()
        assert not n, f"{n} pump task(s) outlived every viewer"
