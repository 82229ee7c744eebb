"""The Redis channel layer our settings build, against a real redis-server."""

import asyncio
import time

from channels_redis.core import RedisChannelLayer

from playground.env import channel_layers

IDLE_S = 6  # longer than redis-py 8's default 5 s socket timeout


async def test_redis_layer_round_trip_and_idle_consumer_survives(redis_url):
    layer = RedisChannelLayer(**channel_layers(redis_url)["default"]["CONFIG"])
    try:
        channel = await layer.new_channel()
        await layer.group_add("room-demo", channel)
        await layer.group_send("room-demo", {"type": "room.frame", "seq": 1})
        message = await asyncio.wait_for(layer.receive(channel), timeout=5)
        assert message == {"type": "room.frame", "seq": 1}

        # An idle viewer: nothing arrives for IDLE_S seconds, then a frame does. With redis-py's
        # default socket_timeout (5 s) the blocked BZPOPMIN read times out and receive() raises.
        async def send_later():
            await asyncio.sleep(IDLE_S)
            await layer.group_send("room-demo", {"type": "room.frame", "seq": 2})

        started = time.monotonic()
        sender = asyncio.create_task(send_later())
        message = await asyncio.wait_for(layer.receive(channel), timeout=IDLE_S + 10)
        await sender
        assert message == {"type": "room.frame", "seq": 2}
        assert time.monotonic() - started >= IDLE_S
    finally:
        await layer.flush()
        await layer.close_pools()
