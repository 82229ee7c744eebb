"""A room: one running cluster, paced against wall time and streamed to its viewers.

Theory of operation. A room owns a `broker_core.Cluster` built from a scenario and a seed, and
keeps the log of every command it applied with the virtual time it was applied at; that
triple (scenario, seed, log) is the whole room, so replaying it rebuilds the same cluster byte
for byte (that is how a sleeping room wakes). One asyncio task per room ticks about 20 times a
second while anyone watches: it asks the `Pacer` where virtual time should be, advances the
cluster there (in slices, within a CPU budget, so one busy room cannot stall the process),
and sends everything that happened since the last frame as ONE frame over the channel layer
to the room's group. Commands and controls arrive through `handle` (a direct call from a
consumer in the same process, or, from another process, a channel-layer message: the arguments
and the answer are plain JSON; remote.py). Their events ride the next frame.

Sequence numbers are the cluster's own: frames cover ``from_seq..to_seq`` with no gaps, and a
snapshot is taken only right after a flush, so "snapshot at S, then frames from S+1" holds.
A seek (replay rooms) swaps in a rebuilt cluster whose seq may be lower: it starts a new
`epoch`, and every group message says its epoch so a viewer drops frames of the old cluster.

Control. The creator's session (`owner`) is the presenter; `may_control` lets the presenter,
or anyone once the presenter opened the room, change it. A room without an owner is open.

Replay rooms carry a `script` (a shared recording's log): as the clock passes each entry's
virtual time the entry is applied exactly as the original room applied it (advance to that
instant, then apply), so the event stream is the original's, byte for byte.
"""

import asyncio
import copy
import dataclasses
import logging
import time
from collections.abc import Callable

from broker_core import CommandError
from broker_core.cluster import WIRE_COMMANDS
from broker_core.events import Folding
from broker_core.narration import has_moment, predicate
from playground.jsontext import ascii_dumps, dumps, plain_ascii_dumps

from . import messages
from .cells import add_records
from .figures import MomentsAndFigures
from .frames import MAX_FRAME_BYTES, MAX_FRAME_EVENTS, build_frame
from .messages import MAX_MESSAGE_BYTES, ProtocolError
from .pacing import SPEED_MAX, SPEED_MIN, Pacer
from .relay import publish

# Events after which a frame carries the cluster's delivery topics again
# (Cluster.delivery_topics): topics and groups coming and going.
DELIVERY_TOPOLOGY = frozenset({
    "topic.created", "topic.deleted", "group.created", "group.configured", "group.deleted",
    "group.member_joined", "group.member_left", "group.member_expired"})

log = logging.getLogger(__name__)

TICK_S = 0.05  # frames at most ~20 a second
# Model work per call when nobody shares it out (a command's catch-up, a share, tests); the
# registry's scheduler gives each busy room its share of the process's tick instead.
TICK_CPU_BUDGET_S = 0.025
# One call into the model stops after the instant by which this many events happened (see
# Cluster.advance_to(max_events=)): the budget is checked that often, however long the jump,
# and what a room holds between flushes stays small.
SLICE_MAX_EVENTS = 500
# Events held for the next frame before the room stops advancing until the next flush: a fast
# room streams its events out as frames and aggregates rather than holding a jump's worth.
PENDING_MAX_EVENTS = 20_000
IDLE_FRAME_S = 1.0  # while playing with nothing happening, a clock-only frame this often
BUDGET_REASONS = ("retained.records.max", "retained.bytes.max")
# A room's records may hold this many bytes each on average (Kafka's record sizes): the bytes
# budget follows from the records budget, so it is part of every recording without a field of
# its own, and a few huge records cannot hold what the records budget would not.
BYTES_PER_RECORD_BUDGET = 1024
MAX_NOTICES = 20
# A room is its recording, and the recording keeps every command (values included) for as
# long as the room exists, awake or asleep; this bounds it, whatever the record budget.
LOG_BYTES_MAX = 1_500_000
BUDGET_NOTICE_EVERY_S = 30.0
# A step that waits for an event ("when broker 1 has stopped") runs the room at most this far
# past the scenario's end (or past now, in a story without one) looking for it.
NARRATION_SEARCH_MS = 3_600_000
PRESENTER_ONLY = "only the presenter drives this room; fork it to try things yourself"
REPLAY_ONLY = "this is a replay: fork it to take over"


# Attach names of processes, not people (see people_watching).
PROCESS_VIEWER_PREFIX = "process:"


def group_name(room_id: str) -> str:
    return f"room.{room_id}"


def run_to(cluster, t_ms: int, observe=None) -> None:
    """Advance `cluster` to `t_ms`, dropping the events (after `observe` saw them, if given):
    a rebuild (wake, seek, fork) needs the state, not the stream. In event-bounded slices, so
    memory stays flat however long the stretch; the run is the same as one call."""
    while cluster.now_ms < t_ms:
        events = cluster.advance_to(t_ms, max_events=SLICE_MAX_EVENTS)
        if observe is not None:
            observe(events)


def retained_records(snapshot: dict) -> int:
    return sum(p["log_end_offset"] - p["log_start_offset"]
               for topic in snapshot["topics"].values() for p in topic["partitions"])


@dataclasses.dataclass(slots=True)
class Goal:
    """A step or jump in progress: run unpaced to `to_ms`; `from_ms` is where it started (the
    page's progress bar). A narration step (`step`) also stops at the end of the first instant
    with an event matching `until`, and pauses at its moment."""

    to_ms: int
    from_ms: int
    step: int | None = None
    until: Callable[[dict], bool] | None = None


class Room:
    """One running cluster. Its recording is (spec, seed, cluster.command_log): the log holds
    only what viewers sent, each entry with the virtual time it was applied at."""

    def __init__(self, room_id: str, spec: dict, *, seed=None, build, layer, clock=time.monotonic,
                 wall_ms=None, records_max: int = 0, meta: dict | None = None,
                 limits: dict | None = None, owner: str | None = None, open: bool | None = None,
                 script: dict | None = None, uncounted_viewers: bool = False):
        self.id = room_id
        # Rooms spread over processes (Redis): pages attached to the copy another process ran
        # before this one took the room over (Rooms.take_over: the Kafka listener) still listen
        # on its group without being counted here, so frames go out whether anyone is counted.
        self.uncounted_viewers = uncounted_viewers
        self.spec = spec
        self.build = build
        self.layer = layer
        self.group = group_name(room_id)
        self.clock = clock
        self.wall_ms = wall_ms or (lambda: int(time.time() * 1000))
        self.records_max = records_max
        self.meta = meta or {}
        self.extra_limits = limits or {}
        # When each narration step's event happened in this cluster's run (narration.py);
        # swapped with the cluster on every rebuild.
        self.cluster, self.moments = self._fresh_cluster(seed)
        self.seed = self.cluster.seed
        self.pending: list[dict] = []
        self.sent_seq = self.cluster.seq
        self.pacer = Pacer(clock(), self.cluster.now_ms)
        self.goal: Goal | None = None  # a step or jump in progress
        self.narration_step = 0
        self.viewers: set[str] = set()
        self.viewers_sent = 0  # people_watching() as the last frame said it (see flush)
        self.notices: list[dict] = []
        self.task = None
        self.last_active_s = clock()
        self.last_frame_s = float("-inf")
        self.clock_dirty = False
        self.budget_noticed_s = float("-inf")
        self.failure_noticed_s = float("-inf")
        self.log_bytes = 0  # the size of the commands in the recording (LOG_BYTES_MAX)
        # The JSON text of each command applied since the room's last save, by command-log
        # index: a command is encoded once, here, both to weigh it against LOG_BYTES_MAX and
        # to be written as it is (Persister.unsaved takes them). A real client's produce
        # request is thousands of records, and encoding them twice was a fifth of the wire
        # listener's time.
        self.command_texts: dict[int, str] = {}
        self.behind = False
        self.missed_step: int | None = None  # its event never came within the search
        self.narration_search_ms = NARRATION_SEARCH_MS
        self.frames_sent = 0
        # Checks a command against the room's resource limits before the model sees it
        # (rooms/quotas.py; None: unlimited, as in unit tests of the room alone).
        self.quotas = None
        self.jump_weight = 1  # the registry's scheduler sets PLAYGROUND_JUMP_WEIGHT
        self.event_cost_s = 5e-6  # model time per event, measured: sizes the slices
        self.listeners: list = []  # fn(events) for every batch of new model events, in order
        self.whole_listeners: set = set()  # those that need per-record events one by one
        # Per-record events folded into counts while nothing reads them one by one (_pick_sink).
        self.folding = Folding([])
        self.pending_folded = False  # pending holds counts folded unwatched (_drop_folded)
        self.folding_unwatched = False  # the sink folds because nobody watches (_pick_sink)
        self.client: str | None = None  # the address that made it (the registry sets it)
        self.owner = owner or None
        self.open = self.owner is None if open is None else bool(open) or self.owner is None
        # A replay room's recording: {"slug", "log", "end_ms"}; script_pos is its next entry.
        self.script = script
        self.script_pos = 0
        self.epoch = 0
        self.seeks = 0  # seeks asked for so far: only the latest one's rebuild is used
        # The registry's persister (rooms/persister.py), which keeps what the store has of
        # this room; None until a registry adopts the room.
        self.persister = None
        # Why this room must run at 1x (real Kafka clients attached: their timeouts run on the
        # wall clock), or None. Refuses speed changes and pause; the clock says "realtime".
        self.realtime: str | None = None
        self.log_bytes_max = LOG_BYTES_MAX

    @property
    def goal_ms(self) -> int | None:
        return None if self.goal is None else self.goal.to_ms

    @goal_ms.setter
    def goal_ms(self, to_ms: int | None) -> None:
        """A plain jump to `to_ms` from where the cluster is (None: no goal)."""
        self.goal = None if to_ms is None else Goal(to_ms, self.cluster.now_ms)

    def _end_goal(self, wall_s: float, at_ms: int) -> None:
        """The step or jump is over at `at_ms` (reached, or cancelled where it got to): the
        clock goes on from there, paused if a narration step got to its moment."""
        goal, self.goal = self.goal, None
        self.pacer.rebase(wall_s, at_ms)
        if goal is not None and goal.step is not None:
            self.pacer.pause(wall_s)
        self.clock_dirty = True

    @property
    def persisted(self) -> int:
        """How many command-log entries the store has: the persister's cursor, read-only
        here (0 before a registry adopts the room)."""
        return 0 if self.persister is None else self.persister.cursor(self)

    @property
    def mode(self) -> str:
        return "live" if self.script is None else "replay"

    # -- building and replaying ----------------------------------------------------------------

    def _fresh_cluster(self, seed) -> tuple:
        """A new cluster of the room's scenario at 0 ms, and its narration `Moments`."""
        cluster = self.build(self.spec, seed)
        if self.records_max:
            # Part of the room's recording, set the same way before any command on every
            # replay, so a replayed room expires the same records at the same instants.
            cluster.config["retained.records.max"] = self.records_max
            cluster.config["retained.bytes.max"] = self.records_max * BYTES_PER_RECORD_BUDGET
        # Construction and the scenario's first instant are in the snapshot; frames start after.
        # A step may still wait for one of its events (the first controller election). The
        # scenario's figures (per-record waits) ride along: every event that feeds one feeds both.
        scenario = getattr(cluster, "scenario", None) or {}
        moments = MomentsAndFigures(list(getattr(cluster, "steps", None) or []),
                                    scenario.get("figures"))
        moments.observe(cluster.advance(0))
        return cluster, moments

    def recording(self) -> dict:
        """What a room is: enough to rebuild it exactly (plus where its clock had got to)."""
        return {"id": self.id, "spec": self.spec, "seed": self.seed,
                "log": copy.deepcopy(self.cluster.command_log), "now_ms": self.cluster.now_ms,
                "seq": self.cluster.seq, "records_max": self.records_max, "meta": self.meta,
                "narration_step": self.narration_step, "speed": self.pacer.speed,
                "notices": list(self.notices)}

    def header(self, state: str = "live") -> dict:
        """The room as its store keeps it, apart from the command log."""
        return {"room_id": self.id, "spec": self.spec, "seed": self.seed,
                "records_max": self.records_max, "meta": self.meta, "owner": self.owner or "",
                "open": self.open, "state": state,
                "replay_of": self.script["slug"] if self.script else "",
                "now_ms": self.cluster.now_ms, "seq": self.cluster.seq,
                "speed": self.pacer.speed, "narration_step": self.narration_step,
                "notices": list(self.notices)}

    @classmethod
    def replay(cls, recording: dict, **kwargs) -> "Room":
        """Rebuild a room from its recording (see `recording()`; plus optional "owner",
        "open" and, for a replay room, "replay": its script)."""
        room = cls(recording["id"], recording["spec"], seed=recording["seed"],
                   records_max=recording["records_max"], meta=recording["meta"],
                   owner=recording.get("owner"), open=recording.get("open"),
                   script=recording.get("replay"), **kwargs)
        if room.script is not None:
            # Its log is the script's prefix: rebuilt the way a seek rebuilds it.
            room.cluster, room.moments, room.script_pos = room._build_at(recording["now_ms"])
        else:
            room.cluster, room.moments, _ = room._rebuild(
                recording["log"], recording["now_ms"], start=(room.cluster, room.moments))
        cluster = room.cluster
        room.log_bytes = sum(len(ascii_dumps(entry["command"])) for entry in cluster.command_log)
        room.sent_seq = cluster.seq
        room.pacer = Pacer(room.clock(), cluster.now_ms, speed=recording["speed"])
        room.narration_step = recording["narration_step"]
        room.notices = list(recording["notices"])
        if cluster.seq != recording["seq"]:
            # Same log, another outcome: the model changed since the room was recorded (a
            # deploy between sleep and wake). The room goes on from what the model makes of
            # its log today, and says so, rather than being lost.
            log.warning("room %s replayed to seq %s, recorded %s", room.id, cluster.seq,
                        recording["seq"])
            room.notices = [*room.notices, {
                "type": "notice", "level": "warning", "at_ms": cluster.now_ms,
                "message": "This room was rebuilt by a changed model: its commands are the "
                           "same, but what they led to may differ from before."}][-MAX_NOTICES:]
        room.pending = []
        return room

    def _rebuild(self, entries: list[dict], to_ms: int, apply=None, start=None):
        """A cluster with `entries` (a command log or a replay's script, in time order)
        applied up to and including `to_ms`, at `to_ms`; its narration moments (which saw
        every event); and how many entries were applied. From a fresh cluster, or from
        `start` = (cluster, moments) at 0 ms. Pure CPU work on a private cluster."""
        cluster, moments = start or self._fresh_cluster(self.seed)
        apply = apply or (lambda c, entry: c.apply(entry["command"]))
        # The events are dropped once the narration moments saw them: unless those read
        # per-record ones, the model only counts those (a wake or seek of a busy room is then
        # mostly model work, not a dict a record).
        counted = None if moments.wants_records() else Folding([])
        cluster.use_sink(counted)
        pos = 0
        while pos < len(entries) and entries[pos]["at_ms"] <= to_ms:
            run_to(cluster, entries[pos]["at_ms"], moments.observe)
            moments.observe(apply(cluster, entries[pos]))
            pos += 1
            if counted is not None:
                counted.take()
        run_to(cluster, to_ms, moments.observe)
        cluster.use_sink(None)
        return cluster, moments, pos

    def _build_at(self, to_ms: int):
        """A replay room at `to_ms` (a seek): its script applied up to there, and the index of
        the script's next entry."""
        return self._rebuild(self.script["log"], to_ms, self._apply_scripted)

    def _build_live_at(self, to_ms: int):
        """A live room at `to_ms` (a rewind to a narration step's moment): its own command log
        replayed up to there."""
        return self._rebuild(self.cluster.command_log, to_ms)[:2]

    def _apply_scripted(self, cluster, entry: dict) -> list:
        try:
            return cluster.apply(entry["command"])
        except CommandError as e:
            # Recordings are checked by replay when saved; one that fails now is a model
            # change since. The rest of the script still plays.
            log.warning("room %s: scripted command at %s ms refused: %s", self.id,
                        entry["at_ms"], e)
            return []

    def _next_script_ms(self) -> int | None:
        if self.script is None or self.script_pos >= len(self.script["log"]):
            return None
        return self.script["log"][self.script_pos]["at_ms"]

    def _run_script(self) -> None:
        """Apply every scripted entry whose time the clock has reached."""
        if self.script is None:
            return
        entries = self.script["log"]
        while (self.script_pos < len(entries)
               and entries[self.script_pos]["at_ms"] <= self.cluster.now_ms):
            self._pick_sink()
            self._emit(self._apply_scripted(self.cluster, entries[self.script_pos]))
            self.script_pos += 1

    # -- what viewers see -----------------------------------------------------------------------

    def clock_state(self) -> dict:
        goal = self.goal
        recording = None
        if self.script is not None:
            recording = {"end_ms": self.script["end_ms"], "slug": self.script["slug"]}
        return {"now_ms": self.cluster.now_ms, **self.pacer.state(),
                "behind": self.behind, "goal_ms": self.goal_ms,
                "goal_step": goal.step if goal else None,
                "goal_from_ms": goal.from_ms if goal else None,
                "recording": recording, "realtime": self.realtime is not None}

    def limits(self, state: dict) -> dict:
        return {"retained_records": retained_records(state),
                "retained_records_max": self.records_max or None,
                "retained_bytes_max": self.records_max * BYTES_PER_RECORD_BUDGET or None,
                "frame_events_max": MAX_FRAME_EVENTS, "frame_bytes_max": MAX_FRAME_BYTES,
                "message_bytes_max": MAX_MESSAGE_BYTES, "speed_min": SPEED_MIN,
                "speed_max": SPEED_MAX, **self.extra_limits}

    def scenario(self) -> dict:
        return {**self.meta, "steps": self.steps()}

    def steps(self) -> list:
        return list(getattr(self.cluster, "steps", None) or [])

    def _snapshot_message(self) -> tuple[str, int]:
        # With each partition's newest records (cells.py): a page that joins late, reloads or
        # opens a fork draws the cells a page that watched from the start draws.
        state = add_records(self.cluster.snapshot(), self.cluster)
        seq = self.cluster.seq
        message = {"type": "snapshot", "seq": seq, "state": state,
                   "room": {"id": self.id, "scenario": self.scenario(),
                            "clock": self.clock_state(), "narration_step": self.narration_step,
                            "viewers": self.people_watching(), "limits": self.limits(state),
                            "notices": list(self.notices), "open": self.open,
                            "mode": self.mode, "figures": self.moments.figures.snapshot()}}
        return dumps(message), seq

    async def snapshot_text(self) -> tuple[str, int]:
        # State and seq are read together, before any await: a command landing while the
        # flush below waits on the layer must not put events in the state that the seq says
        # are still to come. The flush sends what is pending; this viewer drops it (covered).
        text, seq = self._snapshot_message()
        await self.flush(force=False)
        return text, seq

    def is_presenter(self, actor: dict) -> bool:
        return self.owner is not None and actor.get("session") == self.owner

    def you(self, actor: dict) -> dict:
        return {"type": "you", "presenter": self.is_presenter(actor), "open": self.open,
                "may_control": self.may_control(actor), "mode": self.mode}

    async def notice(self, level: str, message: str) -> None:
        notice = {"type": "notice", "level": level, "message": message,
                  "at_ms": self.cluster.now_ms}
        self.notices = [*self.notices, notice][-MAX_NOTICES:]
        await self._send({"type": "room.notice", "text": dumps(notice)})

    async def _send(self, message: dict) -> None:
        """One message to every viewer of the room, in every process (relay.publish)."""
        await publish(self.layer, self.group, message)

    # -- time -------------------------------------------------------------------------------------

    def advance(self, wall_s: float, cpu_budget_s: float = TICK_CPU_BUDGET_S) -> bool:
        """Bring the cluster to where the pacer (or a step/jump goal) says, within a CPU budget.

        Work is bounded three ways: each call into the model stops after about
        `SLICE_MAX_EVENTS` events (at an instant boundary, so the run is the same however it is
        cut), the CPU budget is checked after each such slice, and the room stops once
        `PENDING_MAX_EVENTS` wait for the next frame. A jump of a busy day is therefore many
        small slices spread over many ticks, streamed out as frames, never one call.

        A room that cannot keep up falls behind rather than piling up work: the pacer is
        re-based at where the cluster got to, so it plays on at the speed the machine allows
        (the clock says ``behind``) and never tries to catch up in a burst later. Returns
        whether the room reached its target (False: it wants more time).
        """
        cluster = self.cluster
        target = self.goal_ms if self.goal_ms is not None else self.pacer.virtual_at(wall_s)
        started = time.perf_counter()
        while True:
            self._run_script()
            if cluster.now_ms >= target:
                break
            if (time.perf_counter() - started > cpu_budget_s
                    or len(self.pending) >= PENDING_MAX_EVENTS):
                break
            # A replay stops at each scripted instant, to apply it there and nowhere else.
            scripted = self._next_script_ms()
            stop = target if scripted is None else min(target, scripted)
            # Idle time is free: the model jumps straight to its next due action. A slice is
            # sized to what is left of the budget, so a small share overshoots by little.
            left_s = cpu_budget_s - (time.perf_counter() - started)
            max_events = max(20, min(SLICE_MAX_EVENTS, int(left_s / self.event_cost_s)))
            slice_started = time.perf_counter()
            goal = self.goal
            until = goal.until if goal is not None else None
            self._pick_sink()
            seq = cluster.seq
            events = cluster.advance_to(stop, max_events=max_events, until=until)
            self._emit(events)
            made = cluster.seq - seq  # folded ones too: they cost model time
            if made >= 20:
                cost = (time.perf_counter() - slice_started) / made
                self.event_cost_s = 0.8 * self.event_cost_s + 0.2 * cost
            if until is not None and goal.step in self.moments.found:
                # The narration step's event happened (its Moments saw it in _emit): its
                # moment is this instant.
                target = goal.to_ms = cluster.now_ms
                goal.until = None
        self._run_script()  # nothing scripted at or before `now` is left for later
        reached = cluster.now_ms >= target
        goal = self.goal
        if goal is not None:
            if reached:
                if goal.until is not None:
                    self.missed_step = goal.step  # searched to the end: no event
                # A narration step stops at its moment, so what the step says is what every
                # viewer sees until someone plays on.
                self._end_goal(wall_s, goal.to_ms)
            # A jump in progress moves its progress bar: every frame says where it got to.
            self.clock_dirty = True
        elif not reached:
            self.pacer.rebase(wall_s, cluster.now_ms)
            self.behind = True
        elif self.behind:
            self.behind = False
            self.clock_dirty = True
        return reached

    async def tick(self, cpu_budget_s: float = TICK_CPU_BUDGET_S) -> bool:
        """Advance within `cpu_budget_s` and send what happened as one frame. Returns whether
        the room reached where it wanted to be (False: it would use more time)."""
        wall_s = self.clock()
        try:
            reached = self.advance(wall_s, cpu_budget_s)
        except Exception as e:
            # A model bug. The room goes on (the registry logs it and ticks again), but the
            # viewers are told, once in a while: whatever was due when it failed is lost.
            if wall_s - self.failure_noticed_s >= BUDGET_NOTICE_EVERY_S:
                self.failure_noticed_s = wall_s
                await self.notice("warning", "The model failed while running this room "
                                  f"({type(e).__name__}); it goes on, but something that was "
                                  "due may have stopped. This is a bug; please report it.")
            raise
        if self.missed_step is not None:
            step, self.missed_step = self.missed_step, None
            await self.notice("info", f"Step {step + 1} waits for an event that had not "
                              f"happened by {self.cluster.now_ms / 1000:,.1f} s; the room "
                              "stopped there. Play on, or go back a step.")
        await self.flush(force=False, wall_s=wall_s)
        return reached

    @property
    def weight(self) -> int:
        """Shares of the process's tick this room gets when busy: a jump or step someone asked
        for is a finite job the class is waiting on; playing fast is an appetite."""
        return self.jump_weight if self.goal is not None else 1

    async def flush(self, force: bool = False, wall_s: float | None = None) -> None:
        """Send what is pending as one frame (or a clock-only frame when one is due)."""
        wall_s = self.clock() if wall_s is None else wall_s
        pending = self.pending
        # Viewers come and go through the registry (attach, detach): a changed count is
        # noticed here, so everyone sees it at the next tick, in quiet and paused rooms too.
        watching = self.people_watching()
        if self.viewers_sent == 0:
            # Nobody watched when the last frame went: everyone watching now came since, and
            # the snapshot each is sent after attaching (its resync flushes right after it)
            # already says the count; a first viewer needs no frame to repeat its snapshot.
            self.viewers_sent = watching
        if not pending and not force and not self.clock_dirty and watching == self.viewers_sent \
                and not (self.pacer.playing and wall_s - self.last_frame_s >= IDLE_FRAME_S):
            return
        if watching == 0 and self.viewers_sent == 0 and not force \
                and not self.uncounted_viewers:
            # Nobody sees frames: serialising them would be most of the cost of a room fed by
            # real clients with no page open. Whoever comes next starts from a snapshot, which
            # covers these events.
            # The cluster's seq, not the last pending event's: folded events have numbers too.
            self.sent_seq = self.cluster.seq
            self.pending = []
            self.pending_folded = False
            self.clock_dirty = False
            self.last_frame_s = wall_s
            return
        self._drop_folded()
        pending = self.pending
        # One pass over what may be 20,000 events: did the retention budget bite, did topics
        # or groups change (then the frame says the delivery topics again)?
        bit = topology = False
        for e in pending:
            kind = e["type"]
            if kind == "record.expired":
                bit = bit or e.get("reason") in BUDGET_REASONS
            elif kind in DELIVERY_TOPOLOGY:
                topology = True
        self.pending = []
        from_seq = self.sent_seq + 1
        # Every frame carries the room's shared state, not only snapshots, so every page
        # follows the presenter's narration step and sees how many watch within a tick; and
        # the scenario's figures that this frame's events changed (numbers and new points).
        fields = {"narration_step": self.narration_step, "viewers": watching}
        figures = self.moments.figures.changes(from_seq)
        if figures is not None:
            fields["figures"] = figures
        # Which topics are dead-letter and retry topics changes only with topics and groups:
        # then the frame says them all (a few names), so a page never guesses from a name.
        if topology:
            fields["delivery_topics"] = self.cluster.delivery_topics()
        text, to_seq, _ = build_frame(pending, from_seq, self.clock_state(), self.wall_ms(),
                                      room=fields)
        self.sent_seq = to_seq
        self.viewers_sent = watching
        self.last_frame_s = wall_s
        self.clock_dirty = False
        self.frames_sent += 1
        # from_seq lets a viewer's consumer tell a frame its snapshot covers (it starts at or
        # before the snapshot's seq) from a clock-only frame after it (to_seq = from_seq - 1).
        await self._send({"type": "room.frame", "from_seq": from_seq, "to_seq": to_seq,
                          "epoch": self.epoch, "text": text})
        if bit and wall_s - self.budget_noticed_s >= BUDGET_NOTICE_EVERY_S:
            self.budget_noticed_s = wall_s
            mib = self.records_max * BYTES_PER_RECORD_BUDGET / 1024 / 1024
            await self.notice("warning", f"This room keeps at most {self.records_max:,} "
                              f"records and {mib:,.1f} MiB of them; the oldest are being "
                              "deleted (like retention.bytes).")

    # -- messages from viewers ------------------------------------------------------------------

    def set_realtime(self, reason: str | None) -> None:
        """Run at 1x, playing, refusing pause and speed changes with `reason` (real Kafka
        clients' timeouts run on the wall clock); None lifts it, the room playing on at 1x
        until a viewer changes that."""
        self.realtime = reason
        if reason is not None:
            wall_s = self.clock()
            self.advance(wall_s)  # up to now at the old speed: time never jumps
            self.goal = None
            self.pacer.set_speed(wall_s, 1.0)
            self.pacer.play(wall_s)
        self.clock_dirty = True

    def people_watching(self) -> int:
        """Viewers that are people: a process that keeps a room awake by attaching to it (the
        Kafka listener) is not counted on the page."""
        return sum(1 for v in self.viewers if not v.startswith(PROCESS_VIEWER_PREFIX))

    def may_control(self, actor: dict) -> bool:
        """Whether `actor` (``{"viewer", "session"?, ...}``) may change the room: its presenter
        always, anyone else while the presenter keeps it open."""
        return self.open or self.is_presenter(actor)

    async def handle(self, message, actor: dict) -> dict:
        """Answer one decoded client message: ``{"text": reply, "snapshot_seq": S or None}``.

        Never raises for bad input: a refusal is an ``error`` reply and changes nothing.
        """
        self.last_active_s = self.clock()
        try:
            msg = messages.parse(message)
            if msg["type"] == "resync":
                text, seq = await self.snapshot_text()
                return {"text": text, "snapshot_seq": seq, "epoch": self.epoch,
                        "then": [dumps(self.you(actor))]}
            if msg["type"] in ("command", "narrate") and self.script is not None:
                raise ProtocolError("type", REPLAY_ONLY, msg["request_id"])
            if msg["type"] in ("share", "fork"):
                # The registry's business (it owns the store and the other rooms).
                raise ProtocolError("type", f"{msg['type']} goes through the registry",
                                    msg["request_id"])
            if not self.may_control(actor) or (msg["type"] == "room"
                                               and not self.is_presenter(actor)):
                raise ProtocolError("type", PRESENTER_ONLY, msg["request_id"])
            if msg["type"] == "command":
                self._command(msg)
            elif msg["type"] == "narrate":
                await self._narrate(msg)
            elif msg["type"] == "room":
                await self._open(msg["action"] == "open")
            elif msg["action"] == "seek":
                await self._seek(msg)
            else:
                self._control(msg)
        except ProtocolError as e:
            return {"text": dumps(e.reply()), "snapshot_seq": None}
        except Exception as e:
            # A model bug, not bad input: the sender hears of it, the room and socket go on.
            log.exception("room %s: handling %r failed", self.id, message)
            request_id = message.get("request_id") if isinstance(message, dict) else None
            error = ProtocolError("command", f"the model failed on this message "
                                  f"({type(e).__name__}); this is a bug, and the room goes on",
                                  request_id if isinstance(request_id, str) else None)
            return {"text": dumps(error.reply()), "snapshot_seq": None}
        return {"text": dumps({"type": "ack", "request_id": msg["request_id"],
                                "seq": self.cluster.seq}),
                "snapshot_seq": None, "persist": True}

    async def _open(self, open_: bool) -> None:
        if self.open == open_:
            return
        self.open = open_
        # One group message, like a frame: never one send per viewer.
        await self._send({"type": "room.state", "epoch": self.epoch,
                          "text": dumps({"type": "room", "open": open_})})

    async def _seek(self, msg: dict) -> None:
        if self.script is None:
            raise ProtocolError("action", "seek works only in a replay: share this room and "
                                "open its link to scrub through it", msg["request_id"])
        limit = self.script["end_ms"] + messages.MAX_STEP_MS
        if msg["to_ms"] > limit:
            raise ProtocolError("to_ms", f"must be at most {limit} (a week past the end)",
                                msg["request_id"])
        # Rebuilt off the loop; ticks go on with the old cluster meanwhile and are discarded.
        self.seeks += 1
        mine = self.seeks
        cluster, moments, pos = await asyncio.to_thread(self._build_at, msg["to_ms"])
        if mine != self.seeks:
            # A later seek was asked for while this one was built (a far one takes longer
            # than a near one): the last one asked for is where the room goes, whichever
            # build ends last.
            return
        self.script_pos = pos
        await self._swap(cluster, moments)

    async def _swap(self, cluster, moments, pause: bool = False) -> None:
        """Put a rebuilt cluster in place (seek, rewind): a new epoch, and a snapshot for all."""
        self.cluster, self.moments = cluster, moments
        self.pending = []
        self.pending_folded = False
        self.folding.take()  # counts of the cluster it replaces
        self.goal = None
        self.behind = False
        self.epoch += 1
        self.sent_seq = cluster.seq
        self.log_bytes = sum(len(ascii_dumps(e["command"])) for e in cluster.command_log)
        self.command_texts.clear()  # by index into the old log: the store encodes them itself
        self.pacer.rebase(self.clock(), cluster.now_ms)
        if pause:
            self.pacer.pause(self.clock())
        self.clock_dirty = True
        text, seq = self._snapshot_message()
        await self._send({"type": "room.snapshot", "epoch": self.epoch, "seq": seq,
                          "text": text})

    # -- observers in this process (the Kafka wire listener) ------------------------------------

    def add_listener(self, fn, counts: bool = False) -> None:
        """Call ``fn(events)`` with every batch of new model events (after each command and
        each advance), in order. ``fn`` runs inside the room's step: it must not block.
        `counts`: ``fn`` is content with per-record events folded into per-partition counts
        (broker_core.events.Folding's aggregates) while nobody watches; otherwise the room
        keeps every event whole while it listens."""
        self.listeners.append(fn)
        if not counts:
            self.whole_listeners.add(fn)

    def remove_listener(self, fn) -> None:
        if fn in self.listeners:
            self.listeners.remove(fn)
        self.whole_listeners.discard(fn)

    def _pick_sink(self) -> None:
        """Per-record events as dicts only while something reads them one by one: a scenario's
        figures, a narration step waiting for one, a listener that wants them whole, or a
        person at a page while the next frame has room for them. Otherwise the model folds
        them into counts (broker_core.events.Folding) and the listeners get the counts: in a
        room fed by real clients with nobody watching, a dict a record and each loop over it
        was a fifth of the Kafka listener's time; in a busy watched room, a frame already full
        would only fold them again (frames.build_frame). Whoever comes to watch starts from a
        snapshot, which the counts do not change."""
        unwatched = (self.viewers_sent == 0 and not self.uncounted_viewers
                     and self.people_watching() == 0)
        if not unwatched:
            self._drop_folded()
        fold = (not self.whole_listeners and not self.moments.wants_records()
                and (unwatched or len(self.pending) >= MAX_FRAME_EVENTS))
        self.folding_unwatched = fold and unwatched
        cluster = self.cluster
        if fold != (cluster.out is self.folding):
            cluster.use_sink(self.folding if fold else None)

    def _drop_folded(self) -> None:
        """What was folded while nobody watched is dropped, as frames nobody sees are (flush):
        whoever watches now was sent, or is about to be sent, a snapshot that covers it."""
        if self.pending_folded:
            self.pending_folded = False
            self.pending = []
            self.sent_seq = self.cluster.seq

    def _emit(self, events: list[dict]) -> None:
        if self.folding.aggregates:
            events = events + self.folding.take()
            if self.folding_unwatched:
                self.pending_folded = True
        self.pending += events
        if not events:
            return
        self.moments.observe(events)
        for fn in list(self.listeners):
            try:
                fn(events)
            except Exception:
                # An observer's bug must not cost the room its events or its viewers theirs.
                log.exception("room %s: listener %r failed", self.id, fn)

    def apply(self, command: dict) -> list[dict]:
        """Apply one command as a viewer's would be (logged, paced, size-checked) and return
        the events it caused. Raises CommandError, changing nothing. The caller stores it
        (`await Rooms.persist(room_id)`) before acknowledging it."""
        return self._apply(command)[0]

    def request(self, command: dict, plain: bool = False) -> tuple[list[dict], dict | None]:
        """apply(), and the command's answer (broker_core Cluster.request): what the wire
        listener tells a real client. `plain`: the playground built the command itself from
        decoded bytes (no floats; see jsontext.plain_ascii_dumps), so its text is made faster."""
        return self._apply(command, plain)

    def _apply(self, command: dict, plain: bool = False) -> tuple[list[dict], dict | None]:
        if self.script is not None:
            raise CommandError("type", REPLAY_ONLY)
        # As stored: ASCII (a lone surrogate, which JSON allows, is escaped, not written).
        text = plain_ascii_dumps(command) if plain else ascii_dumps(command)
        size = len(text)
        if self.log_bytes + size > self.log_bytes_max:
            raise CommandError("command", "this room's recording is full "
                               f"({self.log_bytes_max:,} bytes of commands); share it or "
                               "open the scenario again to go on")
        # Catch up first: a command lands at the virtual time the viewers were shown.
        self.advance(self.clock())
        if self.quotas is not None:
            # The room's resource limits (partitions, topics, producer rates): a refusal
            # names the limit and its value, and changes nothing.
            self.quotas.check_command(self.cluster, command)
        # Raises CommandError, changing nothing; on success the cluster's command_log (only
        # what came from outside, never the scenario's own timeline) records it at at_ms.
        self._pick_sink()
        events, answer = self.cluster.request(command)
        self.log_bytes += size
        self.command_texts[len(self.cluster.command_log) - 1] = text
        self._emit(events)
        return events, answer

    def _command(self, msg: dict) -> None:
        kind = msg["command"].get("type") if isinstance(msg["command"], dict) else None
        if kind in WIRE_COMMANDS:
            # Only the wire listener speaks for real clients: a page that could send these
            # would forge members, commits and records in their name.
            raise ProtocolError("command.type", f"{kind} is what a real Kafka client sends "
                                "through the wire listener; the page cannot send it",
                                msg["request_id"])
        try:
            self._apply(msg["command"])
        except CommandError as e:
            field = "command" if e.field == "command" else f"command.{e.field}"
            raise ProtocolError(field, e.message, msg["request_id"]) from None

    async def _narrate(self, msg: dict) -> None:
        """Show step `msg["step"]` and take the room to its moment: forward as a visible jump
        that pauses there (or runs until the step's event happens), back by rebuilding the
        room at that moment, which loses nothing while nobody changed the room since."""
        steps = self.steps()
        index = msg["step"]
        if index >= len(steps):
            raise ProtocolError("step", f"this scenario has {len(steps)} narration steps "
                                f"(0 to {len(steps) - 1}), not {index}", msg["request_id"])
        step = steps[index] if isinstance(steps[index], dict) else {}
        commands = step.get("commands") or []
        for i, command in enumerate(commands):
            try:
                self._apply(command)
            except CommandError as e:
                # Earlier commands of the step stay applied (and logged): they happened.
                raise ProtocolError(f"step.commands[{i}].{e.field}", e.message,
                                    msg["request_id"]) from None
        self.narration_step = index
        self.clock_dirty = True
        if not has_moment(step) or self.realtime is not None:
            # A step about whatever is on the screen; or real clients attached, whose
            # timeouts run on the wall clock: the clock cannot be moved for a story.
            return
        wall_s = self.clock()
        if self.goal is not None:
            self._end_goal(wall_s, self.cluster.now_ms)  # this step takes over
        self.advance(wall_s)  # catch up: "now" is what the viewers see
        now = self.cluster.now_ms
        moment = self.moments.moment(steps, index)
        if moment is None:
            # Its event has not happened yet: run until it does (from `at`, if later).
            scenario = getattr(self.cluster, "scenario", None) or {}
            duration = scenario.get("duration_ms")
            end = max(duration or 0, now) + self.narration_search_ms
            self._go(wall_s, end, index, predicate(step))
        elif moment > now:
            self._go(wall_s, moment, index, None)
        elif moment < now:
            await self._rewind(index, moment, msg["request_id"])
        else:
            self.pacer.pause(wall_s)

    def _go(self, wall_s: float, goal_ms: int, index: int, until) -> None:
        self.pacer.pause(wall_s)
        self.goal = Goal(goal_ms, self.cluster.now_ms, index, until)
        self.advance(wall_s)

    async def _rewind(self, index: int, to_ms: int, request_id) -> None:
        later = [e for e in self.cluster.command_log if e["at_ms"] > to_ms]
        if later:
            # Going back would undo what someone did after that moment: the step shows, the
            # clock stays, and the room says why.
            changed_s = later[0]["at_ms"] / 1000
            await self.notice("info", f"Step {index + 1} happens at {to_ms / 1000:,.1f} s, "
                              f"before changes made in this room at {changed_s:,.1f} s, so "
                              "the clock stays where it is. Open the scenario again to start "
                              "the story afresh.")
            return
        commands = len(self.cluster.command_log)
        self.seeks += 1
        mine = self.seeks
        cluster, moments = await asyncio.to_thread(self._build_live_at, to_ms)
        if mine != self.seeks or len(self.cluster.command_log) != commands:
            # Another rewind, or a command that landed while this one was built, wins.
            return
        await self._swap(cluster, moments, pause=True)

    def _control(self, msg: dict) -> None:
        wall_s = self.clock()
        action = msg["action"]
        pacer = self.pacer
        if self.realtime is not None and action in ("pause", "speed", "step", "jump"):
            raise ProtocolError("action", self.realtime, msg["request_id"])
        goal = self.goal
        if goal is not None and (action in ("pause", "step") or goal.step is not None
                                 and action == "jump"):
            # Stopping wins over a step or jump still under way (the progress bar's Cancel is
            # a pause): the room stays where it got to, and the clock goes on from there. A
            # jump takes over a narration step from there too.
            self._end_goal(wall_s, self.cluster.now_ms)
        # Catch up to "now" first; a room that fell behind was re-based where it got to, so
        # every change below starts from the time the viewers are looking at.
        self.advance(wall_s)
        if action == "play":
            pacer.play(wall_s)
        elif action == "pause":
            pacer.pause(wall_s)
        elif action == "speed":
            pacer.set_speed(wall_s, msg["speed"])
        elif action == "step":
            pacer.pause(wall_s)
            if msg["ms"] is None:
                # Nothing is ever left due at `now` between calls, so this is strictly later.
                # In a replay the next scripted instant counts as something due.
                due = [t for t in (self.cluster.next_due_ms(), self._next_script_ms())
                       if t is not None]
                self.goal_ms = min(due) if due else None
            else:
                self.goal_ms = self.cluster.now_ms + msg["ms"]
        elif action == "jump":
            if self.goal is not None:
                self.goal.to_ms += msg["ms"]  # a jump during a jump goes on further
            else:
                self.goal = Goal(max(self.cluster.now_ms, pacer.virtual_at(wall_s)) + msg["ms"],
                                 self.cluster.now_ms)
        if self.goal is not None:
            self.advance(wall_s)
        self.clock_dirty = True
