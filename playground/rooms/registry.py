"""The rooms of this process: creating, finding, capping, putting to sleep, waking.

Every call a consumer makes goes through `Rooms` with a room id and plain JSON, never through a
`Room` object it holds on to: the room may live in this process or, with Redis, in another one
(a lease in Redis says which; remote.py), and then these same calls travel as channel-layer
messages to it. Frames always travel over the layer.

Limits keep one room from hurting the rest: at most `max_rooms` rooms awake in the process (a new
one first puts the longest-idle unwatched room to sleep, else is refused), each room's retained
records are capped (`records_max`, enforced by the model like retention.bytes), and a room that
nobody has watched for `idle_s` is put to sleep: its cluster is dropped and only its recording
(scenario, seed, command log, clock) is kept, in the store. Opening it again replays it.

Persistence. Every room is also in the store (the database in a server; `store.MemoryStore`
in unit tests): `persist(room_id)` writes the room's header and the command-log entries not yet
written, and `handle` awaits it before an accepted message's ack goes out, so nothing
acknowledged is lost when the process dies. A room this process has never seen (a restart)
is loaded from the store on first use and rebuilt by replay, like a sleeping one. Clock
progress without commands is checkpointed every `checkpoint_s`. What is written, and the count
of what the store has, is the `persister.Persister`'s; this module says when.

The errors callers catch are in errors.py; NoSuchRoom, RoomsFull and TooManyRooms are still
imported from here by playground/consumers.py.
"""

import asyncio
import copy
import logging
import secrets
import time

from channels.layers import get_channel_layer
from django.conf import settings

from broker_core.scenario import build_cluster
from playground.jsontext import dumps

from . import messages
from .errors import NoSuchRoom, RoomHeldElsewhere, RoomsFull, RoomUnreachable, TooManyRooms
from .limits import KeyedBuckets
from .messages import ProtocolError
from .page_defaults import creation_order, produce_defaults
from .persister import Persister
from .quotas import Quotas
from .remote import Leases, RemoteRooms, RoomHost
from .room import TICK_S, Room
from .store import DbStore, MemoryStore, script_of

log = logging.getLogger(__name__)


class Rooms:
    def __init__(self, *, max_rooms: int = 100, idle_s: float = 600,
                 records_max: int = 0, clock=time.monotonic, layer=None, autorun: bool = True,
                 build=build_cluster, tick_s: float = TICK_S, store=None,
                 create_burst: float = 30, create_per_min: float = 30,
                 checkpoint_s: float = 5.0, keep_s: float = 30 * 86_400,
                 redis_url: str | None = None, cpu_share: float = 0.5,
                 jump_weight: int = 8, quotas=None, rooms_per_address: int = 0):
        self.max_rooms = max_rooms
        self.idle_s = idle_s
        self.records_max = records_max
        self.clock = clock
        self._layer = layer
        self.autorun = autorun
        self.build = build
        self.tick_s = tick_s
        # The scheduler's budget: this share of every tick advances rooms, the rest is the
        # process's (sockets, pages, the Kafka listener). See `_tick_rooms`.
        self.cpu_share = cpu_share
        self.jump_weight = jump_weight
        self.quotas = quotas  # rooms/quotas.Quotas, or None (unlimited: unit tests)
        # Awake rooms one client address may have (0: no limit); see `_make_space`.
        self.rooms_per_address = rooms_per_address
        self._scheduler: asyncio.Task | None = None
        self._turn = 0  # where the next tick starts in the list of busy rooms
        self.persister = Persister(MemoryStore() if store is None else store, clock)
        self.checkpoint_s = checkpoint_s
        self.keep_s = keep_s  # a stored room nobody touched this long is deleted
        self.creations = KeyedBuckets(create_per_min / 60.0, create_burst, clock)
        self.awake: dict[str, Room] = {}
        # Recordings of rooms gone to sleep whose save to the store is still under way.
        self.settling: dict[str, dict] = {}
        self._waking: dict[str, asyncio.Future] = {}
        self._settles: dict[str, asyncio.Task] = {}
        self._janitor: asyncio.Task | None = None
        self._checkpointer: asyncio.Task | None = None
        # With Redis, rooms are spread over processes (remote.py): each room this process runs
        # holds a lease naming it, and calls for a room another process runs go there.
        self.redis_url = redis_url
        self._host = self._remote = None

    @property
    def store(self):
        """Where the rooms are stored (the persister's)."""
        return self.persister.store

    @property
    def layer(self):
        if self._layer is None:
            self._layer = get_channel_layer()
        return self._layer

    def _spread(self):
        """(host, remote) when rooms are spread over processes, else (None, None)."""
        if self.redis_url and self._host is None:
            leases = Leases(self.redis_url)
            self._host = RoomHost(self, self.layer, leases)
            self._remote = RemoteRooms(self.layer, leases)
        return self._host, self._remote

    async def _elsewhere(self, room_id: str) -> bool:
        """Whether another process runs `room_id` (it holds the room's lease)."""
        host, remote = self._spread()
        if remote is None or room_id in self.awake:
            return False
        holder = await remote.leases.holder(room_id)
        return holder is not None and holder != host.channel

    def _adopt(self, room: Room, client: str | None = None) -> Room:
        """What every room of this registry gets, however it came to be. `client`: the
        address that made or woke it (the per-address room limit counts it there)."""
        room.quotas = self.quotas
        room.jump_weight = self.jump_weight
        room.client = client
        room.persister = self.persister
        return room

    def _room_kwargs(self) -> dict:
        return {"build": self.build, "layer": self.layer, "clock": self.clock,
                "limits": {"rooms_max": self.max_rooms, "idle_sleep_s": self.idle_s},
                "uncounted_viewers": bool(self.redis_url)}

    # -- lifecycle ------------------------------------------------------------------------------

    def create(self, spec: dict, *, seed=None, meta: dict | None = None,
               owner: str | None = None, room_id: str | None = None,
               client: str | None = None) -> Room:
        """A fresh room running `spec` (raises ScenarioError/CommandError for a bad one),
        presented by session `owner` (None: open to all). In memory until `persist`.
        `room_id` names it (the Kafka listener's ``live``); by default a fresh random id."""
        # Only what is in memory: a caller naming a room has asked the store (aexists) first.
        if room_id is not None and (room_id in self.awake or room_id in self.settling):
            raise ValueError(f"room {room_id!r} exists already")
        # Built first: building validates the scenario (once) and keeps it normalized, which
        # the limits are judged on. A refused room was never anyone's, and evicts nobody.
        room = Room(room_id or self._new_id(), spec, seed=seed, records_max=self.records_max,
                    meta=meta, owner=owner, **self._room_kwargs())
        if self.quotas is not None:
            # A scenario bigger than a room may be is refused, with the path of what is over.
            self.quotas.check_spec(room.cluster.scenario)
        self._make_space(client)
        self.awake[room.id] = self._adopt(room, client)
        return room

    async def start(self, spec: dict, *, seed=None, meta: dict | None = None,
                    owner: str | None = None, client: str | None = None) -> Room:
        """`create`, then stored: what a view that opens a room for someone calls."""
        room = self.create(spec, seed=seed, meta=meta, owner=owner, client=client)
        await self.persist(room.id)
        return room

    def create_replay(self, recording: dict, *, owner: str | None = None,
                      client: str | None = None) -> Room:
        """A fresh replay room playing a saved recording (see store.load_recording)."""
        self._make_space(client)
        room_id = self._new_id()
        meta = {"name": recording.get("scenario_slug") or recording["slug"],
                "title": recording.get("title") or recording["spec"].get("title") or "",
                "description": recording["spec"].get("description") or "",
                "teaches": recording["spec"].get("teaches") or ""}
        room = Room(room_id, recording["spec"], seed=recording["seed"],
                    records_max=recording.get("records_max") or 0, meta=meta, owner=owner,
                    script=script_of(recording), **self._room_kwargs())
        self.awake[room_id] = self._adopt(room, client)
        return room

    def allow_creation(self, client: str | None) -> float:
        """Take a room-creation token for a client address: 0 if granted, else the seconds
        until one is (a classroom behind one address shares the burst)."""
        return self.creations.take(client or "?")

    def _new_id(self) -> str:
        # 40 random bits: a clash with a stored room is rare enough to leave to the store's
        # primary key (the insert fails, loudly) rather than query it here, synchronously.
        while True:
            room_id = secrets.token_hex(5)
            if room_id not in self.awake and room_id not in self.settling:
                return room_id

    def _make_space(self, client: str | None = None) -> None:
        self.sweep()
        if client is not None and self.rooms_per_address:
            # One address may not fill the server: past its share its own idlest unwatched
            # room goes to sleep, and if all of them are watched the new one is refused.
            mine = [r for r in self.awake.values() if r.client == client]
            if len(mine) >= self.rooms_per_address:
                idle = [r for r in mine if not r.viewers]
                if not idle:
                    raise TooManyRooms(
                        f"your address has {len(mine)} rooms open, the most one address may "
                        f"have (PLAYGROUND_ROOMS_PER_ADDRESS = {self.rooms_per_address}); "
                        "close one and try again")
                self.sleep(min(idle, key=lambda r: r.last_active_s).id)
        if len(self.awake) < self.max_rooms:
            return
        idle = [r for r in self.awake.values() if not r.viewers]
        if not idle:
            raise RoomsFull(f"all {self.max_rooms} rooms of this server are in use")
        self.sleep(min(idle, key=lambda r: r.last_active_s).id)

    def sweep(self) -> None:
        """Put to sleep every awake room nobody has watched for `idle_s`."""
        now = self.clock()
        for room in list(self.awake.values()):
            if not room.viewers and now - room.last_active_s >= self.idle_s:
                self.sleep(room.id)

    def sleep(self, room_id: str) -> dict:
        """Drop the room's cluster; its recording goes to the store (kept in `settling` until
        the save is done, so a wake meanwhile still finds it)."""
        # Its runner, if any, sees the room gone and stops at its next tick (not cancelled
        # here: this also runs without a loop, in unit tests).
        room = self.awake.pop(room_id)
        recording = {**room.recording(), "owner": room.owner, "open": room.open,
                     "replay": room.script}
        header, entries = self.persister.unsaved(room, state="asleep")
        self.settling[room_id] = recording
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self.persister.save_sync(room, header, entries)
            self.settling.pop(room_id, None)
        else:
            self._settles[room_id] = loop.create_task(
                self._settle(room, recording, header, entries))
        if self._host is not None and room_id in self._host.hosted:
            # After its save: the next process to wake it must find the whole log stored.
            self._host.release_after(room_id, self._settles.get(room_id))
        return recording

    async def _settle(self, room: Room, recording: dict, header: dict, entries: list) -> None:
        try:
            await self.persister.settle(room, header, entries)
        except Exception:
            # Kept in memory: the room still wakes from `settling`, it just is not durable.
            log.exception("room %s: saving it as it went to sleep failed", room.id)
            recording["persisted"] = self.persister.cursor(room) if room.script is None else 0
            return
        finally:
            if self._settles.get(room.id) is asyncio.current_task():
                del self._settles[room.id]
        if self.settling.get(room.id) is recording:
            del self.settling[room.id]

    async def persist(self, room_id: str) -> None:
        """Store what the room has not stored yet; with Redis, also hold its lease, so other
        processes send its viewers' calls here instead of waking a second copy."""
        if room_id in self.awake and not await self._hold(room_id):
            # Another process runs it: whatever this copy applied is not the room's, and
            # must not be acknowledged as stored.
            raise RoomsFull(f"room {room_id!r} is run by another process")
        await self._persist(room_id)

    async def _hold(self, room_id: str) -> bool:
        """Take the lease of awake room `room_id` (with Redis). False if another process won
        it meanwhile: its copy is the room, ours a replay nobody has changed, dropped unsaved."""
        host, _ = self._spread()
        if host is None or room_id in host.hosted:
            return True
        try:
            await host.host(room_id)
            return True
        except RoomHeldElsewhere:
            log.warning("room %s: another process runs it; dropping this copy", room_id)
            self.awake.pop(room_id, None)
            return False

    async def _call(self, room_id: str, op: str, **fields):
        """`op` on the process that runs `room_id`."""
        try:
            return await self._remote.call(room_id, op, **fields)
        except KeyError:
            raise NoSuchRoom(room_id) from None
        except RoomUnreachable as e:
            raise RoomsFull(str(e)) from None

    async def _persist(self, room_id: str) -> None:
        """Write the awake room's header and every command-log entry not yet in the store.
        Returns once everything applied before the call is stored."""
        room = self.awake.get(room_id)
        if room is None:
            # Put to sleep since (the room cap, between a command and its ack): its save has
            # everything; the ack waits for that instead.
            settle = self._settles.get(room_id)
            if settle is not None:
                await asyncio.shield(settle)
            return
        await self.persister.persist(room)

    async def wake(self, room_id: str, client: str | None = None) -> Room:
        """The awake room `room_id`, rebuilt by replay if it sleeps. Waking costs what creating
        costs, so a `client` waking one draws on the same per-address allowance (a restarted
        server's stored rooms cannot all be woken at once by one address opening sockets)."""
        room = self.awake.get(room_id)
        if room is not None:
            return room
        waking = self._waking.get(room_id)
        if waking is not None:
            return await asyncio.shield(waking)
        future = asyncio.get_running_loop().create_future()
        self._waking[room_id] = future
        charged = False
        try:
            settle = self._settles.get(room_id)
            if settle is not None:
                await asyncio.shield(settle)  # its save first, so the store is complete
            recording = self.settling.get(room_id)
            if recording is None:
                recording = await self.store.load(room_id)
            if recording is None:
                raise NoSuchRoom(room_id)  # an old link: no room, and nothing charged
            if client is not None:
                wait_s = self.allow_creation(client)
                if wait_s:
                    raise TooManyRooms("too many rooms opened or woken from your address; "
                                       f"try again in {wait_s:.0f} s "
                                       "(PLAYGROUND_ROOM_CREATE_BURST, "
                                       "PLAYGROUND_ROOM_CREATE_PER_MIN)", wait_s)
                charged = True
            self._make_space(client)
            # Replay is pure CPU work on a private cluster: a thread keeps the loop serving.
            room = await asyncio.to_thread(Room.replay, recording, **self._room_kwargs())
            # From the store: all of its log is there. From `settling` after a failed save:
            # what that room had written; the next persist writes the rest.
            self.persister.woke(room, recording.get("persisted", len(recording["log"])))
            self.settling.pop(room_id, None)
            self._make_space(client)  # other rooms may have woken while this one replayed
            self.awake[room_id] = self._adopt(room, client)
            future.set_result(room)
        except BaseException as e:
            if charged:
                self.creations.give_back(client)  # no room woke: the allowance is not spent
            future.set_exception(e)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            del self._waking[room_id]
        await room.notice("info", "This room was asleep; it was rebuilt by replaying its "
                          "recording, exactly as it was.")
        return room

    # -- what views and consumers call ---------------------------------------------------------

    def exists(self, room_id: str) -> bool:
        """Awake, settling or stored (sync: consults the store from a sync context)."""
        return (room_id in self.awake or room_id in self.settling
                or self.store.exists_sync(room_id))

    async def aexists(self, room_id: str) -> bool:
        return (room_id in self.awake or room_id in self.settling
                or await self._elsewhere(room_id) or await self.store.exists(room_id))

    def info(self, room_id: str) -> dict | None:
        """The room's scenario as the page shows it (name, title, ..., steps), or None."""
        room = self.awake.get(room_id)
        if room is not None:
            return room.scenario()
        recording = self.settling.get(room_id)
        return self._info_of(recording or self.store.info_sync(room_id))

    async def ainfo(self, room_id: str) -> dict | None:
        if await self._elsewhere(room_id):
            try:
                return await self._call(room_id, "info")
            except NoSuchRoom:
                return None
        room = self.awake.get(room_id)
        if room is not None:
            return room.scenario()
        recording = self.settling.get(room_id)
        return self._info_of(recording or await self.store.info(room_id))

    @staticmethod
    def _info_of(stored: dict | None) -> dict | None:
        if stored is None:
            return None
        return {**stored["meta"], "steps": list(stored["spec"].get("steps") or [])}

    async def attach(self, room_id: str, channel: str, client: str | None = None) -> None:
        if await self._elsewhere(room_id):
            return await self._call(room_id, "attach", viewer=channel)
        for _ in range(3):
            room = await self.wake(room_id, client)
            if not await self._hold(room_id):
                return await self._call(room_id, "attach", viewer=channel)
            # Waking awaits (the replay, the notice); a room created meanwhile may have put
            # this one back to sleep before it had a viewer. Only the awake object counts.
            if self.awake.get(room_id) is room:
                break
        else:
            raise RoomsFull(f"all {self.max_rooms} rooms of this server are in use")
        if not room.viewers:
            # Time stands still while nobody watches; it resumes from here, without a jump.
            room.pacer.rebase(self.clock(), room.cluster.now_ms)
        room.viewers.add(channel)
        room.last_active_s = self.clock()
        if self.autorun:
            if self._scheduler is None or self._scheduler.done():
                self._scheduler = asyncio.get_running_loop().create_task(
                    self._schedule_forever())
            room.task = self._scheduler  # this room is ticked by the scheduler
        if self.autorun and (self._janitor is None or self._janitor.done()):
            self._janitor = asyncio.get_running_loop().create_task(self._sweep_forever())
        if self.autorun and (self._checkpointer is None or self._checkpointer.done()):
            self._checkpointer = asyncio.get_running_loop().create_task(
                self._checkpoint_forever())

    async def detach(self, room_id: str, channel: str) -> None:
        if await self._elsewhere(room_id):
            try:
                await self._call(room_id, "detach", viewer=channel)
            except (NoSuchRoom, RoomsFull):
                pass  # its process went away, and this viewer with it
            return
        room = self.awake.get(room_id)
        if room is not None:
            room.viewers.discard(channel)
            room.last_active_s = self.clock()

    async def handle(self, room_id: str, message, actor: dict) -> dict:
        """Answer one client message (see Room.handle); an accepted change is in the store
        before the reply (its ack) is returned."""
        if await self._elsewhere(room_id):
            return await self._call(room_id, "handle", message=message, actor=actor)
        room = await self.wake(room_id)
        if not await self._hold(room_id):
            return await self._call(room_id, "handle", message=message, actor=actor)
        if isinstance(message, dict) and message.get("type") in ("share", "fork"):
            return await self._share_or_fork(room, message, actor)
        reply = await room.handle(message, actor)
        accepted = reply.pop("persist", False)
        # A refusal may come after part of it was applied (a narration step whose later
        # command failed): what was applied happened, viewers see it, so it is stored too.
        if accepted or self.persister.has_unsaved(room):
            try:
                await self.persist(room_id)
            except Exception:
                log.exception("room %s: persisting failed", room_id)
                if accepted:
                    request_id = message.get("request_id")
                    error = ProtocolError("command", "applied, but it could not be saved; it "
                                          "may be lost if the server restarts", request_id)
                    return {"text": dumps(error.reply()), "snapshot_seq": None}
        return reply

    async def _share_or_fork(self, room: Room, message: dict, actor: dict) -> dict:
        try:
            msg = messages.parse(message)
            room.last_active_s = self.clock()
            # Both leave something behind (a recording row, a room): the creation limit.
            wait_s = self.allow_creation(actor.get("client"))
            if wait_s:
                raise ProtocolError("rate", f"too many new rooms and recordings from your "
                                    f"address; try again in {wait_s:.0f} s", msg["request_id"])
            if msg["type"] == "share":
                slug = await self.share(room.id, title=msg["title"])
                reply = {"type": "shared", "request_id": msg["request_id"], "slug": slug,
                         "url": f"/s/{slug}"}
            else:
                try:
                    new = await self.fork(room.id, owner=actor.get("session"),
                                          client=actor.get("client"))
                except (RoomsFull, TooManyRooms) as e:
                    raise ProtocolError("room", str(e), msg["request_id"]) from None
                reply = {"type": "forked", "request_id": msg["request_id"], "room": new.id,
                         "url": f"/r/{new.id}"}
        except ProtocolError as e:
            return {"text": dumps(e.reply()), "snapshot_seq": None}
        except Exception as e:
            # The store (or a fork's replay) failed: the sender hears of it, the socket and
            # the room go on, as for a command that could not be saved.
            log.exception("room %s: %s failed", room.id, message.get("type"))
            request_id = message.get("request_id")
            error = ProtocolError("type", f"{message.get('type')} failed on the server "
                                  f"({type(e).__name__}); try again later",
                                  request_id if isinstance(request_id, str) else None)
            return {"text": dumps(error.reply()), "snapshot_seq": None}
        return {"text": dumps(reply), "snapshot_seq": None}

    async def share(self, room_id: str, title: str | None = None) -> str:
        """Save the room's scenario, seed and log so far as a recording; return its slug."""
        room = await self.wake(room_id)
        room.advance(self.clock())  # "so far" is the time the viewers see
        fields = {"title": title or room.meta.get("title") or "", "spec": room.spec,
                  "seed": room.seed, "log": copy.deepcopy(room.cluster.command_log),
                  "end_ms": room.cluster.now_ms, "records_max": room.records_max,
                  "source_room": room.id,
                  "scenario_slug": str(room.meta.get("name") or "")[:64]}
        return await self.store.save_recording(fields)

    async def fork(self, room_id: str, owner: str | None = None,
                   client: str | None = None) -> Room:
        """A new live room: `room_id`'s scenario and log up to its current time, paused there,
        `owner` its presenter. Stored before it is returned."""
        room = await self.wake(room_id)
        room.advance(self.clock())
        recording = {**room.recording(), "id": self._new_id(), "owner": owner,
                     "open": None, "replay": None, "notices": []}
        self._make_space(client)
        new = await asyncio.to_thread(Room.replay, recording, **self._room_kwargs())
        self._make_space(client)  # the replay awaited: another room may have taken the slot
        self.awake[new.id] = self._adopt(new, client)
        await new.notice("info", f"Forked from room {room.id} at its virtual time "
                         f"{room.cluster.now_ms:,} ms; you drive this copy.")
        await self.persist(new.id)
        return new

    async def take_over(self, room_id: str, timeout_s: float = 30.0) -> None:
        """Make `room_id` run in this process: if another runs it, that one puts it to sleep
        (saving it) and gives up its lease; the room wakes here when next asked for. Raises
        RoomsFull if that does not happen within `timeout_s`."""
        if not await self._elsewhere(room_id):
            return
        try:
            await self._call(room_id, "release")
        except NoSuchRoom:
            pass  # gone meanwhile
        deadline = self.clock() + timeout_s
        while await self._elsewhere(room_id):
            if self.clock() > deadline:
                raise RoomsFull(f"room {room_id!r} is still run by another process")
            await asyncio.sleep(0.1)

    async def page(self, room_id: str, client: str | None = None) -> dict:
        """What the room's page is rendered with: its scenario, in a replay what it replays,
        the produce form's first values and the order its topics and groups were made in.
        Wakes the room (a restarted server rebuilds it here), on `client`'s
        allowance."""
        if await self._elsewhere(room_id):
            return await self._call(room_id, "page")
        room = await self.wake(room_id, client)
        replay = None
        if room.script is not None:
            replay = {"slug": room.script["slug"], "end_ms": room.script["end_ms"],
                      "title": room.meta.get("title") or ""}
        # The produce form's first values and the drawing order of topics and groups: the
        # scenario's (playground/rooms/page_defaults.py), not the page's own guesses.
        order = creation_order(room.cluster)
        return {"scenario": room.scenario(), "replay": replay,
                "produce_defaults": produce_defaults(room.spec),
                "topic_order": order["topics"], "group_order": order["groups"]}

    async def you(self, room_id: str, actor: dict) -> dict:
        if await self._elsewhere(room_id):
            return await self._call(room_id, "you", actor=actor)
        return (await self.wake(room_id)).you(actor)

    async def _checkpoint_forever(self) -> None:
        """Clock progress without commands reaches the store too, every few seconds."""
        while True:
            await asyncio.sleep(self.checkpoint_s)
            try:
                await self.checkpoint()
            except Exception:
                log.exception("checkpointing rooms failed")

    async def checkpoint(self) -> None:
        """Save every awake room whose clock moved, in one store call (Persister.checkpoint),
        each under its lease; an unchanged room every keep_s / 4 (its row's `updated` is what
        old-room cleanup goes by)."""
        await self.persister.checkpoint(list(self.awake.values()), self._hold,
                                        resave_s=self.keep_s / 4)

    async def _sweep_forever(self) -> None:
        """Idle rooms go to sleep on time even when nobody opens a new one."""
        while True:
            await asyncio.sleep(min(60.0, self.idle_s / 2))
            try:
                self.sweep()
                # Waking ones too: loaded from the store and being replayed, they are not
                # awake yet; deleted now, their next save would store a header without a log.
                await self.store.forget_idle(self.keep_s, set(self.awake) | set(self.settling)
                                             | set(self._waking))
            except Exception:
                log.exception("sweeping idle rooms failed")

    async def _schedule_forever(self) -> None:
        """One scheduler for every room of the process: ticks every `tick_s`, while anyone
        watches any room."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        try:
            while True:
                due += self.tick_s
                delay = due - loop.time()
                if delay < 0:
                    due, delay = loop.time(), 0  # late: start again from now, never burst
                await asyncio.sleep(delay)
                watched = []
                for room in self.awake.values():
                    if room.viewers:
                        watched.append(room)
                    elif room.task is not None:
                        room.task = None  # time stands still while nobody watches
                if not watched:
                    return  # the next attach starts it again
                await self._tick_rooms(watched)
        finally:
            if self._scheduler is asyncio.current_task():
                self._scheduler = None
                for room in self.awake.values():
                    room.task = None

    async def _tick_rooms(self, watched: list[Room]) -> None:
        """Give every watched room a turn within this tick's budget (`cpu_share` of a tick).

        Fair sharing: each room in turn gets the budget still left times its weight over the
        weights still waiting, so a room that needs little leaves its share to those after it,
        and a room that wants everything (100,000x with a fast producer) gets its share and
        falls behind -- it plays slower -- instead of slowing the others. The order rotates
        every tick, and when the budget runs out the rooms that had no turn go first next
        time, so nobody is always last. Between rooms the loop serves sockets and pages.
        """
        budget_s = self.tick_s * self.cpu_share
        n = len(watched)
        first = self._turn % n
        order = watched[first:] + watched[:first]
        self._turn = first + 1
        weights = sum(room.weight for room in order)
        used_s = 0.0
        for i, room in enumerate(order):
            if self.awake.get(room.id) is not room or not room.viewers:
                weights -= room.weight
                continue
            left_s = budget_s - used_s
            if left_s <= 0.0005:
                self._turn = first + i
                # No model time for them this tick, but what their commands did goes out.
                for waiting in order[i:]:
                    if waiting.pending:
                        await self._guarded(waiting.flush())
                break
            share_s = left_s * room.weight / max(weights, 1)
            weights -= room.weight
            started = time.perf_counter()
            await self._guarded(room.tick(share_s), room)
            used_s += time.perf_counter() - started
            await asyncio.sleep(0)

    @staticmethod
    async def _guarded(call, room: Room | None = None) -> None:
        try:
            await call
        except Exception:
            # A bug in one room must not stop its clock for good, nor touch others.
            log.exception("room %s: tick failed", room.id if room else "?")


_rooms: Rooms | None = None


def get_rooms() -> Rooms:
    """This process's rooms, configured from settings on first use."""
    global _rooms
    if _rooms is None:
        _rooms = Rooms(max_rooms=settings.PLAYGROUND_MAX_ROOMS,
                       redis_url=settings.PLAYGROUND_REDIS_URL,
                       idle_s=settings.PLAYGROUND_ROOM_IDLE_S,
                       records_max=settings.PLAYGROUND_ROOM_RECORDS_MAX, store=DbStore(),
                       create_burst=settings.PLAYGROUND_ROOM_CREATE_BURST,
                       create_per_min=settings.PLAYGROUND_ROOM_CREATE_PER_MIN,
                       keep_s=settings.PLAYGROUND_ROOM_KEEP_DAYS * 86_400,
                       cpu_share=settings.PLAYGROUND_ROOMS_CPU_SHARE,
                       jump_weight=settings.PLAYGROUND_JUMP_WEIGHT,
                       rooms_per_address=settings.PLAYGROUND_ROOMS_PER_ADDRESS,
                       quotas=Quotas.from_settings())
    return _rooms


def set_rooms(rooms: Rooms | None) -> None:
    """Replace this process's rooms (tests use a fresh, hand-clocked registry each)."""
    global _rooms
    _rooms = rooms
