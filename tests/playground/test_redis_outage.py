"""A Redis outage and its end, with a real redis-server stopped and started again on its port.

While Redis is away, a room's own process keeps serving its local viewers (relay.publish hands
them each frame directly) and calls that need Redis raise LayerUnavailable (a RoomsFull: 503).
When it is back -- restarted, empty -- frames flow through Redis again to viewers that lived
through the outage and to new ones, and the leases of the rooms a process runs are its again,
without restarting anything. Two channel layers stand for two processes, as in
test_rooms_remote.py.
"""

import asyncio
import logging
import subprocess
import time

import pytest
import redis
from channels_redis.core import RedisChannelLayer

from playground.env import channel_layers
from playground.rooms.registry import Rooms, RoomsFull
from playground.rooms.relay import RESYNC_TYPE, relay_for
from playground.rooms.remote import LayerUnavailable, Leases, RemoteRooms, RoomHost
from tests.conftest import free_port, require_program, stop_process

from .rooms_support import FakeClock, busy_spec, quiet_spec

WAIT_S = 8  # the longest any one awaited event may take (the back-off is at most 2 s)


class RestartableRedis:
    """A throwaway redis-server (no persistence: a restart comes back empty) on a fixed port."""

    def __init__(self, binary: str):
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)  # SIGTERM, as an orderly restart does
            self.proc = None


@pytest.fixture
def restartable_redis():
    server = RestartableRedis(require_program("redis-server", "apt-get install redis-server"))
    server.start()
    yield server
    server.stop()


def layer_for(url: str) -> RedisChannelLayer:
    return RedisChannelLayer(**channel_layers(url)["default"]["CONFIG"])


class Viewer:
    """Stands for a socket's consumer: what the relay hands it, in order."""

    def __init__(self):
        self.frames: list[int] = []  # to_seq of each frame
        self.resyncs = 0
        self.changed = asyncio.Event()

    async def deliver(self, message: dict) -> None:
        if message["type"] == RESYNC_TYPE:
            self.resyncs += 1
        elif message["type"] == "room.frame":
            self.frames.append(message["to_seq"])
        self.changed.set()

    async def until(self, condition, step=None) -> None:
        """Wait (at most WAIT_S) for `condition()`; `step()`, if given, runs between checks
        (it keeps the room ticking)."""
        async def wait():
            while not condition():
                self.changed.clear()
                if step is not None:
                    await step()
                try:
                    await asyncio.wait_for(self.changed.wait(), 0.05 if step else WAIT_S)
                except TimeoutError:
                    pass
        await asyncio.wait_for(wait(), WAIT_S)


def warnings_of(caplog, logger: str, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == logger and r.levelno == logging.WARNING and text in r.getMessage()]


async def test_a_room_serves_its_own_viewers_through_a_redis_outage_and_resumes_after(
        restartable_redis, caplog):
    caplog.set_level(logging.WARNING, logger="playground.rooms.relay")
    here_layer, there_layer = layer_for(restartable_redis.url), layer_for(restartable_redis.url)
    clock = FakeClock()
    rooms = Rooms(clock=clock, autorun=False, layer=here_layer)
    room = rooms.create(busy_spec(rate_per_s=50), seed=1)
    room.pacer.play(clock())
    here, there = relay_for(here_layer), relay_for(there_layer)
    local, far = Viewer(), Viewer()  # in the room's process; in another process
    await here.join(room.group, local)
    await there.join(room.group, far)
    # Both watch, as the registry's attach counts them: a room nobody watches sends no frames.
    room.viewers.update({"ws.local", "ws.far"})
    sent: list[int] = []  # to_seq of every frame the room sent

    async def tick():
        clock.forward(0.1)
        before = room.frames_sent
        await room.tick()  # raises on today's main once Redis is gone
        if room.frames_sent > before:
            sent.append(room.sent_seq)

    try:
        await tick()
        await local.until(lambda: local.frames == sent)
        await far.until(lambda: far.frames == sent)

        restartable_redis.stop()
        for _ in range(5):
            await tick()
            # Handed over inside the tick: no wait, nothing skipped.
            assert local.frames == sent
        assert len(sent) == 6
        published = warnings_of(caplog, "playground.rooms.relay", "publishing")
        assert len(published) == 1, published  # once per outage, not once per frame

        restartable_redis.start()  # the same port, empty: every group is forgotten
        outage_end = sent[-1]
        # The far viewer's process subscribes again and tells it to resync; frames reach it
        # through Redis again.
        await far.until(lambda: far.frames[-1] > outage_end and far.resyncs >= 1, step=tick)
        # Both processes have a working subscription again, and new viewers get frames too.
        local_new, far_new = Viewer(), Viewer()
        await here.join(room.group, local_new)
        await there.join(room.group, far_new)
        await local.until(lambda: here._pumps[room.group].live, step=tick)
        await tick()
        await local_new.until(lambda: local_new.frames and local_new.frames[-1] == sent[-1])
        await far_new.until(lambda: far_new.frames and far_new.frames[-1] == sent[-1])
        await local.until(lambda: local.frames[-1] == sent[-1])
        # The room's own viewer saw every frame exactly once, before, during and after.
        assert local.frames == sent
        assert len(warnings_of(caplog, "playground.rooms.relay", "works again")) >= 2
        for relay, viewers in ((here, (local, local_new)), (there, (far, far_new))):
            for viewer in viewers:
                await relay.leave(room.group, viewer)
    finally:
        for layer in (here_layer, there_layer):
            await layer.close_pools()


async def test_a_relay_joined_while_redis_is_away_subscribes_once_it_is_back(
        restartable_redis):
    """A socket that opens during the outage: the viewer is in at once (the room's own process
    hands it frames), and it is subscribed through Redis when Redis returns."""
    layer = layer_for(restartable_redis.url)
    other = layer_for(restartable_redis.url)
    relay = relay_for(layer)
    viewer = Viewer()
    try:
        restartable_redis.stop()
        await relay.join("room.r1", viewer)  # today's main: a redis ConnectionError
        assert relay.missing("room.r1")
        restartable_redis.start()
        n = 0

        async def send():
            nonlocal n
            n += 1
            await other.group_send("room.r1", {"type": "room.frame", "to_seq": n, "text": "f"})

        await viewer.until(lambda: viewer.frames, step=send)
        assert viewer.resyncs == 1
        await relay.leave("room.r1", viewer)
    finally:
        for each in (layer, other):
            await each.close_pools()


async def test_leases_are_taken_again_and_calls_resume_after_redis_restarts(
        restartable_redis, caplog):
    caplog.set_level(logging.WARNING, logger="playground.rooms.remote")
    url = restartable_redis.url
    host_layer, other_layer = layer_for(url), layer_for(url)
    host_rooms = Rooms(clock=FakeClock(), autorun=False, layer=host_layer)
    leases, other_leases = Leases(url, ttl_s=0.6), Leases(url, ttl_s=0.6)
    host = RoomHost(host_rooms, host_layer, leases)
    remote = RemoteRooms(other_layer, other_leases, timeout_s=3)
    try:
        room = host_rooms.create(quiet_spec(), seed=1)
        await host.host(room.id)
        assert await remote.call(room.id, "exists") is True

        restartable_redis.stop()
        # A clear refusal, not redis-py's error: a RoomsFull, so pages say 503.
        with pytest.raises(LayerUnavailable) as refused:
            await remote.call(room.id, "exists")
        assert isinstance(refused.value, RoomsFull)
        assert "Redis is unreachable" in str(refused.value)
        with pytest.raises(LayerUnavailable):
            await other_leases.holder(room.id)
        with pytest.raises(LayerUnavailable):
            await host.host(host_rooms.create(quiet_spec(), seed=2).id)
        # Let the renewal loop fail a few times (it renews every ttl/3 = 0.2 s).
        await asyncio.sleep(0.7)
        assert not any(task.done() for task in host._tasks)

        restartable_redis.start()  # empty: no lease survived
        deadline = time.monotonic() + WAIT_S
        while await other_leases.holder(room.id) != host.channel:
            assert time.monotonic() < deadline, "the host never took its lease again"
            await asyncio.sleep(0.05)
        assert await remote.call(room.id, "exists") is True
        renewals = warnings_of(caplog, "playground.rooms.remote", "renewing room leases")
        assert [m for m in renewals if "failed" in m] and len(renewals) == 2, renewals
    finally:
        await remote.close()
        await host.stop()
        for layer in (host_layer, other_layer):
            await layer.close_pools()
        await leases.close()
        await other_leases.close()


async def test_a_call_sent_twice_runs_once():
    """RemoteRooms.call sends again at once when a send fails (a connection a restarted Redis
    closed), and the failed send may have arrived all the same: the host runs a call id once,
    so a viewer's command is never applied twice."""
    import json

    from channels.layers import InMemoryChannelLayer

    from playground.rooms.remote import CALL_TYPE

    class NoLeases:
        ttl_ms = 60_000

        async def renew(self, room_id, holder):
            return True

        async def release(self, room_id, holder):
            pass

    layer = InMemoryChannelLayer()
    host_rooms = Rooms(clock=FakeClock(), autorun=False, layer=layer)
    host = RoomHost(host_rooms, layer, NoLeases())
    await host.start()
    room = host_rooms.create(quiet_spec(), seed=1)
    host.hosted.add(room.id)
    reply_channel = await layer.new_channel()

    def call(call_id: str, value: str) -> dict:
        message = {"type": "command", "request_id": call_id,
                   "command": {"type": "produce", "topic": "orders", "value": value}}
        return {"type": CALL_TYPE, "id": call_id, "op": "handle", "room": room.id,
                "reply": reply_channel,
                "args": json.dumps({"message": message, "actor": {"viewer": "v"}})}

    try:
        await layer.send(host.channel, call("c1", "once"))
        await layer.send(host.channel, call("c1", "once"))  # the same call, again
        await layer.send(host.channel, call("c2", "next"))
        answered = []
        while "c2" not in answered:
            answered.append((await asyncio.wait_for(layer.receive(reply_channel), WAIT_S))["id"])
        await asyncio.gather(*host._calls)  # whatever else was started has finished
        values = [entry["command"]["value"] for entry in room.cluster.command_log]
        assert values == ["once", "next"], values
    finally:
        await host.stop()
