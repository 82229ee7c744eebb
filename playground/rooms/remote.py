"""Rooms that run in another process: a lease in Redis says where, the channel layer carries calls.

A room runs in exactly one process (its cluster is a Python object there). The process that runs
it holds a *lease*: a Redis key ``playground:room-host:<id>`` whose value is that process's *host
channel* on the channel layer, with a time-to-live the host keeps renewing. Another process asked
for the room (a browser's socket connected there, the page view) finds the lease and forwards the
call -- attach, detach, handle, info -- as one channel-layer message to the host channel; the host
runs it on the room and answers on the caller's reply channel.

Frames need none of this: a room already sends each frame as one ``group_send`` to its group, and
the relay of every process with viewers is in that group wherever the room runs.

A host that dies stops renewing; its lease lapses after ``ttl_s`` and callers get "no such room"
(or, with the room's command log in the database, another process may take it over by replay).
Calls are few (a viewer's commands, at most a few a second each, and its joins and leaves), so one
round trip each is fine; the heavy traffic, frames and Kafka clients' requests, never goes
through here.

Only with the Redis channel layer: the in-memory layer cannot reach another process, and a
process without Redis runs all its rooms itself.

Redis may go away and come back (restarted, empty). Meanwhile every call that needs it raises
`LayerUnavailable` (a 503 for pages, a 4503 close for sockets), the rooms this process runs go on
serving their local viewers (relay.publish), and the loops here keep retrying, logging once per
outage: serving calls, receiving answers, and renewing leases -- which, once Redis is back,
takes again the leases of every room this process runs (a restarted Redis has none).
"""

import asyncio
import collections
import functools
import json
import logging
import secrets

from playground.jsontext import ascii_dumps

from .errors import LayerUnavailable, NoSuchRoom, RoomHeldElsewhere, RoomUnreachable
from .relay import LAYER_ERRORS, Backoff, Outage, once_more

log = logging.getLogger(__name__)

LEASE_PREFIX = "playground:room-host:"
CALL_TYPE = "room.call"
REPLY_TYPE = "room.reply"
OPS = ("exists", "info", "page", "attach", "detach", "handle", "you", "release")
# Call ids a host remembers, to run a call sent twice (RemoteRooms.call retries a send that
# failed, and it may have arrived all the same) only once. Far more than arrive in the time a
# retry takes.
SEEN_CALLS = 4096

# Renew the lease only if we still hold it: another host may have taken a lapsed lease over.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def _unavailable_on_outage(method):
    """Raise LayerUnavailable, not redis-py's (or the socket's) own error, while Redis is away."""

    @functools.wraps(method)
    async def wrapper(*args, **kwargs):
        try:
            return await method(*args, **kwargs)
        except LayerUnavailable:
            raise
        except LAYER_ERRORS as e:
            raise LayerUnavailable(e) from e

    return wrapper


class Leases:
    """Room leases in Redis. ``ttl_s``: how long a silent host keeps its rooms."""

    def __init__(self, redis_url: str, ttl_s: float = 10.0):
        import redis.asyncio as aioredis

        # socket_timeout None for the same reason as the channel layer's (env.channel_layers).
        self.redis = aioredis.from_url(redis_url, socket_timeout=None, decode_responses=True)
        self.ttl_ms = int(ttl_s * 1000)

    @_unavailable_on_outage
    async def acquire(self, room_id: str, holder: str) -> bool:
        return bool(await self.redis.set(LEASE_PREFIX + room_id, holder, nx=True,
                                         px=self.ttl_ms))

    @_unavailable_on_outage
    async def renew(self, room_id: str, holder: str) -> bool:
        return bool(await self.redis.eval(_RENEW, 1, LEASE_PREFIX + room_id, holder,
                                          self.ttl_ms))

    @_unavailable_on_outage
    async def release(self, room_id: str, holder: str) -> None:
        await self.redis.eval(_RELEASE, 1, LEASE_PREFIX + room_id, holder)

    @_unavailable_on_outage
    async def holder(self, room_id: str) -> str | None:
        return await self.redis.get(LEASE_PREFIX + room_id)

    async def close(self) -> None:
        await self.redis.aclose()


class RoomHost:
    """Serves calls for the rooms this process runs and holds their leases.

    ``rooms`` is this process's registry (``Rooms``): calls run through the same methods local
    consumers use, so a remote viewer is treated exactly like a local one.
    """

    def __init__(self, rooms, layer, leases: Leases):
        self.rooms = rooms
        self.layer = layer
        self.leases = leases
        self.channel: str | None = None
        self.hosted: set[str] = set()
        self._tasks: list[asyncio.Task] = []
        self._calls: set[asyncio.Task] = set()
        self._seen: collections.OrderedDict = collections.OrderedDict()

    async def start(self) -> None:
        if self.channel is not None:
            return
        self.channel = await self.layer.new_channel()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._serve()), loop.create_task(self._renew())]

    async def host(self, room_id: str) -> None:
        """Take the lease for `room_id` (already in ``rooms``) or raise RoomHeldElsewhere."""
        await self.start()
        if room_id in self.hosted:
            return
        if not await self.leases.acquire(room_id, self.channel):
            holder = await self.leases.holder(room_id)
            if holder != self.channel:
                raise RoomHeldElsewhere(f"room {room_id!r} is run by another process "
                                        f"({holder}); its lease lapses "
                                        f"{self.leases.ttl_ms / 1000:g} s after that process "
                                        "stops")
        self.hosted.add(room_id)

    async def unhost(self, room_id: str) -> None:
        if room_id in self.hosted:
            self.hosted.discard(room_id)
            await self._release(room_id)

    async def _release(self, room_id: str) -> None:
        try:
            await self.leases.release(room_id, self.channel)
        except LayerUnavailable:
            # Nothing left to undo: a restarted Redis has no lease, and one it still has lapses
            # ttl_s after its last renewal (nobody renews it now).
            log.warning("room %s: its lease could not be released (Redis unreachable); it "
                        "lapses by itself", room_id)

    def release_after(self, room_id: str, saved: asyncio.Task | None) -> None:
        """Stop serving `room_id` now; give up its lease once `saved` (its last save) is done."""
        self.hosted.discard(room_id)

        async def release():
            if saved is not None:
                await asyncio.wait([saved])
            await self._release(room_id)

        task = asyncio.get_running_loop().create_task(release())
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def stop(self) -> None:
        for room_id in list(self.hosted):
            await self.unhost(room_id)
        for task in self._tasks + list(self._calls):
            task.cancel()
        self._tasks = []
        self.channel = None

    async def _renew(self) -> None:
        outage = Outage("room host: renewing room leases in Redis", log)
        backoff = Backoff()
        while True:
            # While Redis is away, retry soon (Backoff): once it is back, every lease should
            # be ours again before another process, asked for one of these rooms, finds none
            # and wakes a second copy from the store.
            await asyncio.sleep(backoff.next() if outage.failing else self.leases.ttl_ms / 3000)
            try:
                await self._renew_all()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                # Any failure: a renewal loop that dies lets every lease lapse for good.
                outage.failed(e)
                continue
            outage.ok()
            backoff.reset()

    async def _renew_all(self) -> None:
        for room_id in list(self.hosted):
            if not await self.leases.renew(room_id, self.channel):
                # Lapsed (this process stalled longer than the TTL, or Redis restarted empty)
                # and maybe taken: take it back only if nobody has.
                if not await self.leases.acquire(room_id, self.channel):
                    log.error("room %s: lease lost to another process", room_id)
                    self.hosted.discard(room_id)

    async def _serve(self) -> None:
        outage = Outage("room host: receiving calls from the channel layer", log)
        backoff = Backoff()
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                # A Redis blip must not end serving for good while the leases stay held
                # (every other process's calls would time out until this one restarted).
                outage.failed(e)
                await asyncio.sleep(backoff.next())
                continue
            outage.ok()
            backoff.reset()
            call_id = message.get("id")
            if isinstance(call_id, str):
                if call_id in self._seen:
                    continue  # the same call, sent again (RemoteRooms.call): it runs once
                self._seen[call_id] = None
                if len(self._seen) > SEEN_CALLS:
                    self._seen.popitem(last=False)
            # One task per call: a slow one (a snapshot of a big room) must not hold up the rest.
            task = asyncio.get_running_loop().create_task(self._answer(message))
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)

    async def _answer(self, message: dict) -> None:
        reply = message.get("reply")
        call_id = message.get("id")
        if message.get("type") != CALL_TYPE or not isinstance(reply, str):
            log.warning("room host: ignoring a malformed call %r", message)
            return
        answer = {"type": REPLY_TYPE, "id": call_id}
        room_id = message.get("room")
        op = message.get("op")
        try:
            # The call's arguments as the caller had them (see RemoteRooms.call).
            message = {**message, **json.loads(message.get("args") or "{}")}
            if room_id not in self.hosted or op not in OPS:
                answer["error"] = "no_such_room"
            elif op == "exists":
                answer["result"] = await self.rooms.aexists(room_id)
            elif op == "info":
                answer["result"] = await self.rooms.ainfo(room_id)
            elif op == "attach":
                await self.rooms.attach(room_id, message["viewer"])
            elif op == "detach":
                await self.rooms.detach(room_id, message["viewer"])
            elif op == "release":
                # Another process must run it (the Kafka listener of its room): save it and
                # let go; sleep() gives up the lease once the save is done.
                if room_id in self.rooms.awake:
                    self.rooms.sleep(room_id)
            elif op == "page":
                answer["result"] = await self.rooms.page(room_id)
            elif op == "you":
                answer["result"] = await self.rooms.you(room_id, message["actor"])
            else:
                answer["result"] = await self.rooms.handle(room_id, message["message"],
                                                           message["actor"])
        except NoSuchRoom:
            answer["error"] = "no_such_room"
        except Exception as e:  # a bug, or a malformed call: the caller hears which
            log.exception("room %s: remote %s failed", room_id, op)
            answer["error"] = type(e).__name__
            answer["message"] = str(e)
        try:
            # Sent twice at worst: the caller takes the first answer and ignores the other.
            await once_more(self.layer.send, reply, answer)
        except LAYER_ERRORS as e:
            # The caller times out (RoomUnreachable) or has given up already.
            log.warning("room %s: answering %s failed (%s: %s)", room_id, op,
                        type(e).__name__, e)
        except Exception:
            log.exception("room %s: answering %s failed", room_id, op)


class RemoteRooms:
    """Calls to rooms other processes host, from this one."""

    def __init__(self, layer, leases: Leases, timeout_s: float = 10.0):
        self.layer = layer
        self.leases = leases
        self.timeout_s = timeout_s
        self._reply_channel: str | None = None
        self._pump: asyncio.Task | None = None
        self._waiting: dict[str, asyncio.Future] = {}
        self._lock = asyncio.Lock()

    async def hosted_elsewhere(self, room_id: str) -> bool:
        return await self.leases.holder(room_id) is not None

    async def call(self, room_id: str, op: str, **fields):
        """Run `op` on the room where it runs; raises KeyError if no process runs it,
        RoomUnreachable if its host does not answer within ``timeout_s``, LayerUnavailable
        while Redis cannot be reached."""
        holder = await self.leases.holder(room_id)
        if holder is None:
            raise KeyError(room_id)
        await self._ensure_pump()
        call_id = secrets.token_hex(8)
        future = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = future
        # The arguments (a viewer's message, its actor) travel as ASCII JSON text, not as the
        # layer's msgpack: a viewer's message may hold what msgpack cannot carry (an int past
        # 64 bits, a lone surrogate: both refused by the room, by field) and must reach the
        # room exactly as sent.
        args = ascii_dumps(fields)
        try:
            try:
                # Sent twice at worst: the host runs a call id once.
                await once_more(self.layer.send, holder,
                                {"type": CALL_TYPE, "id": call_id, "op": op, "room": room_id,
                                 "reply": self._reply_channel, "args": args})
            except LAYER_ERRORS as e:
                raise LayerUnavailable(e) from e
            answer = await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            raise RoomUnreachable(f"the process running room {room_id!r} did not answer "
                                  f"within {self.timeout_s:g} s") from None
        finally:
            self._waiting.pop(call_id, None)
        error = answer.get("error")
        if error == "no_such_room":
            raise KeyError(room_id)
        if error:
            raise RoomUnreachable(f"room {room_id!r}: {error}: {answer.get('message', '')}")
        return answer.get("result")

    async def _ensure_pump(self) -> None:
        async with self._lock:
            if self._pump is None or self._pump.done():
                self._reply_channel = await self.layer.new_channel()
                self._pump = asyncio.get_running_loop().create_task(self._receive())

    async def _receive(self) -> None:
        outage = Outage("room calls: receiving answers from the channel layer", log)
        backoff = Backoff()
        while True:
            try:
                message = await self.layer.receive(self._reply_channel)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                # Any failure: a receiver that dies leaves every later call to time out.
                outage.failed(e)
                await asyncio.sleep(backoff.next())
                continue
            outage.ok()
            backoff.reset()
            future = self._waiting.get(message.get("id"))
            if future is not None and not future.done():
                future.set_result(message)

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None
