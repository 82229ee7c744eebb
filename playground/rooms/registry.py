"""The rooms of this process: creating, finding, capping, putting to sleep, waking.

Every call a consumer makes goes through `Rooms` with a room id and plain JSON, never through a
`Room` object it holds on to: today the room lives in this process, and when rooms are spread
over several processes (a lease in Redis says which process runs a room) these same calls become
channel-layer messages to the owning process. Frames already travel over the layer.

Limits keep one room from hurting the rest: at most `max_rooms` rooms awake in the process (a new
one first puts the longest-idle unwatched room to sleep, else is refused), each room's retained
records are capped (`records_max`, enforced by the model like retention.bytes), and a room that
nobody has watched for `idle_s` is put to sleep: its cluster is dropped and only its recording
(scenario, seed, command log, clock) is kept. Opening it again replays the recording.
"""

import asyncio
import logging
import secrets
import time

from channels.layers import get_channel_layer
from django.conf import settings

from .room import TICK_S, Room

log = logging.getLogger(__name__)


class RoomsFull(Exception):
    """Every room slot is taken by a room someone is watching."""


class NoSuchRoom(KeyError):
    pass


def build_cluster(spec: dict, seed):
    from broker_core import Cluster

    return Cluster.from_scenario(spec, seed=seed)


class Rooms:
    def __init__(self, *, max_rooms: int = 100, max_sleeping: int = 10_000, idle_s: float = 600,
                 records_max: int = 0, clock=time.monotonic, layer=None, autorun: bool = True,
                 build=build_cluster, tick_s: float = TICK_S):
        self.max_rooms = max_rooms
        self.max_sleeping = max_sleeping
        self.idle_s = idle_s
        self.records_max = records_max
        self.clock = clock
        self._layer = layer
        self.autorun = autorun
        self.build = build
        self.tick_s = tick_s
        self.awake: dict[str, Room] = {}
        self.sleeping: dict[str, dict] = {}  # id -> recording, oldest first
        self._waking: dict[str, asyncio.Future] = {}
        self._janitor: asyncio.Task | None = None

    @property
    def layer(self):
        if self._layer is None:
            self._layer = get_channel_layer()
        return self._layer

    def _room_kwargs(self) -> dict:
        return {"build": self.build, "layer": self.layer, "clock": self.clock,
                "limits": {"rooms_max": self.max_rooms, "idle_sleep_s": self.idle_s}}

    # -- lifecycle ------------------------------------------------------------------------------

    def create(self, spec: dict, *, seed=None, meta: dict | None = None,
               room_id: str | None = None) -> Room:
        """A fresh room running `spec` (raises ScenarioError/CommandError for a bad one).
        `room_id` names it (the Kafka listener's ``live``); by default a fresh random id."""
        if room_id is not None and self.exists(room_id):
            raise ValueError(f"room {room_id!r} exists already")
        self._make_space()
        room_id = room_id or self._new_id()
        room = Room(room_id, spec, seed=seed, records_max=self.records_max, meta=meta,
                    **self._room_kwargs())
        self.awake[room_id] = room
        return room

    def _new_id(self) -> str:
        while True:
            room_id = secrets.token_hex(5)
            if room_id not in self.awake and room_id not in self.sleeping:
                return room_id

    def _make_space(self) -> None:
        self.sweep()
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
        # Its runner, if any, sees the room gone and stops at its next tick. Not cancelled from
        # here: views call this from Django's sync thread, and tasks belong to the loop's.
        room = self.awake.pop(room_id)
        recording = room.recording()
        self.sleeping[room_id] = recording
        while len(self.sleeping) > self.max_sleeping:
            del self.sleeping[next(iter(self.sleeping))]  # the longest asleep is forgotten
        return recording

    async def wake(self, room_id: str) -> Room:
        room = self.awake.get(room_id)
        if room is not None:
            return room
        waking = self._waking.get(room_id)
        if waking is not None:
            return await asyncio.shield(waking)
        recording = self.sleeping.get(room_id)
        if recording is None:
            raise NoSuchRoom(room_id)
        future = asyncio.get_running_loop().create_future()
        self._waking[room_id] = future
        try:
            self._make_space()
            # Replay is pure CPU work on a private cluster: a thread keeps the loop serving.
            room = await asyncio.to_thread(Room.replay, recording, **self._room_kwargs())
            # Another room going to sleep meanwhile may have pushed this recording out of
            # `sleeping`; the replayed room is what counts now.
            self.sleeping.pop(room_id, None)
            self.awake[room_id] = room
            future.set_result(room)
        except BaseException as e:
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
        return room_id in self.awake or room_id in self.sleeping

    def info(self, room_id: str) -> dict | None:
        """The room's scenario as the page shows it (name, title, ..., steps), or None."""
        room = self.awake.get(room_id)
        if room is not None:
            return room.scenario()
        recording = self.sleeping.get(room_id)
        if recording is None:
            return None
        return {**recording["meta"], "steps": list(recording["spec"].get("steps") or [])}

    async def attach(self, room_id: str, channel: str) -> None:
        for _ in range(3):
            room = await self.wake(room_id)
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
        if self.autorun and room.task is None:
            room.task = asyncio.get_running_loop().create_task(self._run(room))
        if self.autorun and (self._janitor is None or self._janitor.done()):
            self._janitor = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def detach(self, room_id: str, channel: str) -> None:
        room = self.awake.get(room_id)
        if room is not None:
            room.viewers.discard(channel)
            room.last_active_s = self.clock()

    async def handle(self, room_id: str, message, actor: dict) -> dict:
        room = await self.wake(room_id)
        return await room.handle(message, actor)

    async def _sweep_forever(self) -> None:
        """Idle rooms go to sleep on time even when nobody opens a new one."""
        while True:
            await asyncio.sleep(min(60.0, self.idle_s / 2))
            try:
                self.sweep()
            except Exception:
                log.exception("sweeping idle rooms failed")

    async def _run(self, room: Room) -> None:
        try:
            while room.viewers and self.awake.get(room.id) is room:
                await asyncio.sleep(self.tick_s)
                try:
                    await room.tick()
                except Exception:
                    # A bug in one room must not stop its clock for good, nor touch others.
                    log.exception("room %s: tick failed", room.id)
        finally:
            if room.task is asyncio.current_task():
                room.task = None


_rooms: Rooms | None = None


def get_rooms() -> Rooms:
    """This process's rooms, configured from settings on first use."""
    global _rooms
    if _rooms is None:
        _rooms = Rooms(max_rooms=settings.PLAYGROUND_MAX_ROOMS,
                       idle_s=settings.PLAYGROUND_ROOM_IDLE_S,
                       records_max=settings.PLAYGROUND_ROOM_RECORDS_MAX)
    return _rooms


def set_rooms(rooms: Rooms | None) -> None:
    """Replace this process's rooms (tests use a fresh, hand-clocked registry each)."""
    global _rooms
    _rooms = rooms
