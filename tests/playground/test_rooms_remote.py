"""Rooms run by another process, reached through a lease in a real Redis and the channel layer.

Two registries, each with its own RedisChannelLayer (its own client prefix, as two processes
would have), share one redis-server: the host runs the room, the other forwards calls to it.
"""

import asyncio
import json

import pytest
from channels_redis.core import RedisChannelLayer

from playground.env import channel_layers
from playground.rooms.registry import Rooms
from playground.rooms.remote import Leases, RemoteRooms, RoomHeldElsewhere, RoomHost

from .rooms_support import FakeClock, quiet_spec


def layer_for(redis_url):
    return RedisChannelLayer(**channel_layers(redis_url)["default"]["CONFIG"])


@pytest.fixture
async def two_processes(redis_url):
    host_layer, other_layer = layer_for(redis_url), layer_for(redis_url)
    host_rooms = Rooms(clock=FakeClock(), autorun=False, layer=host_layer)
    leases = Leases(redis_url, ttl_s=2)
    other_leases = Leases(redis_url, ttl_s=2)
    host = RoomHost(host_rooms, host_layer, leases)
    remote = RemoteRooms(other_layer, other_leases, timeout_s=5)
    yield host_rooms, host, remote
    await remote.close()
    await host.stop()
    for layer in (host_layer, other_layer):
        await layer.flush()
        await layer.close_pools()
    await leases.redis.flushdb()
    await leases.close()
    await other_leases.close()


async def test_calls_reach_the_room_where_it_runs(two_processes):
    host_rooms, host, remote = two_processes
    room = host_rooms.create(quiet_spec(), seed=1, meta={"name": "quiet"})
    await host.host(room.id)

    assert await remote.hosted_elsewhere(room.id)
    assert await remote.call(room.id, "exists") is True
    assert (await remote.call(room.id, "info"))["name"] == "quiet"
    await remote.call(room.id, "attach", viewer="v-remote")
    assert "v-remote" in room.viewers

    command = {"type": "command", "request_id": "r1",
               "command": {"type": "produce", "topic": "orders", "value": "hello"}}
    reply = await remote.call(room.id, "handle", message=command, actor={"viewer": "v-remote"})
    assert json.loads(reply["text"])["type"] == "ack"
    assert room.cluster.command_log[-1]["command"]["value"] == "hello"

    bad = {"type": "command", "request_id": "r2", "command": {"type": "produce"}}
    reply = await remote.call(room.id, "handle", message=bad, actor={"viewer": "v-remote"})
    error = json.loads(reply["text"])
    assert error["type"] == "error" and error["field"].startswith("command")

    snapshot = await remote.call(room.id, "handle", message={"type": "resync"},
                                 actor={"viewer": "v-remote"})
    assert snapshot["snapshot_seq"] == room.cluster.seq

    await remote.call(room.id, "detach", viewer="v-remote")
    assert "v-remote" not in room.viewers


async def test_unknown_and_unhosted_rooms_are_no_such_room(two_processes):
    host_rooms, host, remote = two_processes
    with pytest.raises(KeyError):
        await remote.call("0123456789", "exists")
    room = host_rooms.create(quiet_spec(), seed=1)
    await host.host(room.id)
    await host.unhost(room.id)
    assert not await remote.hosted_elsewhere(room.id)
    with pytest.raises(KeyError):
        await remote.call(room.id, "info")


async def test_a_lease_is_exclusive_until_it_lapses(two_processes, redis_url):
    host_rooms, host, remote = two_processes
    room = host_rooms.create(quiet_spec(), seed=1)
    await host.host(room.id)

    rival_layer = layer_for(redis_url)
    rival_leases = Leases(redis_url, ttl_s=2)
    rival = RoomHost(Rooms(clock=FakeClock(), autorun=False, layer=rival_layer),
                     rival_layer, rival_leases)
    try:
        with pytest.raises(RoomHeldElsewhere):
            await rival.host(room.id)
        # The host renews while it lives: well past the TTL, the lease still holds.
        await asyncio.sleep(3)
        with pytest.raises(RoomHeldElsewhere):
            await rival.host(room.id)
        # A host that stops (here: cleanly) frees the room for another process.
        await host.stop()
        await rival.host(room.id)
        assert await rival_leases.holder(room.id) == rival.channel
    finally:
        await rival.stop()
        await rival_layer.close_pools()
        await rival_leases.close()


@pytest.fixture
async def two_servers(redis_url):
    """Two registries as two processes would have them: each its own Redis channel layer, one
    shared store (the database) and one Redis for the leases."""
    from playground.rooms.store import MemoryStore

    store = MemoryStore()
    layers = [layer_for(redis_url), layer_for(redis_url)]
    servers = [Rooms(clock=FakeClock(), autorun=False, layer=layer, store=store,
                     redis_url=redis_url) for layer in layers]
    yield servers
    for server in servers:
        host, remote = server._spread()
        await remote.close()
        await host.stop()
        await host.leases.close()
    for layer in layers:
        await layer.flush()
        await layer.close_pools()


async def test_a_viewer_on_another_server_drives_the_room_where_it_runs(two_servers):
    a, b = two_servers
    room = await a.start(quiet_spec(), seed=1, meta={"name": "quiet", "title": "Quiet"})
    assert await b.aexists(room.id)
    assert room.id not in b.awake  # b forwards; it never wakes a second copy
    assert (await b.page(room.id))["scenario"]["title"] == "Quiet"
    await b.attach(room.id, "viewer-on-b")
    assert "viewer-on-b" in room.viewers
    actor = {"viewer": "viewer-on-b", "session": None, "client": "127.0.0.1"}
    reply = await b.handle(room.id, {"type": "command", "request_id": "r1", "command": {
        "type": "produce", "topic": "orders", "value": "from b"}}, actor)
    assert json.loads(reply["text"])["type"] == "ack"
    assert room.cluster.command_log[-1]["command"]["value"] == "from b"
    assert (await b.you(room.id, actor))["may_control"] is True
    assert room.id not in b.awake
    await b.detach(room.id, "viewer-on-b")
    assert not room.viewers


async def test_a_sleeping_room_wakes_wherever_it_is_next_asked_for(two_servers):
    a, b = two_servers
    room = await a.start(quiet_spec(), seed=1, meta={"name": "quiet"})
    await a.handle(room.id, {"type": "command", "request_id": "r1", "command": {
        "type": "produce", "topic": "orders", "value": "kept"}}, {"viewer": "v"})
    seq = room.cluster.seq
    a.sleep(room.id)
    # Its lease goes once its save is done; then b runs it, rebuilt from the store.
    for _ in range(50):
        if not await b._elsewhere(room.id):
            break
        await asyncio.sleep(0.05)
    await b.attach(room.id, "viewer-on-b")
    assert b.awake[room.id].cluster.seq == seq
    assert await a._elsewhere(room.id)  # and a now forwards to b
    reply = await a.handle(room.id, {"type": "resync"}, {"viewer": "v2"})
    assert reply["snapshot_seq"] == seq
    assert room.id not in a.awake


async def test_two_servers_waking_one_room_at_once_keep_one_copy(two_servers):
    a, b = two_servers
    room = await a.start(quiet_spec(), seed=1, meta={"name": "quiet"})
    a.sleep(room.id)
    await asyncio.sleep(0.3)  # its save and lease release
    await asyncio.gather(a.attach(room.id, "va"), b.attach(room.id, "vb"))
    copies = [server for server in (a, b) if room.id in server.awake]
    assert len(copies) == 1
    assert copies[0].awake[room.id].viewers == {"va", "vb"}
