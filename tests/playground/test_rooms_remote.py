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
