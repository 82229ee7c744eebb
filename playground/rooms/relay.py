"""Relay: a room's frames cross the channel layer once per process, not once per viewer.

Each process that has viewers of a room holds ONE channel in that room's group; a frame the
room sends (one `group_send`, wherever the room runs) arrives there once and is handed to each
local viewer's consumer by a direct call. Per-viewer layer channels would cost a layer message,
a copy, a queue and a task wake-up for every viewer of every frame; at 500 viewers that was
most of a Daphne process's time (bench/ws_fanout.py). The layer still bounds what waits for
this process (its channel capacity); a frame lost there shows up as a sequence gap and the
viewers ask for a snapshot, as with any loss.
"""

import asyncio
import logging
import time

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

# channels_redis forgets group members after group_expiry (a day by default): a long-lived
# subscription renews its membership well before that.
RENEW_EVERY_S = 3_600


class Relay:
    def __init__(self, layer):
        self.layer = layer
        self.viewers: dict[str, set] = {}
        self._pumps: dict[str, tuple[str, asyncio.Task]] = {}
        # Joining and leaving await the layer (a Redis round trip): without this, two viewers
        # arriving together would each start a pump, and every frame would reach them twice.
        self._lock = asyncio.Lock()

    async def join(self, group: str, viewer) -> None:
        """Deliver `group`'s messages to `viewer.deliver(message)` from now on."""
        async with self._lock:
            members = self.viewers.setdefault(group, set())
            members.add(viewer)
            if group not in self._pumps:
                # The default prefix: channels_redis receives for one process-local prefix at
                # a time.
                channel = await self.layer.new_channel()
                await self.layer.group_add(group, channel)
                task = asyncio.get_running_loop().create_task(self._pump(group, channel))
                self._pumps[group] = (channel, task)

    async def leave(self, group: str, viewer) -> None:
        async with self._lock:
            members = self.viewers.get(group)
            if members is None:
                return
            members.discard(viewer)
            if members:
                return
            del self.viewers[group]
            channel, task = self._pumps.pop(group)
            task.cancel()
            await self.layer.group_discard(group, channel)

    async def _pump(self, group: str, channel: str) -> None:
        renewed_s = time.monotonic()
        while True:
            message = await self.layer.receive(channel)
            for viewer in list(self.viewers.get(group, ())):
                try:
                    await viewer.deliver(message)
                except Exception:
                    # One viewer's broken socket must not cost the others their frames.
                    log.exception("relay to a viewer of %s failed", group)
            if time.monotonic() - renewed_s > RENEW_EVERY_S:
                renewed_s = time.monotonic()
                await self.layer.group_add(group, channel)


async def publish(layer, group: str, message: dict) -> None:
    """Send one room message (a frame, notice, state or snapshot) to every process's viewers
    of `group`: one `group_send`."""
    await layer.group_send(group, message)


_relays: dict = {}


def get_relay() -> Relay:
    """This process's relay for the default layer on the running loop."""
    layer = get_channel_layer()
    key = (id(layer), id(asyncio.get_running_loop()))
    relay = _relays.get(key)
    if relay is None or relay.layer is not layer:
        # Tests run each in a fresh loop with a fresh layer; a process serving has one of each.
        _relays.clear()
        relay = _relays[key] = Relay(layer)
    return relay
