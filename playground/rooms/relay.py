"""Relay: a room's frames cross the channel layer once per process, not once per viewer.

Each process that has viewers of a room holds ONE channel in that room's group; a frame the
room sends (one `group_send`, wherever the room runs) arrives there once and is handed to each
local viewer's consumer by a direct call. Per-viewer layer channels would cost a layer message,
a copy, a queue and a task wake-up for every viewer of every frame; at 500 viewers that was
most of a Daphne process's time (bench/ws_fanout.py). The layer still bounds what waits for
this process (its channel capacity); a frame lost there shows up as a sequence gap and the
viewers ask for a snapshot, as with any loss.

The layer (Redis) may go away and come back, restarted and empty. Nothing here stops for good
when it does:

- a subscription's pump that fails to receive backs off (BACKOFF_MIN_S doubling to
  BACKOFF_MAX_S) and subscribes again, on a new channel (a restarted Redis has forgotten the
  group), then tells its viewers to resync (RESYNC_TYPE): the frames sent meanwhile are lost;
- `publish`, which every room message goes through, hands a message straight to this process's
  viewers of the room while the layer fails (or while this process's subscription to the room
  is not back yet), so a room's own process keeps serving its local viewers; it never raises a
  layer error into the room's tick. Each message reaches a viewer once: what was handed over
  directly is skipped if it also arrives through the layer.

Each outage is logged once when it starts and once when it ends (`Outage`), not per retry.
"""

import asyncio
import logging
import time
import weakref
from collections import deque

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

# channels_redis forgets group members after group_expiry (a day by default): a long-lived
# subscription renews its membership well before that.
RENEW_EVERY_S = 3_600

# After the layer fails: retry soon (most outages are a blip or a quick restart), then no more
# often than this (every retry against a dead Redis costs a connection attempt).
BACKOFF_MIN_S = 0.1
BACKOFF_MAX_S = 2.0

# What the relay hands a viewer after it subscribed again following an outage: frames may have
# been lost meanwhile, and a viewer of a room that has gone quiet would not see a sequence gap
# until the next frame. The consumer answers it with a fresh snapshot (as for a page's resync).
RESYNC_TYPE = "room.resync"

# Messages handed to viewers directly (by `publish`) remembered per subscription, so that the
# same message arriving through the layer as well is not delivered twice. Only messages sent
# while the subscription is not known to work are remembered; a handful is plenty.
DIRECT_REMEMBERED = 256


def _layer_errors() -> tuple[type[BaseException], ...]:
    """What a channel layer raises when its server cannot be reached: redis-py wraps refused,
    reset and timed-out sockets in its ConnectionError and TimeoutError (BusyLoadingError, a
    restarted Redis still loading, is a ConnectionError); a bare OSError is the same fault from
    another layer."""
    try:
        import redis.exceptions
    except ImportError:  # only the in-memory layer: it does not fail this way
        return (OSError,)
    return (OSError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


LAYER_ERRORS = _layer_errors()


async def once_more(call, *args):
    """`await call(*args)`, and once more at once if the layer fails. After Redis restarts,
    every connection a pool kept from before fails on its first use (redis-py drops it then and
    connects afresh on the next): one immediate retry tells such a stale connection from an
    outage. Only for calls whose repetition is harmless (or that the receiver deduplicates)."""
    try:
        return await call(*args)
    except LAYER_ERRORS:
        return await call(*args)


class Backoff:
    """How long to wait before the next retry while something keeps failing: BACKOFF_MIN_S,
    doubling to BACKOFF_MAX_S; `reset` once it works."""

    __slots__ = ("delay_s",)

    def __init__(self):
        self.delay_s = BACKOFF_MIN_S

    def next(self) -> float:
        delay, self.delay_s = self.delay_s, min(self.delay_s * 2, BACKOFF_MAX_S)
        return delay

    def reset(self) -> None:
        self.delay_s = BACKOFF_MIN_S


class Outage:
    """Logs a failing dependency once when it starts failing and once when it works again,
    however many retries there are in between."""

    def __init__(self, what: str, logger: logging.Logger = log):
        self.what = what
        self.log = logger
        self.since: float | None = None  # time.monotonic() of the first failure, or None
        self.failures = 0

    @property
    def failing(self) -> bool:
        return self.since is not None

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            self.log.warning("%s failed (%s: %s); retrying until it works again", self.what,
                             type(error).__name__, error)

    def ok(self) -> None:
        if self.since is not None:
            self.log.warning("%s works again after %.1f s (%d failed attempts)", self.what,
                             time.monotonic() - self.since, self.failures)
            self.since = None
            self.failures = 0


class _Subscription:
    """This process's one channel in a room's group, and the task that receives on it."""

    __slots__ = ("channel", "task", "live", "direct", "stale")

    def __init__(self):
        # None: not in the group now (the layer failed); the pump subscribes again.
        self.channel: str | None = None
        self.task: asyncio.Task | None = None
        # Whether a message sent to the group now surely reaches `channel`: set once one has
        # arrived on it. Until then `publish` hands this process's rooms' messages over itself.
        self.live = False
        # (type, text) of messages `publish` handed over directly, oldest first.
        self.direct: deque = deque(maxlen=DIRECT_REMEMBERED)
        # Channels given up after a failure, to take out of the group once the layer is back.
        self.stale: list[str] = []


def _key(message: dict) -> tuple:
    return (message.get("type"), message.get("text"))


class Relay:
    def __init__(self, layer):
        self.layer = layer
        self.loop: asyncio.AbstractEventLoop | None = None  # set by relay_for
        self.viewers: dict[str, set] = {}
        self._pumps: dict[str, _Subscription] = {}
        # Joining and leaving await the layer (a Redis round trip): without this, two viewers
        # arriving together would each start a pump, and every frame would reach them twice.
        self._lock = asyncio.Lock()
        self.outage = Outage("relay: receiving room messages from the channel layer")

    async def join(self, group: str, viewer) -> None:
        """Deliver `group`'s messages to `viewer.deliver(message)` from now on."""
        async with self._lock:
            members = self.viewers.setdefault(group, set())
            members.add(viewer)
            if group not in self._pumps:
                sub = _Subscription()
                try:
                    await self._subscribe(group, sub)
                    sub.live = True  # group_add has returned: every later group_send finds it
                except LAYER_ERRORS as e:
                    # The layer is away: the viewer is in all the same. The pump subscribes
                    # once it is back; until then this process's rooms reach it directly.
                    self.outage.failed(e)
                sub.task = asyncio.get_running_loop().create_task(self._pump(group, sub))
                self._pumps[group] = sub

    async def leave(self, group: str, viewer) -> None:
        async with self._lock:
            members = self.viewers.get(group)
            if members is None:
                return
            members.discard(viewer)
            if members:
                return
            del self.viewers[group]
            sub = self._pumps.pop(group)
            sub.task.cancel()
            for channel in [sub.channel, *sub.stale]:
                if channel is not None:
                    await self._discard(group, channel)

    def missing(self, group: str) -> bool:
        """Whether this process has viewers of `group` that a `group_send` may not reach now
        (their subscription failed and is not back, or not yet proven)."""
        sub = self._pumps.get(group)
        return sub is not None and not sub.live

    async def deliver_here(self, group: str, message: dict) -> None:
        """Hand `message` to this process's viewers of `group` directly, not through the layer
        (`publish`, while the layer fails). Remembered, so that it is not delivered again if it
        reaches the subscription through the layer too."""
        sub = self._pumps.get(group)
        if sub is None:
            return
        sub.direct.append(_key(message))
        await self._deliver(group, message)

    async def _subscribe(self, group: str, sub: _Subscription) -> None:
        # The default prefix: channels_redis receives for one process-local prefix at a time.
        channel = await self.layer.new_channel()
        await once_more(self.layer.group_add, group, channel)
        sub.channel = channel

    async def _discard(self, group: str, channel: str) -> None:
        try:
            await self.layer.group_discard(group, channel)
        except LAYER_ERRORS:
            # Nothing to undo by hand: a restarted Redis has forgotten the group, and a member
            # nobody renews lapses after the layer's group_expiry.
            pass

    async def _deliver(self, group: str, message: dict) -> None:
        for viewer in list(self.viewers.get(group, ())):
            try:
                await viewer.deliver(message)
            except Exception:
                # One viewer's broken socket must not cost the others their frames.
                log.exception("relay to a viewer of %s failed", group)

    async def _pump(self, group: str, sub: _Subscription) -> None:
        """Receive `group`'s messages for as long as this process has viewers of it (`leave`
        cancels it), whatever the layer does meanwhile."""
        renewed_s = time.monotonic()
        backoff = Backoff()
        while True:
            try:
                if sub.channel is None:
                    async with self._lock:
                        if self._pumps.get(group) is not sub:
                            return  # the last viewer left while this one waited
                        await self._subscribe(group, sub)
                    renewed_s = time.monotonic()
                    for old in sub.stale:
                        # After a blip (no restart) the old channel is still a member: taken
                        # out, or each frame would be queued for it too, never read.
                        await self._discard(group, old)
                    sub.stale.clear()
                    self.outage.ok()
                    backoff.reset()
                    # Whatever was sent while this process was out of the group is lost: the
                    # viewers start over from a snapshot rather than wait for a gap to show.
                    await self._deliver(group, {"type": RESYNC_TYPE})
                message = await self.layer.receive(sub.channel)
                if time.monotonic() - renewed_s > RENEW_EVERY_S:
                    renewed_s = time.monotonic()
                    await self.layer.group_add(group, sub.channel)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                # Any failure, not only the expected ones: a pump that dies leaves its room
                # dark for this process's viewers for good (it stays in `_pumps`).
                self.outage.failed(e)
                sub.live = False
                if sub.channel is not None:
                    sub.stale.append(sub.channel)
                    sub.channel = None
                await asyncio.sleep(backoff.next())
                continue
            self.outage.ok()
            backoff.reset()
            sub.live = True  # it arrived: the group_sends after it find this channel too
            key = _key(message)
            if sub.direct and key in sub.direct:
                sub.direct.remove(key)  # `publish` handed it over already
                continue
            # Messages arrive in the order the room sent them: whatever `publish` handed over
            # before this one and has not arrived by now never will.
            sub.direct.clear()
            await self._deliver(group, message)


class _Sending:
    """Whether `group_send` on one layer works, for `publish`: while it fails, messages skip it
    (a dead Redis costs a connection attempt each, up to its connect timeout, inside a room's
    tick) and one message at a time probes it, in the background, after a back-off."""

    __slots__ = ("outage", "retry_at", "backoff", "probe")

    def __init__(self):
        self.outage = Outage("relay: publishing room messages to the channel layer")
        self.retry_at = 0.0
        self.backoff = Backoff()
        self.probe: asyncio.Task | None = None

    def failed(self, error: BaseException) -> None:
        self.outage.failed(error)
        self.retry_at = time.monotonic() + self.backoff.next()

    def ok(self) -> None:
        self.outage.ok()
        self.backoff.reset()


_sending: "weakref.WeakKeyDictionary[object, _Sending]" = weakref.WeakKeyDictionary()


async def publish(layer, group: str, message: dict) -> None:
    """Send one room message (a frame, notice, state or snapshot) to every process's viewers
    of `group`: one `group_send`. Never raises a layer error: while the layer fails, this
    process's viewers of `group` get the message directly (the others miss it, and resync)."""
    try:
        sending = _sending[layer]
    except KeyError:
        sending = _sending.setdefault(layer, _Sending())
    except TypeError:  # a layer that cannot be weakly referenced: no memory of failures
        sending = _Sending()
    relay = _relay_of(layer)
    if sending.outage.failing:
        if sending.probe is None and time.monotonic() >= sending.retry_at:
            sending.probe = asyncio.get_running_loop().create_task(
                _probe(layer, sending, group, message))
        if relay is not None:
            await relay.deliver_here(group, message)
        return
    try:
        # A repeated message is harmless: a viewer that gets one twice sees a gap and resyncs.
        await once_more(layer.group_send, group, message)
    except LAYER_ERRORS as e:
        sending.failed(e)
        if relay is not None:
            await relay.deliver_here(group, message)
        return
    if relay is not None and relay.missing(group):
        # Sent, but this process's own subscription is not back (or not proven) yet.
        await relay.deliver_here(group, message)


async def _probe(layer, sending: _Sending, group: str, message: dict) -> None:
    """One `group_send` while sending is failing: it either works (sending resumes) or backs
    off further. The message was handed to this process's viewers already."""
    try:
        await layer.group_send(group, message)
    except LAYER_ERRORS as e:
        sending.failed(e)
    except Exception as e:
        # Not an outage we know of; still never into a room's tick. Probed again later.
        log.exception("relay: probing the channel layer failed")
        sending.failed(e)
    else:
        sending.ok()
    finally:
        sending.probe = None


_relays: dict = {}


def _relay_of(layer) -> Relay | None:
    """This process's relay for `layer` on the running loop, if it has one."""
    relay = _relays.get((id(layer), id(asyncio.get_running_loop())))
    return relay if relay is not None and relay.layer is layer else None


def relay_for(layer) -> Relay:
    """This process's relay for `layer` on the running loop (made on first use)."""
    loop = asyncio.get_running_loop()
    key = (id(layer), id(loop))
    relay = _relays.get(key)
    if relay is None or relay.layer is not layer or relay.loop is not loop:
        # Tests run each in a fresh loop with a fresh layer; a process serving has one of each.
        for other_key, other in list(_relays.items()):
            if other_key == key or other.loop is None or other.loop.is_closed():
                del _relays[other_key]
        relay = _relays[key] = Relay(layer)
        relay.loop = loop
    return relay


def get_relay() -> Relay:
    """This process's relay for the default layer on the running loop."""
    return relay_for(get_channel_layer())
