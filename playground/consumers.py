"""The WebSocket consumer of a room: thin on purpose.

It checks what only a connection can check (message size, the per-connection rate limit, that
the text is JSON), hands everything else to the room through `Rooms` (plain JSON in and out, so
the room may later live in another process), and passes on the room's frames and notices,
which arrive already serialised over the channel layer through this process's `Relay`. The one
piece of state it keeps is the sequence number (and epoch) of the snapshot it last sent, to drop
frames that snapshot already covers (or that belong to a cluster a seek replaced).

Who is asking travels with every message as the `actor`: this connection's viewer id, the
Django session key (the socket app is wrapped in SessionMiddlewareStack, so the cookie set by
`/s/<slug>` identifies the presenter) and the client address (room-creation rate limit).
"""

import asyncio
import json
import secrets

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from playground.presenter import known_token
from playground.rooms.limits import TokenBucket  # noqa: F401 (tests import it here)
from playground.rooms.messages import MAX_MESSAGE_BYTES, ProtocolError
from playground.rooms.registry import NoSuchRoom, RoomsFull, get_rooms
from playground.rooms.relay import get_relay
from playground.rooms.room import group_name

CLOSE_NO_SUCH_ROOM = 4404
CLOSE_ROOMS_FULL = 4503


class RoomConsumer(AsyncWebsocketConsumer):
    # No channel of its own on the layer: frames reach it through the process's Relay, and a
    # per-connection channel would only add an idle receiver per viewer.
    channel_layer_alias = None

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
        self.snapshot_seq = None
        self.epoch = 0
        self.rooms = get_rooms()
        self.presenter = await known_token(self.scope.get("session"))
        self.relay = None
        # Frames come from the relay's task, replies from this one: one lock keeps the
        # snapshot ahead of every frame after it.
        self.send_lock = asyncio.Lock()
        self.bucket = TokenBucket(settings.PLAYGROUND_WS_RATE_PER_S,
                                  settings.PLAYGROUND_WS_BURST)
        if not await self.rooms.aexists(self.room_id):
            # Accepted, then closed with a reason: a refused handshake reaches a browser only as
            # code 1006, indistinguishable from a network fault it should retry.
            await self.accept()
            await self._error("room", "no such room (it may have expired)")
            await self.close(code=CLOSE_NO_SUCH_ROOM)
            return
        # Join before asking for the snapshot: any frame after it then reaches us.
        self.relay = get_relay()
        await self.relay.join(self.group, self)
        await self.accept()
        try:
            await self.rooms.attach(self.room_id, self.viewer_id)
            await self._reply(await self.rooms.handle(self.room_id, {"type": "resync"},
                                                      self._actor()))
        except (NoSuchRoom, RoomsFull) as e:
            await self._error("room", str(e) if isinstance(e, RoomsFull) else "no such room")
            await self.close(code=CLOSE_ROOMS_FULL if isinstance(e, RoomsFull)
                             else CLOSE_NO_SUCH_ROOM)

    async def disconnect(self, code):
        if getattr(self, "relay", None) is None:
            return
        await self.relay.leave(self.group, self)
        await self.rooms.detach(self.room_id, self.viewer_id)

    def _actor(self) -> dict:
        # "session": the browser's presenter token (playground/presenter.py), read at connect.
        client = self.scope.get("client") or [None]
        return {"viewer": self.viewer_id, "session": self.presenter, "client": client[0]}

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
        try:
            reply = await self.rooms.handle(self.room_id, message, self._actor())
        except NoSuchRoom:
            await self._error("room", "this room no longer exists")
            await self.close(code=CLOSE_NO_SUCH_ROOM)
            return
        except RoomsFull as e:
            await self._error("room", str(e))
            return
        await self._reply(reply)

    async def _reply(self, reply: dict) -> None:
        async with self.send_lock:
            if reply["snapshot_seq"] is not None:
                epoch = reply.get("epoch", 0)
                if epoch < self.epoch:
                    return  # a seek's snapshot overtook this one: that one is current
                self.snapshot_seq, self.epoch = reply["snapshot_seq"], epoch
            await self.send(text_data=reply["text"])
            for text in reply.get("then", ()):
                await self.send(text_data=text)

    async def _error(self, field: str, message: str) -> None:
        async with self.send_lock:
            await self.send(text_data=json.dumps(ProtocolError(field, message).reply()))

    # -- from the room, over the channel layer and this process's relay ------------------------

    async def deliver(self, message: dict) -> None:
        async with self.send_lock:
            if self.snapshot_seq is None:
                return  # the snapshot always comes first; what it covers is in it
            kind = message["type"]
            if kind == "room.snapshot":
                # A seek rebuilt the cluster: everyone starts over from this snapshot.
                if message["epoch"] < self.epoch:
                    return
                self.snapshot_seq, self.epoch = message["seq"], message["epoch"]
            elif kind == "room.frame":
                # A frame of a cluster a seek replaced, or one the last snapshot covers.
                if (message.get("epoch", 0) != self.epoch
                        or message["to_seq"] <= self.snapshot_seq):
                    return
            elif kind not in ("room.notice", "room.state"):
                return
            await self.send(text_data=message["text"])
