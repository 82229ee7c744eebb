"""The facade: a Kafka cluster as a deterministic discrete-event model.

Commands (JSON-able dicts) go in through `Cluster.apply`; virtual time goes in through
`Cluster.advance`; events (JSON-able dicts with ``seq``, ``t_ms`` and a dotted ``type``) come
out of both. Every command is validated completely before anything changes, so a
`CommandError` leaves the cluster exactly as it was. Nothing here reads a wall clock, touches
I/O or uses the global `random`: every random choice comes from a `random.Random` derived from
the cluster's seed and the name of what is choosing, so the same seed and the same commands at
the same virtual times give the same events, byte for byte, in any process.

What this part models: brokers registered in ZooKeeper with a controller; topics and their
configs; replica placement; partition logs with dense offsets, log start, log end and high
watermark; followers copying from the leader in virtual time; retention; Kafka's partitioner;
producers (single records and steady workloads) with acks 0, 1 and all; consumer groups with
the classic coordinator and the four assignors; consumption and offset commits. See
docs/ARCHITECTURE.md for the map.

This module holds the state, the facade (`apply`, `request`, `advance`, `snapshot`), events, the
clock and the seeded random streams, the brokers' start and the table of command handlers. The
commands themselves are functions of the cluster in one module per family, each exporting its
`HANDLERS`: topics.py (topics, retention, retry and dead-letter topics), producing.py
(`produce`, workloads, the producer's retries), consuming.py (modelled consumer groups),
replication.py (brokers, the controller, followers), clients.py and classic.py (real clients).
"""

import copy
import random

from . import classic, clients, consuming, producing, replication, topics
from . import events as ev
from . import validate as v
from .clients import Records
from .clock import Clock
from .errors import CommandError
from .group import Group
from .partitioner import StickyPartitioner
from .producer import ProducerWorkload
from .topic import Topic

MAX_BROKERS = 16
# advance(sink=...) hands its events over in lists of about this many (whole instants).
STREAM_EVENTS = 10_000

CLUSTER_DEFAULTS = {
    "group.initial.rebalance.delay.ms": 3_000,
    "log.retention.check.interval.ms": 300_000,
    "replica.fetch.interval.ms": 500,
    # How long a fetch's answer takes to reach a follower (network and disk); 0 = at once.
    "replica.fetch.delay.ms": 0,
    "replica.lag.time.max.ms": 30_000,
    "zookeeper.session.timeout.ms": 18_000,
    "leader.imbalance.check.interval.seconds": 300,
    "leader.imbalance.per.broker.percentage": 10,
    # The producer's side (Kafka's producer defaults since 3.7: exponential back-off, KIP-580)
    "retry.backoff.ms": 100,
    "retry.backoff.max.ms": 1_000,
    "delivery.timeout.ms": 120_000,
    # Not a Kafka setting: a playground room's budget of retained records across all its
    # partitions (0 = none). Over it, the oldest records go, as retention.bytes would drop them.
    "retained.records.max": 0,
    # Likewise the bytes those records may hold (Kafka's record sizes, as retention.bytes counts
    # them; 0 = none): a few huge records must not hold what a budget of records would not.
    "retained.bytes.max": 0,
    # Topic auto-creation, with Kafka's broker defaults: a Metadata request naming an unknown
    # topic creates it (real clients' producers do this; see clients.py).
    "auto.create.topics.enable": True,
    "num.partitions": 1,
    "default.replication.factor": 1,
}
_BOOLEAN = {"auto.create.topics.enable"}
_MAY_BE_ZERO = {"replica.fetch.delay.ms", "leader.imbalance.per.broker.percentage",
                "retained.records.max", "retained.bytes.max"}

COMMAND_TYPES = {
    "topic.create": "Create a topic: name, partitions, replication_factor, config.",
    "topic.delete": "Delete a topic and its records.",
    "topic.alter_config": "Change topic configs (null resets one to its default).",
    "topic.add_partitions": "Grow a topic to a new partition count (keys may move).",
    "records.delete": "Delete a partition's records before an offset (Kafka's DeleteRecords): "
                      "topic, partition, offset (-1: the high watermark).",
    "produce": "Send one record: topic, value, key, headers, partition, acks, producer.",
    "producer.add": "Start a producer workload: id, topic, rate_per_s, keys, acks, value.",
    "producer.remove": "Stop a producer workload.",
    "consumer.add": "Add a consumer to a group: group, id, topics, processing_ms, commit, "
                    "failure_rate, fail_keys, hangs, emits.",
    "consumer.hang": "A consumer's code stops returning (hangs: true) or recovers (false).",
    "consumer.remove": "A consumer leaves its group politely (its partitions move at once).",
    "consumer.crash": "A consumer dies silently (found when its session times out).",
    "group.configure": "Set a group's assignor, session timeout and delivery policy.",
    "group.reset_offsets": "Move an inactive group's offsets: earliest, latest or an offset.",
    "group.delete": "Delete an Empty group and its offsets.",
    "group.delete_offsets": "Forget a group's committed offsets for some partitions (Kafka's "
                            "OffsetDelete): group, topic, partitions.",
    "dead_letter.replay": "Republish a dead-letter topic's records to their original topics.",
    "broker.stop": "Stop a broker: mode clean (controlled shutdown) or crash (noticed when its "
                   "ZooKeeper session expires).",
    "broker.start": "Start a stopped broker: it truncates, catches up and rejoins the ISR.",
    "broker.configure": "Slow a broker's follower fetches: replica_fetch_delay_ms.",
    "leader.elect_preferred": "Give leaderships back to preferred replicas (topic, partition "
                              "optional).",
    "produce.records": "A real client's batch for one partition (Kafka wire Produce): topic, "
                       "partition, acks, client, records [[key, value, headers], ...], "
                       "producer_id, producer_epoch, base_sequence.",
    "producer.init_id": "A real client asks for a producer id (Kafka wire InitProducerId).",
    **classic.CLIENT_COMMANDS,
}

# What real Kafka clients send through the wire listener (playground/kafka/). The model takes
# them from anyone; a host decides who may send them (the room page may not impersonate a client).
WIRE_COMMANDS = frozenset({"produce.records", "producer.init_id", *classic.CLIENT_COMMANDS})

# Every family's table, in the order their commands are listed above: command type ->
# handler(cluster, command), merged into one when a cluster is built (Cluster._handlers).
HANDLER_TABLES = (topics.HANDLERS, producing.HANDLERS, consuming.HANDLERS, replication.HANDLERS,
                  clients.HANDLERS, classic.HANDLERS)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _copy_command(value):
    """A copy of a command as JSON would make it (dicts and lists copied all the way down,
    everything else shared: strings and numbers are immutable, and so is a client's batch,
    clients.Records). copy.deepcopy did the same at four times the cost, a quarter of a
    one-record produce command (bench/core_throughput.py); a command is mostly flat, so its
    scalars are copied with the dict, not one by one."""
    kind = type(value)
    if kind in _SCALARS or kind is Records:
        return value
    if kind is dict:
        out = value.copy()
        for k, item in value.items():
            if type(item) not in _SCALARS:
                out[k] = _copy_command(item)
        return out
    if kind is list:
        return [item if type(item) in _SCALARS else _copy_command(item) for item in value]
    if kind is tuple:
        return tuple(_copy_command(item) for item in value)
    if isinstance(value, dict):
        return {k: _copy_command(item) for k, item in value.items()}
    return copy.deepcopy(value)  # nothing else is valid in a command; copied all the same


def _derive_rng(seed, purpose: str) -> random.Random:
    # Seeding with a string hashes it with SHA-512 inside `random`: stable across processes,
    # unlike hash(), so every subsystem gets its own reproducible stream.
    # The seed's type is part of the string, so seed 1 and seed "1" are different runs.
    return random.Random(f"{type(seed).__name__}:{seed}/{purpose}")


class Cluster:
    def __init__(self, seed: int = 0, brokers: int = 3, config: dict | None = None,
                 scenario: dict | None = None):
        """`scenario`: the validated scenario document this cluster runs (scenario.py's
        build_cluster passes it and puts its timeline on the clock), kept with its narration
        steps; None for a cluster built by hand."""
        if isinstance(seed, bool) or not isinstance(seed, (int, str)):
            raise CommandError("seed", "must be a whole number or a string")
        if isinstance(brokers, bool) or not isinstance(brokers, int):
            raise CommandError("brokers", "must be a whole number")
        if not 1 <= brokers <= MAX_BROKERS:
            raise CommandError("brokers", f"must be between 1 and {MAX_BROKERS}, not {brokers}")
        self.seed = seed
        self.config = dict(CLUSTER_DEFAULTS)
        for name, value in (config or {}).items():
            if name not in CLUSTER_DEFAULTS:
                raise CommandError(f"config.{name}", "not a broker setting the playground "
                                   f"models; known: {', '.join(CLUSTER_DEFAULTS)}")
            if name in _BOOLEAN:
                if isinstance(value, str) and value.lower() in ("true", "false"):
                    value = value.lower() == "true"
                if not isinstance(value, bool):
                    raise CommandError(f"config.{name}", f"must be true or false, not {value!r}")
                self.config[name] = value
                continue
            self.config[name] = v.integer({name: value}, name,
                                          minimum=0 if name in _MAY_BE_ZERO else 1,
                                          maximum=86_400_000, field=f"config.{name}")
        self.scenario = scenario
        self.steps = copy.deepcopy(scenario["steps"]) if scenario else []
        self.clock = Clock()
        self.events: list[dict] = []
        # Where per-record events go (events.py): dicts into self.events, or a host's sink.
        self.out = ev.Events(self.events)
        self.seq = 0
        self.stint_seq = 0
        self.topics: dict[str, Topic] = {}
        self.groups: dict[str, Group] = {}
        self.producers: dict[str, ProducerWorkload] = {}
        self.command_log: list[dict] = []
        self.brokers = {b: {"id": b, "up": True, "registered": True,
                            "replica_fetch_delay_ms": None, "stopped": None}
                        for b in range(1, brokers + 1)}
        self.zk: dict[str, object] = {}
        self.controller: int | None = None
        self.controller_epoch = 0
        self.controller_rng = _derive_rng(seed, "controller")
        self.session_timers: dict = {}
        self.preferred_timer = None
        # (producer, topic, partition, acks) -> producing's retry batch: records waiting to be
        # sent again
        self.retrying: dict = {}
        # (topic, partition, offset) -> AckWaiter: a consumer waiting for what it sent
        self.ack_waiters: dict = {}
        self.topic_ids = 0  # the last topic id given out
        # Real clients (clients.py): (producer id, topic, partition) -> the producer's last
        # batches there, and the next producer id InitProducerId gives out.
        self.producer_sequences: dict = {}
        self.next_producer_id = 0
        self.placement_rng = _derive_rng(seed, "placement")
        # producer id -> its sticky partitioner (records without a key)
        self.sticky_partitioners: dict[str, StickyPartitioner] = {}
        # Real clients' member ids (<client.id>-<uuid>), drawn in command order.
        self.member_ids = _derive_rng(seed, "client-member-ids")
        self._command_handlers = self._handlers()
        self._start_brokers()


    # -- the facade ---------------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        return self.clock.now_ms

    def apply(self, command: dict) -> list[dict]:
        """Validate and carry out one command; return the events it caused at this instant.

        An invalid command raises CommandError before anything changes.
        """
        return self.request(command)[0]

    def request(self, command: dict) -> tuple[list[dict], dict | None]:
        """apply(), and the answer a client would get back: the offsets written or Kafka's
        error for a produce, the id and epoch InitProducerId gives, the member id a join was
        given, ... (each handler's docstring says; None for a command that answers nothing
        beyond its events). Answers are not logged: a replay applies the same commands and
        makes the same events. What comes later (an acks=all acknowledgement, the end of a
        join barrier) is not in the answer: it comes as events."""
        # The usual command, a dict with a known type, finds its handler here; anything else
        # goes through _handler, which says what is wrong.
        kind = command.get("type") if type(command) is dict else None
        handler = self._command_handlers.get(kind) if type(kind) is str else None
        if handler is None:
            handler = self._handler(command)
        answer = handler(self, command)
        # A copy: the caller may reuse its dict, and the log must replay what was applied.
        self.command_log.append({"at_ms": self.clock.now_ms, "command": _copy_command(command)})
        # What the command sets off at this same instant happens now, inside this call. No
        # action is ever left due at `now` between calls, so the events depend only on the
        # commands and their times, never on how the caller sliced its advance() calls.
        self.clock.run_until(self.clock.now_ms)
        return self._take_events(), answer

    def _handler(self, command):
        """The handler of a command's type; CommandError for anything else."""
        if not isinstance(command, dict):
            raise CommandError("command", "must be an object with a 'type'")
        kind = command.get("type")
        handler = self._command_handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            known = ", ".join(COMMAND_TYPES)
            raise CommandError("type", f"unknown command type {kind!r}; known: {known}")
        return handler

    def run_timeline_command(self, command: dict) -> None:
        """A scenario's own timeline command, due now: carried out as apply() would, but not
        logged (the command log holds only what came from outside, so a replay is the
        scenario and its log), and a refusal becomes a `command.rejected` event instead of an
        error: a scenario's later command may meet a cluster its earlier ones changed."""
        try:
            # A copy: a handler may keep parts of it (a config), never the scenario's own.
            self._handler(command)(self, _copy_command(command))
        except CommandError as err:
            ev.command_rejected(self, at_ms=self.now_ms, command=command,
                                field=err.field, message=err.message, source="timeline")

    def advance(self, ms: int, sink=None) -> list[dict]:
        """Run virtual time forward `ms` milliseconds; return what happened, in order.

        With `sink` (a callable), the events go to it instead, in order, a list of about
        STREAM_EVENTS at a time (whole instants) as the clock runs, and the call returns []:
        a long busy advance (a day of a steady producer is millions of events) then holds one
        list of them at a time, never all of them. The run is the same either way."""
        if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
            raise CommandError("ms", f"must be a whole number of milliseconds >= 0, not {ms!r}")
        target = self.clock.now_ms + ms
        if sink is None:
            self.clock.run_until(target)
            return self._take_events()

        def full() -> bool:
            return len(self.events) >= STREAM_EVENTS

        while True:
            if self.events:
                sink(self._take_events())
            if self.clock.run_until(target, full):
                break
        if self.events:
            sink(self._take_events())
        return []

    def advance_to(self, t_ms: int, max_events: int | None = None, until=None) -> list[dict]:
        """Run virtual time forward to `t_ms`. With `max_events`, stop early at the end of the
        first instant by which that many events happened (`now_ms` says where): a host that
        must bound its work calls again from there, and the run is the same as one call.
        With `until` (a predicate on one event), stop at the end of the first instant that had
        a matching event: a narration step "when broker 1 has stopped" runs to that moment."""
        if isinstance(t_ms, bool) or not isinstance(t_ms, int) or t_ms < self.clock.now_ms:
            raise CommandError("t_ms", f"must be a whole number >= now ({self.clock.now_ms})")
        if max_events is None and until is None:
            return self.advance(t_ms - self.clock.now_ms)
        if max_events is not None and (isinstance(max_events, bool)
                                       or not isinstance(max_events, int) or max_events < 1):
            raise CommandError("max_events", f"must be a whole number >= 1, not {max_events!r}")
        seen = 0  # events already looked at by `until`
        found = False
        # Events already pending (a construction's) count too, and so do those a sink folded
        # (they cost the same model time): the bound is on events made, counted by seq.
        base = len(self.events) - self.seq

        def stop() -> bool:
            nonlocal seen, found
            events = self.events
            if until is not None and not found:
                found = any(until(e) for e in events[seen:])
                seen = len(events)
            return found or (max_events is not None and base + self.seq >= max_events)

        self.clock.run_until(t_ms, stop)
        return self._take_events()

    def next_due_ms(self) -> int | None:
        """When something will next happen on its own, or None if the cluster is quiet."""
        return self.clock.next_due()

    def step(self) -> list[dict]:
        """Run to the next instant at which anything is due (the UI's "step")."""
        due = self.clock.next_due()
        if due is None:
            return self._take_events()
        return self.advance(due - self.clock.now_ms)

    def snapshot(self) -> dict:
        return {
            "now_ms": self.clock.now_ms,
            "seed": self.seed,
            "seq": self.seq,
            "controller": self.controller,
            "controller_epoch": self.controller_epoch,
            "brokers": [dict(self.brokers[b], controller=b == self.controller)
                        for b in sorted(self.brokers)],
            "zookeeper": {path: self.zk[path] for path in sorted(self.zk)},
            "topics": {name: self.topics[name].state() for name in sorted(self.topics)},
            "groups": {gid: self.groups[gid].snapshot() for gid in sorted(self.groups)},
            "producers": {pid: self.producers[pid].state() for pid in sorted(self.producers)},
            "delivery_topics": topics.delivery_topics(self),
        }

    # -- events -------------------------------------------------------------------------------

    def event(self, kind: str, /, **fields) -> dict:
        # Positional-only: an event may itself have a field named `kind` (record.timed_out).
        self.seq += 1
        event = {"seq": self.seq, "t_ms": self.clock.now_ms, "type": kind}
        event.update(fields)
        self.events.append(event)
        return event

    def next_seq(self) -> int:
        """The next event's number, for a per-record event sent to `out` off the hot paths
        (which count their own)."""
        self.seq += 1
        return self.seq

    def use_sink(self, sink) -> None:
        """Send the per-record events (events.BULK) to `sink`, an `events.Folding` say, or
        with None back to the contract's dicts. Structural events stay dicts in
        `self.events`, and the seq numbers are the same either way."""
        self.out = sink if sink is not None else ev.Events(self.events)
        self.out.append = self.events.append

    def _take_events(self) -> list[dict]:
        out = self.events
        self.events = []
        self.out.append = self.events.append
        return out

    def rng(self, purpose: str) -> random.Random:
        return _derive_rng(self.seed, purpose)

    # -- brokers and ZooKeeper ----------------------------------------------------------------

    def zk_set(self, path: str, value, ephemeral_owner: int | None = None) -> None:
        created = path not in self.zk
        self.zk[path] = value
        fields = {"path": path, "value": value}
        if ephemeral_owner is not None:
            fields["ephemeral_owner"] = ephemeral_owner
        (ev.zk_node_created if created else ev.zk_node_changed)(self, **fields)

    def zk_delete(self, path: str) -> None:
        if self.zk.pop(path, None) is not None:
            ev.zk_node_deleted(self, path=path)

    def _start_brokers(self) -> None:
        # Brokers register in id order, so broker 1 creates /controller first and wins.
        for b in sorted(self.brokers):
            ev.broker_started(self, broker=b)
            self.zk_set(f"/brokers/ids/{b}", {"host": f"broker-{b}", "port": 9091 + b},
                         ephemeral_owner=b)
        self.controller = min(self.brokers)
        self.controller_epoch = 1
        self.zk_set("/controller", {"brokerid": self.controller}, ephemeral_owner=self.controller)
        self.zk_set("/controller_epoch", self.controller_epoch)
        ev.controller_elected(self, broker=self.controller, epoch=self.controller_epoch)

    def live_brokers(self) -> list[int]:
        return [b for b in sorted(self.brokers) if self.brokers[b]["up"]]

    # -- commands -----------------------------------------------------------------------------

    def _handlers(self) -> dict:
        """Command type -> its family's handler(cluster, command). Called with the cluster
        rather than bound to it (functools.partial): a C-level partial runs its function in
        a new interpreter frame, where a Python call to it is cheaper (a one-record produce
        pays it)."""
        return {kind: handler for table in HANDLER_TABLES for kind, handler in table.items()}

    # -- called through the cluster -----------------------------------------------------------
    #
    # replication.py sits below topics.py and producing.py (both import it), so what it asks of
    # them goes through the cluster: a leader change or an ISR too small for an acks=all write
    # hands the waiting records back to their producers (requeue_pending, retry_entries), and
    # `leader.elect_preferred` reads its topic (existing_topic).

    def existing_topic(self, command: dict, field: str = "name") -> Topic:
        """topics.existing_topic: the topic a command names in `field`, or CommandError."""
        return topics.existing_topic(self, command, field)

    def requeue_pending(self, part, error: str) -> None:
        """producing.requeue_pending: the leader changed under records awaiting acks=all."""
        producing.requeue_pending(self, part, error)

    def retry_entries(self, part, entries: list, error: str) -> None:
        """producing.retry_entries: records written but not acknowledged go back to their
        producers."""
        producing.retry_entries(self, part, entries, error)

    # Likewise for the modules below producing.py and topics.py: group.py (a consumer's
    # pipeline outputs and forwards produce; retry and dead-letter topics appear on first use)
    # and clients.py (a real client's batch), which topics.py imports in turn. And the host's
    # view of which topics are retry and dead-letter topics (delivery_topics).

    def produce(self, *args, **kwargs) -> producing.Sent:
        """producing.produce (group.py: a consumer's pipeline outputs and forwards)."""
        return producing.produce(self, *args, **kwargs)

    def append_batch(self, *args) -> int:
        """producing.append_batch (clients.py: a real client's batch)."""
        return producing.append_batch(self, *args)

    def unavailable(self, part, size: int, acks: str) -> tuple[str, str] | None:
        """producing.unavailable (clients.py)."""
        return producing.unavailable(self, part, size, acks)

    def delivery_topic(self, name: str, source: Topic):
        """topics.delivery_topic (group.py: a retry or dead-letter topic on first use)."""
        return topics.delivery_topic(self, name, source)

    def delivery_topics(self) -> dict:
        """topics.delivery_topics (playground/rooms/room.py)."""
        return topics.delivery_topics(self)


__all__ = ["COMMAND_TYPES", "Cluster", "CommandError"]
