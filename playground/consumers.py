"""The WebSocket consumer of a room: thin on purpose.

It checks what only a connection can check (message size, the per-connection rate limit, that
the text is JSON, how many sockets its client address holds open), hands everything else to
the room through `Rooms` (plain JSON in and out, so the room may later live in another
process), and passes on the room's frames and notices, which arrive already serialised over
the channel layer through this process's `Relay`. The state it keeps is the sequence number
(and epoch) of the snapshot it last sent, to drop frames that snapshot already covers (or that
belong to a cluster a seek replaced), and whether its viewer has fallen behind.

Two things keep a connection within the transport:
- A snapshot larger than SNAPSHOT_PART_BYTES goes as `snapshot.part` messages that the page
  joins back into the snapshot's text (Daphne's peers, the `websockets` client among them,
  refuse messages over 1 MiB; a big room must be slower to open, never unopenable).
- ASGI has no backpressure: under Daphne `send()` returns at once and Twisted keeps what the
  socket cannot take. A viewer whose unsent bytes pass PLAYGROUND_VIEWER_QUEUE_BYTES is
  "behind": it is sent nothing more from the room until its buffer has drained, then a fresh
  snapshot (it resyncs, as after any gap); one that stays stuck PLAYGROUND_VIEWER_STUCK_S is
  closed (playground/wsbuffer.py reads the buffer).

Who is asking travels with every message as the `actor`: this connection's viewer id, the
Django session key (the socket app is wrapped in SessionMiddlewareStack, so the cookie set by
`/s/<slug>` identifies the presenter) and the client address (playground/clientaddr.py: the
real client behind a trusted proxy), which the per-address limits key on.
"""

import asyncio
import json
import logging
import secrets

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from playground.clientaddr import scope_client
from playground.jsontext import dumps
from playground.presenter import known_token
from playground.rooms.errors import NoSuchRoom, RoomsFull, TooManyRooms
from playground.rooms.limits import AddressCounts, TokenBucket  # noqa: F401 (tests import TokenBucket here)
from playground.rooms.messages import MAX_MESSAGE_BYTES, ProtocolError
from playground.rooms.registry import get_rooms
from playground.rooms.relay import get_relay
from playground.rooms.room import group_name
from playground.wsbuffer import connection_of, is_closing, unsent_bytes

log = logging.getLogger(__name__)

CLOSE_NO_SUCH_ROOM = 4404
CLOSE_ROOMS_FULL = 4503
# This client address is over one of its limits (open sockets, rooms woken): retry slowly.
CLOSE_TOO_MANY = 4429
# The viewer read nothing for PLAYGROUND_VIEWER_STUCK_S while its unsent bytes were over
# PLAYGROUND_VIEWER_QUEUE_BYTES.
CLOSE_TOO_SLOW = 4408

# A message larger than this (UTF-8 bytes) is sent in parts no larger than this: half the 1 MiB
# that Daphne's peers accept by default, so the JSON escaping of a part never takes it over.
SNAPSHOT_PART_BYTES = 512 * 1024
# How often a behind viewer's buffer is looked at while it drains.
DRAIN_POLL_S = 0.1



def snapshot_parts(text: str, part_id: int, part_bytes: int = SNAPSHOT_PART_BYTES) -> list[str]:
    """`text` as one message if it fits `part_bytes`, else as `snapshot.part` messages of at
    most `part_bytes` each whose `data` joined in `index` order is `text`."""
    if len(text) * 4 <= part_bytes or len(text.encode()) <= part_bytes:
        return [text]
    overhead = len(dumps({"type": "snapshot.part", "id": part_id, "index": 10 ** 9,
                           "count": 10 ** 9, "data": ""}))
    budget = part_bytes - overhead
    pieces, start = [], 0
    while start < len(text):
        # Slices are cut between characters (never inside one's UTF-8 bytes) and shrunk until
        # their JSON string fits: quotes and backslashes take two bytes, other characters 1-4.
        size = budget
        while True:
            data = text[start:start + size]
            encoded = len(dumps(data).encode())
            if encoded <= budget:
                break
            size = max(1, min(size - 1, size * budget // encoded))
        pieces.append(data)
        start += len(data)
    return [dumps({"type": "snapshot.part", "id": part_id, "index": i, "count": len(pieces),
                    "data": data}) for i, data in enumerate(pieces)]


class OpenSockets:
    """How many sockets each client address holds open in this process (unknown addresses
    share the key "?", like the other per-address limits)."""

    def __init__(self):
        self.loop = None
        self.counts = AddressCounts()

    def _counts(self) -> AddressCounts:
        loop = asyncio.get_running_loop()
        if loop is not self.loop:
            # A serving process has one loop; tests run each in a fresh one, whose sockets
            # are all new.
            self.loop, self.counts = loop, AddressCounts()
        return self.counts

    def take(self, address: str | None, limit: int) -> bool:
        return self._counts().take(address, limit)

    def give_back(self, address: str | None) -> None:
        self._counts().give_back(address)

    def held(self, address: str | None) -> int:
        return self._counts().get(address or "?", 0)


open_sockets = OpenSockets()


class RoomConsumer(AsyncWebsocketConsumer):
    # No channel of its own on the layer: frames reach it through the process's Relay, and a
    # per-connection channel would only add an idle receiver per viewer.
    channel_layer_alias = None

    # Until connect has set them (a consumer that failed early is cleaned up by these).
    counted = False
    relay = None
    attached = False
    catch_up_task = None

    async def __call__(self, scope, receive, send):
        # Every way out (a disconnect, connect failing halfway, the server cancelling the
        # instance) gives back the address's socket and leaves the room.
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._let_go()

    async def dispatch(self, message):
        # Channels' dispatch runs close_old_connections in a worker thread before every
        # message, for consumers that use the ORM. This one reaches the database only through
        # the rooms' store (which does its own), and a thread hop per relayed frame was a
        # large share of a busy server's time.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        self.room_id = self.scope["url_route"]["kwargs"]["room_id"]
        self.viewer_id = secrets.token_hex(8)
        self.group = group_name(self.room_id)
        self.client = scope_client(self.scope)
        self.snapshot_seq = None
        self.epoch = 0
        self.parts_sent = 0
        self.behind = False
        self.closing = False
        self.queue_max = int(settings.PLAYGROUND_VIEWER_QUEUE_BYTES)
        # The Daphne connection whose buffer bounds this viewer (None: not served by Daphne,
        # and then unbounded, as any ASGI send is).
        self.connection = connection_of(self.base_send)
        # Frames come from the relay's task, replies from this one: one lock keeps the
        # snapshot ahead of every frame after it.
        self.send_lock = asyncio.Lock()
        self.bucket = TokenBucket(settings.PLAYGROUND_WS_RATE_PER_S,
                                  settings.PLAYGROUND_WS_BURST)
        limit = int(settings.PLAYGROUND_WS_PER_ADDRESS)
        if not open_sockets.take(self.client, limit):
            await self._refuse("connections", f"your address has {limit:,} sockets open, the "
                               f"most one address may (PLAYGROUND_WS_PER_ADDRESS = {limit:,}); "
                               "close some tabs, this page retries by itself", CLOSE_TOO_MANY)
            return
        self.counted = True
        self.presenter = await known_token(self.scope.get("session"))
        self.rooms = get_rooms()
        try:
            exists = await self.rooms.aexists(self.room_id)
        except RoomsFull as e:  # remote.LayerUnavailable: where rooms run is in Redis
            await self._refuse("room", str(e), CLOSE_ROOMS_FULL)
            return
        if not exists:
            await self._refuse("room", "no such room (it may have expired)", CLOSE_NO_SUCH_ROOM)
            return
        # Join before asking for the snapshot: any frame after it then reaches us.
        self.relay = get_relay()
        await self.relay.join(self.group, self)
        await self.accept()
        try:
            await self.rooms.attach(self.room_id, self.viewer_id, client=self.client)
            self.attached = True
            await self._reply(await self.rooms.handle(self.room_id, {"type": "resync"},
                                                      self._actor()))
        except NoSuchRoom:
            await self._error("room", "no such room")
            await self._close(CLOSE_NO_SUCH_ROOM)
        except RoomsFull as e:
            await self._error("room", str(e))
            await self._close(CLOSE_ROOMS_FULL)
        except TooManyRooms as e:  # waking a sleeping room draws on the address's allowance
            await self._error("rate", str(e))
            await self._close(CLOSE_TOO_MANY)

    async def _refuse(self, field: str, message: str, code: int) -> None:
        # Accepted, then closed with a reason: a refused handshake reaches a browser only as
        # code 1006, indistinguishable from a network fault it should retry.
        await self.accept()
        await self._error(field, message)
        await self._close(code)

    async def _close(self, code: int) -> None:
        self.closing = True
        await self.close(code=code)

    async def disconnect(self, code):
        await self._let_go()

    async def _let_go(self) -> None:
        """Give back what connect took; safe to call more than once."""
        self.closing = True
        if self.catch_up_task is not None:
            self.catch_up_task.cancel()
            self.catch_up_task = None
        if self.counted:
            self.counted = False
            open_sockets.give_back(self.client)
        relay, self.relay = self.relay, None
        if relay is not None:
            await relay.leave(self.group, self)
        if self.attached:
            self.attached = False
            await self.rooms.detach(self.room_id, self.viewer_id)

    def _actor(self) -> dict:
        # "session": the browser's presenter token (playground/presenter.py), read at connect.
        return {"viewer": self.viewer_id, "session": self.presenter, "client": self.client}

    async def receive(self, text_data=None, bytes_data=None):
        if not self.bucket.take():
            await self._error("rate", f"at most {settings.PLAYGROUND_WS_RATE_PER_S:g} messages "
                              "a second; this one was dropped")
            return
        if text_data is None:
            await self._error("message", "must be a JSON text message, not binary")
            return
        if len(text_data) > MAX_MESSAGE_BYTES or len(text_data.encode()) > MAX_MESSAGE_BYTES:
            await self._error("message", f"is larger than {MAX_MESSAGE_BYTES:,} bytes")
            return
        try:
            message = json.loads(text_data)
        except (ValueError, RecursionError):  # "[[[[…" under the size limit is too deep
            await self._error("message", "is not valid JSON (or nested too deeply)")
            return
        reply = await self._handle(message)
        if reply is not None:
            await self._reply(reply)

    async def _handle(self, message, close_when_full: bool = False) -> dict | None:
        """The room's reply to `message`, or None after telling the viewer that the room is
        gone (closing) or unreachable (closing only when `close_when_full`)."""
        try:
            return await self.rooms.handle(self.room_id, message, self._actor())
        except NoSuchRoom:
            await self._error("room", "this room no longer exists")
            await self._close(CLOSE_NO_SUCH_ROOM)
        except RoomsFull as e:
            await self._error("room", str(e))
            if close_when_full:
                await self._close(CLOSE_ROOMS_FULL)
        return None

    async def _send_text(self, text: str) -> None:
        # Nothing once closing: autobahn raises on a send after its close began (a ping
        # timeout), and every relayed frame would log that until Daphne reports the disconnect.
        if self.closing or (self.connection is not None and is_closing(self.connection)):
            return
        await self.send(text_data=text)

    async def _reply(self, reply: dict) -> None:
        async with self.send_lock:
            if self.closing:
                return
            if reply["snapshot_seq"] is not None:
                epoch = reply.get("epoch", 0)
                if epoch < self.epoch:
                    return  # a seek's snapshot overtook this one: that one is current
                if self._is_behind():
                    return  # it gets a fresh one once it has caught up
                self.snapshot_seq, self.epoch = reply["snapshot_seq"], epoch
                await self._send_snapshot(reply["text"])
            else:
                # Answers to what the viewer sent (ack, error, shared, forked) always go: they
                # are small and come no faster than the rate limit lets requests in.
                await self._send_text(reply["text"])
            for text in reply.get("then", ()):
                await self._send_text(text)

    async def _error(self, field: str, message: str) -> None:
        async with self.send_lock:
            await self._send_text(dumps(ProtocolError(field, message).reply()))

    async def _send_snapshot(self, text: str) -> None:
        # The parts go one after another under the send lock: nothing comes between them.
        self.parts_sent += 1
        for part in snapshot_parts(text, self.parts_sent, SNAPSHOT_PART_BYTES):
            await self._send_text(part)

    # -- a viewer that does not read ------------------------------------------------------------

    def _is_behind(self) -> bool:
        """Whether this viewer is (now) behind: its unsent bytes passed the bound and it has not
        caught up since. Going behind starts the wait for its buffer to drain."""
        if self.behind or self.closing:
            return True
        if self.connection is None:
            return False
        unsent = unsent_bytes(self.connection)
        if unsent is None or unsent <= self.queue_max:
            return False
        self.behind = True
        self.snapshot_seq = None  # nothing more from the room until its next snapshot
        self.catch_up_task = asyncio.get_running_loop().create_task(self._catch_up())
        return True

    async def _catch_up(self) -> None:
        """Wait for a behind viewer's buffer to drain, then resync it; close it if it does not
        drain within PLAYGROUND_VIEWER_STUCK_S."""
        loop = asyncio.get_running_loop()
        stuck_s = settings.PLAYGROUND_VIEWER_STUCK_S
        deadline = loop.time() + stuck_s
        while (unsent_bytes(self.connection) or 0) > self.queue_max // 4:
            if loop.time() >= deadline:
                log.info("room %s: viewer %s read nothing for %.0f s with %s bytes unsent; "
                         "closing it", self.room_id, self.viewer_id, stuck_s,
                         unsent_bytes(self.connection))
                self.catch_up_task = None
                await self._close(CLOSE_TOO_SLOW)
                return
            await asyncio.sleep(DRAIN_POLL_S)
        self.catch_up_task = None
        self.behind = False
        try:
            reply = await self._handle({"type": "resync"}, close_when_full=True)
        except Exception:
            # Nobody awaits this task: a failure is logged here, and the page reconnects.
            log.exception("room %s: resyncing viewer %s failed", self.room_id, self.viewer_id)
            await self._close(1011)
            return
        if reply is not None:
            await self._reply(reply)

    # -- from the room, over the channel layer and this process's relay ------------------------

    async def deliver(self, message: dict) -> None:
        async with self.send_lock:
            if self.snapshot_seq is None or self.closing:
                return  # the snapshot always comes first; what it covers is in it
            kind = message["type"]
            if kind == "room.resync":
                # The relay subscribed again after a channel-layer outage: frames may have been
                # lost meanwhile, and in a quiet room no later frame would show the gap.
                if not self.behind:
                    self.behind = True
                    self.snapshot_seq = None
                    self.catch_up_task = asyncio.get_running_loop().create_task(
                        self._catch_up())
                return
            if kind == "room.snapshot":
                # A seek rebuilt the cluster: everyone starts over from this snapshot.
                if message["epoch"] < self.epoch or self._is_behind():
                    return
                self.snapshot_seq, self.epoch = message["seq"], message["epoch"]
                await self._send_snapshot(message["text"])
                return
            if kind == "room.frame":
                # A frame of a cluster a seek replaced, or one the last snapshot covers. Frames
                # cover from_seq..to_seq with no gaps and a snapshot at S is taken right after
                # a flush, so it covers exactly the frames that start at or before S. Not
                # "to_seq <= S": a clock-only frame after it has to_seq = from_seq - 1 = S, and
                # dropping those froze a quiet room's clock until its next event. (A clock-only
                # frame sent just before the snapshot, with no event since, also starts at S + 1
                # and goes through: its clock is a tick old and the frames after it, in order,
                # carry the newer one.)
                if "from_seq" in message:
                    covered = message["from_seq"] <= self.snapshot_seq
                else:  # from a room process that predates from_seq (a rolling deploy)
                    covered = message["to_seq"] <= self.snapshot_seq
                if message.get("epoch", 0) != self.epoch or covered:
                    return
            elif kind not in ("room.notice", "room.state"):
                return
            # While behind, frames, notices and open/close are dropped: the snapshot it gets
            # once it has caught up holds the state, the last notices and whether it is open.
            if self._is_behind():
                return
            await self._send_text(message["text"])
