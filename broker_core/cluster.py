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
"""

import copy
import heapq
import random
from bisect import insort
from functools import partial
from typing import NamedTuple

from . import classic, clients, replication
from . import validate as v
from .assignors import ASSIGNORS
from .clients import Records, client_name
from .clock import Clock, next_tick
from .config import (
    TOPIC_CONFIGS,
    collision_key,
    default_config,
    validate_config,
    validate_topic_name,
)
from .delivery import CONFIG_FIELDS as DELIVERY_FIELDS
from .delivery import (
    DLT_HEADERS,
    H_PARTITION,
    H_TOPIC,
    MAX_SOURCE_NAME,
    dead_letter_topic_name,
    header_int,
    parse_behaviour,
    read_config,
    retry_topic_name,
    retry_topics,
)
from .errors import CommandError
from .group import GROUP_DEFAULTS, Group, Member
from .log import ACKS_CODE, header_map, header_pairs, record_size
from .partitioner import StickyPartitioner, key_hash
from .producer import MAX_RATE_PER_S, MIN_RATE_PER_S, ProducerWorkload, parse_keys
from .topic import Topic, assign_replicas

MAX_BROKERS = 16
MAX_PARTITIONS = 1_000
# advance(sink=...) hands its events over in lists of about this many (whole instants).
STREAM_EVENTS = 10_000
_HASH_MEMO_LIMIT = 65_536  # murmur2 results a workload with repeating keys remembers

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
UNLIMITED_RETRIES = 2_147_483_647  # Kafka's default `retries`: delivery.timeout.ms decides
RETRIABLE = {"NOT_ENOUGH_REPLICAS", "NOT_ENOUGH_REPLICAS_AFTER_APPEND", "LEADER_NOT_AVAILABLE",
             "NOT_LEADER_OR_FOLLOWER", "NETWORK_EXCEPTION"}

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


def _delivery(c: dict, acks: str) -> tuple[bool, int]:
    """A producer's enable.idempotence and retries, with Kafka's rules and defaults."""
    idempotent = c.get("idempotent")
    if idempotent is None:
        idempotent = acks == "all"
    elif not isinstance(idempotent, bool):
        raise CommandError("idempotent", "must be true or false")
    elif idempotent and acks != "all":
        raise CommandError("idempotent", "enable.idempotence needs acks=all (Kafka refuses "
                           f"the combination with acks={acks})")
    retries = v.integer(c, "retries", default=UNLIMITED_RETRIES, minimum=0,
                        maximum=UNLIMITED_RETRIES)
    if idempotent and retries == 0:
        raise CommandError("retries", "an idempotent producer needs retries > 0")
    return idempotent, retries


class Sent(NamedTuple):
    """What a send came to, for the sender: the offsets its records were written at (the
    first and the last written; None when none was), and the error of the last record that
    was not written (Kafka's code and a sentence), or None. A client's answer is read from
    here, never from the events."""
    first: int | None
    offset: int | None
    error: str | None = None
    message: str | None = None
    partition: int | None = None  # the last record's


def sent_answer(topic: str, sent: Sent) -> dict:
    """A produce's answer: {"topic", "partition", "base_offset", "last_offset"} for records
    written, else {"topic", "partition", "error", "message"} (Kafka's error code; "partition"
    None when the record never reached one), or {"queued": True}: waiting behind the same
    producer's records queued to be sent again."""
    partition = sent.partition
    if sent.offset is not None:
        return {"topic": topic, "partition": partition, "base_offset": sent.first,
                "last_offset": sent.offset}
    if sent.error is None:
        return {"topic": topic, "partition": partition, "queued": True}
    return {"topic": topic, "partition": partition, "error": sent.error,
            "message": sent.message}


class _RetryBatch:
    __slots__ = ("producer", "topic", "partition", "acks", "records", "attempt", "timer")

    def __init__(self, producer: str, topic: str, partition: int, acks: str):
        self.producer = producer
        self.acks = acks
        self.topic = topic
        self.partition = partition
        self.records: list = []
        self.attempt = 1
        self.timer = None


_SCALARS = frozenset({str, int, float, bool, type(None)})
_PRODUCE_FIELDS = frozenset({"type", "topic", "value", "key", "headers", "partition", "acks",
                             "producer", "idempotent", "retries"})


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
        # (producer, topic, partition, acks) -> _RetryBatch: records waiting to be sent again
        self.retrying: dict = {}
        # (topic, partition, offset) -> AckWaiter: a consumer waiting for what it sent
        self.ack_waiters: dict = {}
        self._topic_ids = 0
        # Real clients (clients.py): (producer id, topic, partition) -> the producer's last
        # batches there, and the next producer id InitProducerId gives out.
        self.producer_sequences: dict = {}
        self.next_producer_id = 0
        self._placement_rng = _derive_rng(seed, "placement")
        self._partitioners: dict[str, StickyPartitioner] = {}
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
        answer = self._handler(command)(command)
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
            self._handler(command)(_copy_command(command))
        except CommandError as err:
            self.event("command.rejected", at_ms=self.now_ms, command=command,
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

        def stop() -> bool:
            nonlocal seen, found
            events = self.events
            if until is not None and not found:
                found = any(until(e) for e in events[seen:])
                seen = len(events)
            # Events already pending (a construction's) count too: the bound is on what is held.
            return found or (max_events is not None and len(events) >= max_events)

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
            "delivery_topics": self.delivery_topics(),
        }

    def delivery_topics(self) -> dict:
        """Existing topics that a modelled group's delivery policy writes to: name ->
        {"kind": "dead_letter" | "retry", "source": the topic read, "groups": [...]}. A page
        draws them apart from the data flow from this, never from the name (a custom
        dead_letter_topic is called anything)."""
        out: dict[str, dict] = {}

        def note(name: str, kind: str, source: str, gid: str) -> None:
            if name not in self.topics:
                return
            row = out.setdefault(name, {"kind": kind, "source": source, "groups": []})
            if gid not in row["groups"]:
                row["groups"].append(gid)

        for gid in sorted(self.groups):
            group = self.groups[gid]
            if group.external:
                continue
            declared = sorted({t for m in group.members.values() for t in m.declared})
            for name in declared:
                note(dead_letter_topic_name(group.config, name), "dead_letter", name, gid)
            for name, (source, _) in sorted(retry_topics(group.config, declared).items()):
                note(name, "retry", source, gid)
        return out

    # -- events -------------------------------------------------------------------------------

    def event(self, kind: str, /, **fields) -> dict:
        # Positional-only: an event may itself have a field named `kind` (record.timed_out).
        self.seq += 1
        event = {"seq": self.seq, "t_ms": self.clock.now_ms, "type": kind}
        event.update(fields)
        self.events.append(event)
        return event

    def _take_events(self) -> list[dict]:
        out = self.events
        self.events = []
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
        self.event("zk.node_created" if created else "zk.node_changed", **fields)

    def zk_delete(self, path: str) -> None:
        if self.zk.pop(path, None) is not None:
            self.event("zk.node_deleted", path=path)

    def _start_brokers(self) -> None:
        # Brokers register in id order, so broker 1 creates /controller first and wins.
        for b in sorted(self.brokers):
            self.event("broker.started", broker=b)
            self.zk_set(f"/brokers/ids/{b}", {"host": f"broker-{b}", "port": 9091 + b},
                         ephemeral_owner=b)
        self.controller = min(self.brokers)
        self.controller_epoch = 1
        self.zk_set("/controller", {"brokerid": self.controller}, ephemeral_owner=self.controller)
        self.zk_set("/controller_epoch", self.controller_epoch)
        self.event("controller.elected", broker=self.controller, epoch=self.controller_epoch)

    def live_brokers(self) -> list[int]:
        return [b for b in sorted(self.brokers) if self.brokers[b]["up"]]

    # -- commands -----------------------------------------------------------------------------

    def _handlers(self) -> dict:
        """Command type -> the bound method that validates and carries it out."""
        return {
            "topic.create": self._topic_create,
            "topic.delete": self._topic_delete,
            "topic.alter_config": self._topic_alter_config,
            "topic.add_partitions": self._topic_add_partitions,
            "records.delete": self._records_delete,
            "produce": self._produce_command,
            "producer.add": self._producer_add,
            "producer.remove": self._producer_remove,
            "consumer.add": self._consumer_add,
            "consumer.remove": self._consumer_remove,
            "consumer.crash": self._consumer_crash,
            "consumer.hang": self._consumer_hang,
            "group.configure": self._group_configure,
            "group.reset_offsets": self._group_reset_offsets,
            "group.delete": self._group_delete,
            "group.delete_offsets": self._group_delete_offsets,
            "dead_letter.replay": self._dead_letter_replay,
            "broker.stop": partial(replication.broker_stop, self),
            "broker.start": partial(replication.broker_start, self),
            "broker.configure": partial(replication.broker_configure, self),
            "leader.elect_preferred": partial(replication.elect_preferred, self),
            "produce.records": partial(clients.produce_records, self),
            "producer.init_id": partial(clients.producer_init_id, self),
            **{kind: (lambda c, handler=handler: handler(self, c))
               for kind, handler in classic.HANDLERS.items()},
        }

    def existing_topic(self, command: dict, field: str = "name") -> Topic:
        name = command.get(field)
        # The name of a topic that exists passed every check a name gets when the topic was
        # created: one lookup answers, without the string reader's call (every command that
        # names a topic pays it). Anything else goes through the reader, which says what is
        # wrong.
        if type(name) is str:
            topic = self.topics.get(name)
            if topic is not None:
                return topic
        name = v.string(command, field, max_length=249)
        topic = self.topics.get(name)
        if topic is None:
            raise CommandError(field, f"no topic named {name!r}")
        return topic

    def _topic_create(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "name", "partitions", "replication_factor",
                                     "config", "client", "auto"}))
        name = validate_topic_name(c.get("name"))
        client = client_name(c)
        auto = c.get("auto", False)
        if not isinstance(auto, bool):
            raise CommandError("auto", "must be true or false")
        if auto and not self.config["auto.create.topics.enable"]:
            raise CommandError("auto", "auto.create.topics.enable is false on this cluster")
        if name in self.topics:
            raise CommandError("name", f"topic {name!r} already exists")
        for other in self.topics:
            if collision_key(other) == collision_key(name):
                raise CommandError("name", f"topic {name!r} collides with existing topic "
                                   f"{other!r} ('.' and '_' count as the same)")
        # Auto-creation takes the broker's num.partitions and default.replication.factor.
        partitions = v.integer(c, "partitions", minimum=1, maximum=MAX_PARTITIONS,
                               default=self.config["num.partitions"] if auto else 1)
        live = self.live_brokers()
        rf = v.integer(c, "replication_factor", minimum=1,
                       default=self.config["default.replication.factor"] if auto else 1)
        if rf > len(live):
            raise CommandError("replication_factor", f"{rf} is larger than the number of "
                               f"live brokers ({len(live)})")
        config = default_config()
        config.update(validate_config(c.get("config")))
        start = self._placement_rng.randrange(len(live))
        shift = self._placement_rng.randrange(len(live))
        assignment = assign_replicas(live, partitions, rf, start, shift)
        self._topic_ids += 1
        topic = Topic(name, config, assignment, self._topic_ids)
        self.topics[name] = topic
        extra = {"auto": True} if auto else {}
        if client is not None:
            extra["client"] = client
        self.event("topic.created", topic=name, partitions=partitions, replication_factor=rf,
                   config=dict(config), assignment=[list(r) for r in assignment], **extra)
        self.zk_set(f"/brokers/topics/{name}",
                     {"partitions": {str(i): list(r) for i, r in enumerate(assignment)}})
        for part in topic.partitions:
            self._announce_partition(part)
        self._metadata_changed(name, "topic created")

    def _announce_partition(self, part) -> None:
        replication.write_partition_state(self, part)
        self.event("partition.leader_elected", topic=part.topic.name, partition=part.index,
                   leader=part.leader, epoch=part.leader_epoch, isr=list(part.isr),
                   unclean=False, reason="new partition: preferred replica", log_end_offset=0)

    def _topic_delete(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "name", "client"}))
        topic = self.existing_topic(c)
        client = client_name(c)
        name = topic.name
        for part in topic.partitions:
            for timer in list(part.fetch_timers.values()):
                timer.cancel()
            if part.retention_timer is not None:
                part.retention_timer.cancel()
            if part.isr_timer is not None:
                part.isr_timer.cancel()
        for gid in sorted(self.groups):
            self.groups[gid].forget_partitions(topic.partitions)
        del self.topics[name]
        for key in [k for k in self.producer_sequences if k[1] == name]:
            del self.producer_sequences[key]
        self.event("topic.deleted", topic=name,
                   **({"client": client} if client is not None else {}))
        for key in [k for k in self.ack_waiters if k[0] == name]:
            self.ack_waiters.pop(key).failed("UNKNOWN_TOPIC_OR_PARTITION")
        # Records waiting to be retried to it fail now; they must never reach a new topic
        # that takes the same name.
        for key in [k for k in self.retrying if k[1] == name]:
            batch = self.retrying.pop(key)
            if batch.timer is not None:
                batch.timer.cancel()
            self.event("produce.failed", topic=name, partition=batch.partition,
                       producer=batch.producer, error="UNKNOWN_TOPIC_OR_PARTITION",
                       count=len(batch.records), retriable=False, will_retry=False,
                       message="the topic was deleted while records waited to be retried")
        for part in topic.partitions:
            self.zk_delete(f"/brokers/topics/{name}/partitions/{part.index}/state")
        self.zk_delete(f"/brokers/topics/{name}")
        self._metadata_changed(name, "topic deleted")

    def _topic_alter_config(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "name", "config"}))
        topic = self.existing_topic(c)
        raw = v.mapping(c, "config")
        resets = [k for k, value in raw.items() if value is None]
        changes = validate_config({k: value for k, value in raw.items() if value is not None})
        for name in resets:
            if name not in TOPIC_CONFIGS:
                raise CommandError(f"config.{name}", "not a topic config the playground models")
            changes[name] = TOPIC_CONFIGS[name][0]
        before = {k: topic.config[k] for k in changes}
        topic.config.update(changes)
        self.event("topic.config_changed", topic=topic.name, changes=changes, previous=before,
                   config=dict(topic.config))
        for part in topic.partitions:
            self._schedule_retention(part)

    def _topic_add_partitions(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "name", "partitions"}))
        topic = self.existing_topic(c)
        total = v.integer(c, "partitions", maximum=MAX_PARTITIONS)
        current = len(topic.partitions)
        if total == current:
            raise CommandError("partitions", f"topic {topic.name!r} already has {current} "
                               "partitions")
        if total < current:
            raise CommandError("partitions", f"topic {topic.name!r} has {current} partitions; "
                               "partitions can only be added, never removed")
        live = self.live_brokers()
        first_replica = topic.partitions[0].replicas[0]
        start = next((i for i, b in enumerate(live) if b >= first_replica), 0)
        rf = topic.replication_factor
        if rf > len(live):
            raise CommandError("partitions", f"replication factor {rf} needs {rf} live brokers; "
                               f"{len(live)} are up")
        assignment = assign_replicas(live, total - current, rf, start, start,
                                     first_partition=current)
        topic.add_partitions(assignment)
        self.event("topic.partitions_added", topic=topic.name, partitions=total,
                   previous=current, assignment=[list(r) for r in assignment])
        self.zk_set(f"/brokers/topics/{topic.name}",
                     {"partitions": {str(p.index): list(p.replicas) for p in topic.partitions}})
        for part in topic.partitions[current:]:
            self._announce_partition(part)
        self._metadata_changed(topic.name, "partitions added")

    def _records_delete(self, c: dict) -> dict:
        """Kafka's DeleteRecords: the log start offset moves up to `offset` on every replica at
        once (Kafka's followers follow the leader's; the model's answer is the low watermark
        they all reach). Answer: {"low_watermark"} or {"error"}: OFFSET_OUT_OF_RANGE past the
        high watermark, as Kafka answers; nothing changes then."""
        v.check_fields(c, frozenset({"type", "topic", "partition", "offset"}))
        topic = self.existing_topic(c, "topic")
        index = v.integer(c, "partition", minimum=0, maximum=len(topic.partitions) - 1)
        offset = v.integer(c, "offset", minimum=-1, maximum=classic.MAX_OFFSET)
        part = topic.partitions[index]
        if offset == -1:
            offset = part.high_watermark
        if offset > part.high_watermark:
            return {"error": "OFFSET_OUT_OF_RANGE",
                    "message": f"offset {offset} is past the high watermark "
                               f"{part.high_watermark}"}
        if offset > part.leader_log.start_offset:
            self._cut_log(part, offset, "deleted by a client (DeleteRecords)")
        return {"low_watermark": part.leader_log.start_offset}

    def _metadata_changed(self, topic: str, reason: str) -> None:
        for gid in sorted(self.groups):
            group = self.groups[gid]
            if group.members and topic in group.subscribed_topics():
                group.prepare(f"{reason}: {topic}")

    # -- producing ----------------------------------------------------------------------------

    def _produce_command(self, c: dict) -> dict:
        """Answer: the record's partition and offset, or Kafka's error (sent_answer)."""
        v.check_fields(c, _PRODUCE_FIELDS)
        topic = self.existing_topic(c, "topic")
        value = v.string(c, "value", default=None, nullable=True, max_length=v.MAX_VALUE_CHARS)
        key = v.string(c, "key", default=None, nullable=True, max_length=10_000)
        # Headers and a partition are rarely given: absent, they need no reader call.
        headers = c.get("headers")
        if headers is not None:
            headers = v.headers(headers, "headers", empty_names=False)
        partition = c.get("partition")
        if partition is not None:
            partition = v.integer(c, "partition", minimum=0)
        if partition is not None and partition >= len(topic.partitions):
            raise CommandError("partition", f"topic {topic.name!r} has partitions 0 to "
                               f"{len(topic.partitions) - 1}; there is no partition {partition}")
        acks = v.acks(c, default="all")
        idempotent, retries = _delivery(c, acks)
        producer = v.identifier(c, "producer", default="console", what="producer id")
        # produce_batch itself, not the produce() wrapper: one call less per command.
        sent = self.produce_batch(topic.name, [(key, value, headers, partition)], acks, producer,
                                  idempotent=idempotent, retries=retries)
        return sent_answer(topic.name, sent)

    def produce(self, topic_name: str, value, key=None, headers=None, partition=None,
                acks: str = "all", producer: str = "console", idempotent: bool | None = None,
                retries: int = UNLIMITED_RETRIES, cause: dict | None = None,
                waiter=None) -> Sent:
        """Append one record as a producer would; `.offset` is its offset, None if it failed
        (`.error` says why)."""
        return self.produce_batch(topic_name, [(key, value, headers, partition)], acks,
                                  producer, idempotent=idempotent, retries=retries, cause=cause,
                                  waiter=waiter)

    def produce_batch(self, topic_name: str, records: list, acks: str, producer: str,
                      hashes: dict | None = None, idempotent: bool | None = None,
                      retries: int = UNLIMITED_RETRIES, cause: dict | None = None,
                      waiter=None, create_times: list | None = None,
                      client_partitioned: bool = False) -> Sent:
        """Append records ``(key, value, headers, partition or None)`` in order, as one producer
        sends them; return what came of it (Sent: `.offset` None if the last failed).

        Everything per record (choosing the partition, the checks a leader makes, the append,
        the events) happens in this loop; what depends only on which partitions were touched
        (waking consumers, scheduling follower fetches and retention) happens once, after it.
        `hashes` may remember murmur2 results for a producer whose keys repeat. A record bound
        for a partition where this producer already has records waiting to be retried joins
        them, so a producer's records stay in order. `idempotent` defaults to Kafka's since
        3.0: on whenever acks=all.
        `cause` names the record a consumer was processing when it sent these (pipelines,
        retries, dead letters); their events carry it. Such sends use retries=0: the delivery
        policy, not the producer, decides what a failed send means. `create_times`, one per
        record, are a real client's own timestamps, kept beside the model's append times.
        `client_partitioned`: a real client chose each record's partition with its own
        partitioner; `why` then says whether that was murmur2, as Java's default partitioner.
        """
        if idempotent is None:
            idempotent = acks == "all"
        topic = self.topics.get(topic_name)
        if topic is None:
            for key, value, _, partition in records:
                self.event("produce.failed", topic=topic_name, partition=partition, key=key,
                           value=value, producer=producer, acks=acks,
                           error="UNKNOWN_TOPIC_OR_PARTITION", retriable=False,
                           message=f"topic {topic_name!r} does not exist",
                           **({"cause": cause} if cause else {}))
            return Sent(None, None, "UNKNOWN_TOPIC_OR_PARTITION",
                        f"topic {topic_name!r} does not exist",
                        records[-1][3] if records else None)
        parts = topic.partitions
        n = len(parts)
        config = topic.config
        max_bytes = config["max.message.bytes"]
        min_isr = config["min.insync.replicas"] if acks == "all" else 0
        now = self.clock.now_ms
        events = self.events
        emit = events.append
        touched: dict = {}
        first = offset = error = message = None
        seq = self.seq
        retrying = self.retrying
        code = ACKS_CODE[acks]
        stamps = iter(create_times) if create_times is not None else None
        for key, value, headers, partition in records:
            create_ms = next(stamps) if stamps is not None else None
            # ASCII text weighs its length; anything else (and bytes kept as base64, which
            # start with a NUL) is sized by record_size.
            if headers is None and value is not None and value.isascii() and (
                    key is None or key.isascii()) and value[:1] != "\x00" and (
                    key is None or key[:1] != "\x00"):
                size = len(value) if key is None else len(value) + len(key)
            else:
                size = record_size(key, value, headers)
            if partition is not None:
                if client_partitioned:
                    why = {"method": "client"}
                    if key is not None:
                        h = key_hash(key)
                        why.update(hash=h, partitions=n,
                                   murmur2=(h & 0x7FFFFFFF) % n == partition)
                else:
                    why = {"method": "explicit"}
            elif key is not None:
                if hashes is None:
                    h = key_hash(key)
                else:
                    h = hashes.get(key)
                    if h is None:
                        h = key_hash(key)
                        if len(hashes) < _HASH_MEMO_LIMIT:
                            hashes[key] = h
                partition = (h & 0x7FFFFFFF) % n
                why = {"method": "murmur2", "hash": h, "partitions": n}
            else:
                partition = self._sticky(producer).partition(topic_name, n, size)
                why = {"method": "sticky"}
            part = parts[partition]
            if (not part.online or size > max_bytes or len(part.isr) < min_isr
                    or (retrying and (producer, topic_name, partition, acks) in retrying)):
                self.seq = seq
                error, message = self._produce_failed(
                    part, (key, value, headers, acks, idempotent, retries, now, None, None, why),
                    size, producer)
                if cause and self.seq > seq:
                    self.events[-1]["cause"] = cause
                seq = self.seq
                offset = None
                continue
            log = part.leader_log
            offset = log.append(key, value, headers, now, size, part.leader_epoch, code,
                                create_ms)
            if first is None:
                first = offset
            single = len(part.isr) == 1
            if single:
                part.high_watermark = offset + 1
            seq += 1
            event = {"seq": seq, "t_ms": now, "type": "record.produced",
                     "topic": topic_name, "partition": partition, "offset": offset, "key": key,
                     "value": value, "leader": part.leader, "producer": producer,
                     "acks": acks, "why": why, "high_watermark": part.high_watermark}
            if headers:
                event["headers"] = headers
            if cause:
                event["cause"] = cause
            emit(event)
            if acks == "1" or (single and acks == "all"):
                seq += 1
                emit({"seq": seq, "t_ms": now, "type": "record.acked",
                      "topic": topic_name, "partition": partition, "offset": offset,
                      "producer": producer, "acks": acks})
            elif acks == "all":
                part.awaiting_ack.append((offset, producer, idempotent, retries, now, why))
                if waiter is not None:
                    waiter.add((topic_name, partition, offset))
            touched[part] = single
        self.seq = seq
        self._after_appends(touched)
        return Sent(first, offset, error, message, partition if records else None)

    def _after_appends(self, touched: dict) -> None:
        """What follows appends to some partitions (``{partition: whether the HW moved with
        them}``), once per partition rather than once per record: followers fetch, readers
        wake, retention and the room's record budget look again."""
        for part, hw_moved in touched.items():
            if len(part.replicas) > 1:
                replication.schedule_follower_fetches(self, part)
            if hw_moved:
                for member in part.watchers:
                    member.wake()
            # An append never makes the oldest record of the leader's log older (a leader's
            # log is never truncated, and timestamps grow along a log), so a pass already put
            # where that record asks (`retention_epoch`: in this leadership, not held back by a
            # not_before since) stays right, and a look would change nothing. Only
            # retention.bytes needs one after every append: the log grew. Skipping the look
            # saves about 8 % of a one-record produce command that a group reads.
            if (part.retention_epoch != part.leader_epoch
                    or part.topic.config["retention.bytes"] >= 0):
                self._schedule_retention(part)
        if touched and (self.config["retained.records.max"]
                        or self.config["retained.bytes.max"]):
            self._enforce_record_budget()

    def _sticky(self, producer: str) -> StickyPartitioner:
        sticky = self._partitioners.get(producer)
        if sticky is None:
            sticky = StickyPartitioner(self.rng(f"sticky/{producer}"))
            self._partitioners[producer] = sticky
        return sticky

    # -- the producer's retries ---------------------------------------------------------------
    #
    # A pending record is a tuple (key, value, headers, acks, idempotent, retries left,
    # first sent at, offset it was written at or None, leader epoch of that write, why).
    # Records wait per (producer, topic, partition) and go out together after an exponential
    # back-off, as Kafka's RecordAccumulator retries a batch, until delivery.timeout.ms.

    def unavailable(self, part, size: int, acks: str) -> tuple[str, str] | None:
        config = part.topic.config
        if part.leader is None:
            return "LEADER_NOT_AVAILABLE", "the partition has no leader (offline)"
        if not self.brokers[part.leader]["up"]:
            return "NETWORK_EXCEPTION", (f"leader broker {part.leader} does not answer; the "
                                         "controller has not noticed yet")
        if not part.online:
            return "NOT_LEADER_OR_FOLLOWER", (f"broker {part.leader} has restarted and waits "
                                              "for a controller to confirm its leadership")
        if size > config["max.message.bytes"]:
            return "MESSAGE_TOO_LARGE", (f"the record is {size:,} bytes; max.message.bytes is "
                                         f"{config['max.message.bytes']:,}")
        if acks == "all" and len(part.isr) < config["min.insync.replicas"]:
            return "NOT_ENOUGH_REPLICAS", (f"the ISR has {len(part.isr)} replica(s); "
                                           "min.insync.replicas is "
                                           f"{config['min.insync.replicas']}")
        return None

    def _produce_failed(self, part, pending: tuple, size: int, producer: str) -> tuple:
        """A record not written now: failed, or queued to be sent again. Returns (error,
        message): why it was not written (Kafka's code, a sentence), or (None, None) when it
        only waits behind records of its producer already queued to be sent again."""
        key, value, headers, acks, _, retries, _, _, _, why = pending
        batch = self.retrying.get((producer, part.topic.name, part.index, acks))
        problem = self.unavailable(part, size, acks)
        if problem is None:
            batch.records.append(pending)  # behind the records already waiting: order holds
            return None, None  # not written yet, not failed: it goes with them
        error, message = problem
        will_retry = error in RETRIABLE and retries > 0
        if batch is None or not will_retry:
            self.event("produce.failed", topic=part.topic.name, partition=part.index, key=key,
                       value=value, producer=producer, acks=acks, error=error,
                       message=message, why=why, attempt=1, retriable=error in RETRIABLE,
                       will_retry=will_retry)
        if will_retry:
            self._queue_retry(part, producer, [pending])
        return error, message

    def _queue_retry(self, part, producer: str, pending: list, first: bool = False) -> None:
        """Queue records to be sent again; `first` puts them ahead of those already waiting
        (records that were written and await an acknowledgement were sent before any record
        still waiting, so this keeps the producer's order)."""
        key = (producer, part.topic.name, part.index, pending[0][3])
        batch = self.retrying.get(key)
        if batch is None:
            batch = self.retrying[key] = _RetryBatch(producer, part.topic.name, part.index,
                                                     pending[0][3])
        if first:
            batch.records[:0] = pending
        else:
            batch.records.extend(pending)
        if batch.timer is None:
            self._schedule_retry(batch)

    def _schedule_retry(self, batch) -> None:
        backoff = min(self.config["retry.backoff.ms"] * 2 ** (batch.attempt - 1),
                      self.config["retry.backoff.max.ms"])
        batch.timer = self.clock.at(self.clock.now_ms + backoff, self._retry, batch)

    def requeue_pending(self, part, error: str) -> None:
        """The leader changed: requests waiting for acks=all get `error` and are retried."""
        waiting = part.awaiting_ack
        if waiting:
            part.awaiting_ack = []
            self.retry_entries(part, waiting, error)

    def retry_entries(self, part, entries: list, error: str) -> None:
        log = part.leader_log
        by_producer: dict[str, list] = {}
        for offset, producer, idempotent, retries, first_ms, why in entries:
            i = offset - log.base
            pending = (log.keys[i], log.values[i], log.headers.get(offset), "all", idempotent,
                       retries, first_ms, offset, log.epoch_at(offset), why)
            by_producer.setdefault(producer, []).append(pending)
        if self.ack_waiters:
            name = part.topic.name
            for entry in entries:
                waiter = self.ack_waiters.pop((name, part.index, entry[0]), None)
                if waiter is not None:
                    waiter.failed(error)
        for producer, pending in by_producer.items():
            again = [p for p in pending if p[5] > 0]
            self.event("produce.failed", topic=part.topic.name, partition=part.index,
                       producer=producer, acks="all", error=error, count=len(pending),
                       offsets=[p[7] for p in pending], retriable=True,
                       will_retry=len(again) == len(pending),
                       message="not acknowledged: the producer sends again" if again else
                               "not acknowledged, and retries are exhausted")
            if again:
                self._queue_retry(part, producer, again, first=True)

    def _retry(self, batch) -> None:
        batch.timer = None
        now = self.clock.now_ms
        topic = self.topics[batch.topic]  # deleting a topic fails its batches at once
        key = (batch.producer, batch.topic, batch.partition, batch.acks)
        part = topic.partitions[batch.partition]
        timeout = self.config["delivery.timeout.ms"]
        expired = [p for p in batch.records if now - p[6] >= timeout]
        if expired:
            batch.records = [p for p in batch.records if now - p[6] < timeout]
            self.event("produce.failed", topic=batch.topic, partition=batch.partition,
                       producer=batch.producer, error="REQUEST_TIMED_OUT", count=len(expired),
                       keys=[p[0] for p in expired[:20]], retriable=False, will_retry=False,
                       message=f"delivery.timeout.ms ({timeout:,} ms) passed before the "
                               "records were acknowledged: the producer gives up")
        batch.attempt += 1
        # The batch goes out in order until a record cannot go; the rest wait.
        sendable = []
        blocked = None
        for p in batch.records:
            blocked = self.unavailable(part, record_size(p[0], p[1], p[2]), p[3])
            if blocked is not None:
                break
            sendable.append(p)
        rest = batch.records[len(sendable):]
        if blocked is not None:
            error, message = blocked
            if error not in RETRIABLE:  # e.g. max.message.bytes was lowered meanwhile
                bad, rest = rest[0], rest[1:]
                self.event("produce.failed", topic=batch.topic, partition=batch.partition,
                           producer=batch.producer, key=bad[0], value=bad[1], error=error,
                           message=message, retriable=False, will_retry=False)
            else:
                spent = [p for p in rest if p[5] <= 1]
                rest = [p[:5] + (p[5] - 1,) + p[6:] for p in rest if p[5] > 1]
                if spent:
                    self.event("produce.failed", topic=batch.topic, partition=batch.partition,
                               producer=batch.producer, error=error, count=len(spent),
                               keys=[p[0] for p in spent[:20]], retriable=True,
                               will_retry=False,
                               message="retries exhausted: the producer reports the error")
                if rest:
                    self.event("produce.failed", topic=batch.topic, partition=batch.partition,
                               producer=batch.producer, error=error, message=message,
                               count=len(rest), attempt=batch.attempt, retriable=True,
                               will_retry=True)
        batch.records = rest
        if rest:
            self._schedule_retry(batch)
        else:
            del self.retrying[key]
        if sendable:
            self._resend(part, batch.producer, sendable, batch.attempt)

    def _resend(self, part, producer: str, sendable: list, attempt: int) -> None:
        log = part.leader_log
        name, index = part.topic.name, part.index
        now = self.clock.now_ms
        touched = {}
        for key, value, headers, acks, idempotent, retries, first_ms, offset, epoch, why \
                in sendable:
            written = (offset is not None and log.start_offset <= offset < log.end_offset
                       and log.epoch_at(offset) == epoch)
            if written and idempotent:
                # The broker knows this producer id and sequence number: it answers with the
                # first write's offset instead of appending again.
                self.event("record.deduplicated", topic=name, partition=index, offset=offset,
                           producer=producer, attempt=attempt,
                           reason="idempotent producer: this sequence number is already in "
                                  "the log")
                if offset < part.high_watermark:
                    self.event("record.acked", topic=name, partition=index, offset=offset,
                               producer=producer, acks=acks)
                else:
                    self._await_ack(part, (offset, producer, idempotent, retries - 1,
                                           first_ms, why))
                continue
            size = record_size(key, value, headers)
            new = log.append(key, value, headers, now, size, part.leader_epoch, ACKS_CODE[acks])
            single = len(part.isr) == 1
            touched[part] = single
            if single:
                part.high_watermark = new + 1
            fields = {"retry": {"attempt": attempt, "first_offset": offset}}
            if written:
                fields["duplicate_of"] = offset
            if headers:
                fields["headers"] = headers
            self.event("record.produced", topic=name, partition=index, offset=new, key=key,
                       value=value, leader=part.leader, producer=producer, acks=acks,
                       why=why or {"method": "explicit"}, high_watermark=part.high_watermark,
                       **fields)
            if acks == "1" or (single and acks == "all"):
                self.event("record.acked", topic=name, partition=index, offset=new,
                           producer=producer, acks=acks)
            elif acks == "all":
                self._await_ack(part, (new, producer, idempotent, retries - 1, first_ms, why))
        self._after_appends(touched)

    @staticmethod
    def _await_ack(part, entry: tuple) -> None:
        waiting = part.awaiting_ack
        if not waiting or waiting[-1][0] < entry[0]:
            waiting.append(entry)
        else:
            insort(waiting, entry, key=lambda e: e[0])

    # -- retention ----------------------------------------------------------------------------

    def _schedule_retention(self, part, not_before_ms=None) -> None:
        """Make sure a retention pass comes for `part` when something could expire.

        Kafka checks every ``log.retention.check.interval.ms``; checking only at those ticks,
        and only when a record could be due, keeps an idle partition free of clock actions.
        An earlier need (a config change, retention.bytes overflowing) moves a later pass up.
        """
        log = part.leader_log
        timer = part.retention_timer
        config = part.topic.config
        due = None
        if len(log):
            if config["retention.ms"] >= 0:
                due = log.timestamp_at(log.start_offset) + config["retention.ms"] + 1
            if 0 <= config["retention.bytes"] <= log.size_bytes - log.size_at(log.start_offset):
                due = self.clock.now_ms
        if due is not None:
            due = max(due, self.clock.now_ms if not_before_ms is None else not_before_ms, 1)
            interval = self.config["log.retention.check.interval.ms"]
            # Checks fall on the broker's ticks, one interval after it started and every
            # interval since: the first at or after `due`.
            due = next_tick(due - 1, interval)
        if timer is not None and (due is None or timer.due_ms > due):
            timer.cancel()
            part.retention_timer = None
        if due is not None and part.retention_timer is None:
            part.retention_timer = self.clock.at(due, self._retention_pass, part)
        # The pass now comes no later than the oldest record of this leadership's log asks
        # (unless a not_before held it back): what lets _after_appends skip its next look.
        settled = not_before_ms is None and part.retention_timer is not None
        part.retention_epoch = part.leader_epoch if settled else None

    def _retention_pass(self, part) -> None:
        part.retention_timer = None
        if self.topics.get(part.topic.name) is not part.topic:
            return
        log = part.leader_log
        config = part.topic.config
        now = self.clock.now_ms
        limit = part.high_watermark  # never delete what consumers may not have seen committed
        cut = log.start_offset
        size = log.size_bytes  # what would remain after the cut
        reason = None
        if config["retention.ms"] >= 0:
            while cut < limit and now - log.timestamp_at(cut) > config["retention.ms"]:
                size -= log.size_at(cut)
                cut += 1
            if cut > log.start_offset:
                reason = "retention.ms"
        if config["retention.bytes"] >= 0:
            # Kafka deletes the oldest segment while the log minus that segment still holds at
            # least retention.bytes; here a record plays the segment.
            while cut < limit and size - log.size_at(cut) >= config["retention.bytes"]:
                size -= log.size_at(cut)
                cut += 1
                reason = reason or "retention.bytes"
        if cut > log.start_offset:
            self._cut_log(part, cut, reason)
        # What the high watermark held back waits for the next check, never this instant.
        self._schedule_retention(part, not_before_ms=now + 1)

    def _enforce_record_budget(self) -> None:
        """Keep the records retained across all partitions within ``retained.records.max``.

        Like retention.bytes, but for the whole cluster and checked at every append, so a
        busy room's memory stays bounded between retention checks: the oldest records by
        timestamp go first (ties by topic and partition order), never at or above a
        partition's high watermark.
        """
        budget = self.config["retained.records.max"]
        bytes_budget = self.config["retained.bytes.max"]
        parts = [p for topic in self.topics.values() for p in topic.partitions]
        records = size = 0  # one pass: this runs at every append
        for p in parts:
            records += len(p.leader_log)
            size += p.leader_log.size_bytes
        excess = records - budget if budget else 0
        excess_bytes = size - bytes_budget if bytes_budget else 0
        if excess <= 0 and excess_bytes <= 0:
            return
        reason = "retained.records.max" if excess > 0 else "retained.bytes.max"
        heap = []
        for i, p in enumerate(parts):
            log = p.leader_log
            if log.start_offset < min(p.high_watermark, log.end_offset):
                heap.append((log.timestamp_at(log.start_offset), i))
        heapq.heapify(heap)
        cuts: dict[int, int] = {}
        while (excess > 0 or excess_bytes > 0) and heap:
            _, i = heap[0]
            part = parts[i]
            cut = cuts.get(i, part.leader_log.start_offset) + 1
            cuts[i] = cut
            excess -= 1
            excess_bytes -= part.leader_log.size_at(cut - 1)
            if cut < min(part.high_watermark, part.leader_log.end_offset):
                heapq.heapreplace(heap, (part.leader_log.timestamp_at(cut), i))
            else:
                heapq.heappop(heap)
        for i in sorted(cuts):
            self._cut_log(parts[i], cuts[i], reason)

    def _cut_log(self, part, cut: int, reason: str) -> None:
        """Move the partition's log start up to `cut` on every replica at once (retention,
        the record budget, a client's DeleteRecords) and say so: `record.expired`."""
        first = part.leader_log.start_offset
        for b in part.replicas:
            part.logs[b].delete_before(cut)
        self.event("record.expired", topic=part.topic.name, partition=part.index,
                   offset=first, count=cut - first, log_start_offset=cut, reason=reason)

    # -- producer workloads -------------------------------------------------------------------

    def _producer_add(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "id", "topic", "rate_per_s", "keys", "acks",
                                     "value", "value_bytes", "idempotent", "retries"}))
        pid = v.identifier(c, "id", what="producer id")
        if pid in self.producers:
            raise CommandError("id", f"a producer {pid!r} is already running")
        topic = self.existing_topic(c, "topic")
        rate = v.number(c, "rate_per_s", minimum=MIN_RATE_PER_S, maximum=MAX_RATE_PER_S)
        keys = parse_keys(c.get("keys", {"kind": "sequence"}))
        acks = v.acks(c, default="all")
        idempotent, retries = _delivery(c, acks)
        value = v.string(c, "value", default="{key}", max_length=10_000)
        value_bytes = v.integer(c, "value_bytes", default=None, minimum=0, maximum=1_000_000)
        spec = {"id": pid, "topic": topic.name, "rate_per_s": rate, "keys": keys, "acks": acks,
                "value": value, "value_bytes": value_bytes, "idempotent": idempotent,
                "retries": retries}
        workload = ProducerWorkload(spec, self.clock.now_ms, self.rng(f"producer/{pid}"))
        self.producers[pid] = workload
        self.event("producer.added", producer=pid, topic=topic.name, rate_per_s=rate,
                   keys=keys, acks=acks)
        workload.timer = self.clock.at(self.clock.now_ms, self._producer_tick, workload)

    def _producer_tick(self, workload: ProducerWorkload) -> None:
        workload.timer = None
        now = self.clock.now_ms
        next_key = workload.key_source.key
        make_value = workload.make_value
        first = workload.sent
        due = workload.due_by(now)
        records = []
        for n in range(first, due):
            key = next_key(n)
            records.append((key, make_value(n, key), None, None))
        workload.sent = due
        spec = workload.spec
        self.produce_batch(workload.topic, records, workload.acks, workload.id,
                           workload.hashes, spec["idempotent"], spec["retries"])
        workload.timer = self.clock.at(workload.due_ms(due), self._producer_tick, workload)

    def _producer_remove(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "id"}))
        pid = v.identifier(c, "id", what="producer id")
        workload = self.producers.get(pid)
        if workload is None:
            raise CommandError("id", f"no producer {pid!r} is running")
        if workload.timer is not None:
            workload.timer.cancel()
        del self.producers[pid]
        self.event("producer.removed", producer=pid, sent=workload.sent)

    # -- consumer groups ----------------------------------------------------------------------

    def _group_config(self, c: dict, base: dict) -> dict:
        config = dict(base)
        if "assignor" in c:
            config["assignor"] = v.choice(c, "assignor", tuple(ASSIGNORS))
        if "session_timeout_ms" in c:
            # group.min.session.timeout.ms and group.max.session.timeout.ms, Kafka's defaults
            config["session_timeout_ms"] = v.integer(c, "session_timeout_ms", minimum=6_000,
                                                     maximum=1_800_000)
        if "heartbeat_interval_ms" in c:
            config["heartbeat_interval_ms"] = v.integer(c, "heartbeat_interval_ms",
                                                        minimum=1, maximum=1_800_000)
        if config["heartbeat_interval_ms"] >= config["session_timeout_ms"]:
            raise CommandError("heartbeat_interval_ms", "must be lower than session_timeout_ms "
                               f"({config['session_timeout_ms']:,} ms)")
        if "auto_offset_reset" in c:
            config["auto_offset_reset"] = v.choice(c, "auto_offset_reset",
                                                   ("earliest", "latest"))
        read_config(c, config)
        return config

    def _group_configure(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "group", "assignor", "session_timeout_ms",
                                     "heartbeat_interval_ms", "auto_offset_reset"})
                       | DELIVERY_FIELDS)
        gid = v.identifier(c, "group", what="group id")
        group = self.groups.get(gid)
        if group is not None and group.external and (group.members or group.pending):
            raise CommandError("group", f"group {gid!r} is made of real Kafka clients: they "
                               "choose its assignor and timeouts themselves")
        config = self._group_config(c, group.config if group else GROUP_DEFAULTS)
        members = group.members if group else {}
        dead_letters = config["dead_letter_topic"]
        for mid, member in members.items():
            if dead_letters in member.declared or dead_letters in retry_topics(config,
                                                                               member.declared):
                raise CommandError("dead_letter_topic", f"consumer {mid!r} reads "
                                   f"{dead_letters!r} (directly or as a retry topic); a group "
                                   "cannot consume its own dead letters")
        self._check_forward_cycles("dead_letter_topic", gid, config,
                                   [m.declared for m in members.values()])
        if group is not None:
            self._check_stranded_retries(c, group, config)
            naming = ("dead_letter_topic", "retry_mode", "max_attempts")
            if any(config[k] != group.config[k] for k in naming):
                retry_field = "retry_mode" if "retry_mode" in c else "max_attempts"
                for member in members.values():
                    self._check_delivery_names(
                        lambda kind, i: ("dead_letter_topic" if kind == "dead_letter"
                                         else retry_field), config, member.declared)
        if group is None:
            group = self.groups[gid] = Group(self, gid, config)
            self.event("group.created", group=gid, config=dict(config))
            return
        changed = {k: config[k] for k in config if config[k] != group.config[k]}
        group.config = config
        self.event("group.configured", group=gid, changes=changed, config=dict(config))
        if "retry_mode" in changed or "max_attempts" in changed:
            for member in group.members.values():
                self._create_retry_topics(config, member.declared)
            group.resubscribe()
        if "assignor" in changed and group.members:
            group.prepare(f"assignor changed to {config['assignor']}")

    def _check_stranded_retries(self, c: dict, group: Group, config: dict) -> None:
        """Refuse a retry_mode or max_attempts change that would unsubscribe the group from
        retry topics still holding records it has not finished: nothing would ever process
        or dead-letter them. (Refusing, rather than reading on until they drain, keeps the
        subscription a function of the config, as a Spring listener's retry topics are.)"""
        old, new = set(), set()
        for member in group.members.values():
            old.update(retry_topics(group.config, member.declared))
            new.update(retry_topics(config, member.declared))
        in_hand = {m.in_flight[0] for m in group.members.values() if m.in_flight is not None}
        waiting = {}
        for name in sorted(old - new):
            topic = self.topics.get(name)
            if topic is None:
                continue
            count = 0
            for part in topic.partitions:
                log = part.leader_log
                done = group.committed.get(part, log.start_offset)
                for member in group.members.values():
                    dirty = member.dirty.get(part)
                    if dirty is not None:
                        done = max(done, dirty[0])
                count += max(0, log.end_offset - max(done, log.start_offset))
                if part in in_hand and count == 0:
                    count = 1
            if count:
                waiting[name] = count
        if waiting:
            field = "retry_mode" if "retry_mode" in c else "max_attempts"
            listed = ", ".join(f"{name!r} ({n:,})" for name, n in waiting.items())
            raise CommandError(field, f"the group would stop reading retry topics that still "
                               f"hold records it has not finished: {listed}; change it once "
                               "they have drained (or delete those topics to give the records "
                               "up)")

    def _create_retry_topics(self, config: dict, topics: list[str]) -> None:
        """Spring creates a listener's retry topics when the listener starts, so the first
        failure does not have to wait for new topics (and here, a rebalance)."""
        wanted = retry_topics(config, topics)
        for name in sorted(wanted):
            source = self.topics.get(wanted[name][0])
            if source is not None:
                self.delivery_topic(name, source)

    def delivery_topic(self, name: str, source: Topic):
        """The retry or dead-letter topic `name`, created on first use like the source: same
        partition count, replication factor min(source's, live brokers). Returns (topic,
        None), or (None, why) when it cannot be created: `why.permanent` when the name
        collides with another topic's (that never heals), else not (no live broker now)."""
        topic = self.topics.get(name)
        if topic is not None:
            return topic, None
        rf = max(1, min(source.replication_factor, len(self.live_brokers())))
        try:
            # An internal consequence, not a command: replay recreates it the same way.
            self._topic_create({"type": "topic.create", "name": name,
                                "partitions": len(source.partitions), "replication_factor": rf})
        except CommandError as refused:
            return None, _CreateFailure(self._collides(name) is not None, refused.message)
        return self.topics[name], None

    def _collides(self, name: str) -> str | None:
        """The existing topic `name` may not sit beside ('.' and '_' count the same)."""
        key = collision_key(name)
        for other in self.topics:
            if other != name and collision_key(other) == key:
                return other
        return None

    def _check_delivery_names(self, field, config: dict, topics: list[str]) -> None:
        """Refuse up front a retry or dead-letter topic that could never be created: its name
        collides with an existing topic's. (One created later still fails at run time, with
        produce.failed and record.dropped.) `field` maps a name's kind to the field named."""
        for i, name in enumerate(topics):
            wanted = [("dead_letter", dead_letter_topic_name(config, name))]
            wanted += [("retry", r) for r in sorted(retry_topics(config, [name]))]
            for kind, derived in wanted:
                if derived in self.topics:
                    continue
                other = self._collides(derived)
                if other is not None:
                    raise CommandError(field(kind, i), f"{kind.replace('_', '-')} topic "
                                       f"{derived!r} would collide with existing topic "
                                       f"{other!r} ('.' and '_' count as the same)")

    def _get_group(self, c: dict) -> Group:
        gid = v.identifier(c, "group", what="group id")
        group = self.groups.get(gid)
        if group is None:
            raise CommandError("group", f"no group named {gid!r}")
        return group

    def _consumer_add(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "group", "id", "topics", "processing_ms",
                                     "failure_rate", "fail_keys", "hangs", "commit", "emits"}))
        gid = v.identifier(c, "group", what="group id")
        group = self.groups.get(gid)
        mid = v.identifier(c, "id", default=None, what="consumer id")
        if mid is not None and group is not None and mid in group.members:
            raise CommandError("id", f"consumer {mid!r} is already in group {gid!r}")
        topics = v.string_list(c, "topics", min_items=1, max_items=50)
        for i, name in enumerate(topics):
            validate_topic_name(name, f"topics[{i}]")
            if len(name) > MAX_SOURCE_NAME:
                raise CommandError(f"topics[{i}]", f"a consumed topic's name may have at most "
                                   f"{MAX_SOURCE_NAME} characters, leaving room for its "
                                   "-retry-N and -dlt topics")
        behaviour = parse_behaviour(c)
        config = group.config if group else GROUP_DEFAULTS
        self._check_loops(topics, behaviour, config)
        self._check_delivery_names(lambda kind, i: f"topics[{i}]", config, topics)
        self._check_forward_cycles("topics", gid, config,
                                   [m.declared for m in (group.members.values() if group
                                                         else ())] + [topics])
        commit = v.choice(c, "commit", ("after", "before", "auto"), default="after")
        if group is not None and group.external:
            if group.members or group.pending:
                raise CommandError("group", f"group {gid!r} is made of real Kafka clients; "
                                   "a modelled consumer cannot join it (Kafka answers "
                                   "INCONSISTENT_GROUP_PROTOCOL)")
            group = classic.convert(group, Group)
        if group is None:
            group = self.groups[gid] = Group(self, gid, dict(GROUP_DEFAULTS))
            self.event("group.created", group=gid, config=dict(group.config))
        if mid is None:
            while f"{gid}-{group.next_member_number}" in group.members:
                group.next_member_number += 1
            mid = f"{gid}-{group.next_member_number}"
            group.next_member_number += 1
        self._create_retry_topics(group.config, topics)
        member = Member(group, mid, topics, behaviour, commit, self.clock.now_ms)
        group.join(member)

    @staticmethod
    def _check_loops(topics: list[str], behaviour: dict, config: dict) -> None:
        """Refuse what would feed a consumer its own output at the same instant for ever."""
        for n, out in enumerate(behaviour["emits"]):
            if out["topic"] in topics:
                raise CommandError(f"emits[{n}].topic", f"the consumer reads {out['topic']!r}; "
                                   "emitting to it would feed it its own output")
        processing = behaviour["processing_ms"]
        fastest = processing if isinstance(processing, int) else processing["min"]
        if behaviour["emits"] and fastest < 1:
            raise CommandError("processing_ms", "a consumer that emits takes at least 1 ms a "
                               "record, so a pipeline that loops back moves virtual time "
                               "forward instead of spinning at one instant")
        dead_letters = config["dead_letter_topic"]
        if dead_letters in topics:
            raise CommandError(f"topics[{topics.index(dead_letters)}]", f"{dead_letters!r} is "
                               "the group's dead_letter_topic; a group cannot consume its own "
                               "dead letters")
        retry = retry_topics(config, topics)
        if dead_letters in retry:
            source = retry[dead_letters][0]
            raise CommandError(f"topics[{topics.index(source)}]", f"{source!r} has the retry "
                               f"topic {dead_letters!r}, which is the group's "
                               "dead_letter_topic; a group cannot consume its own dead letters")

    def _check_forward_cycles(self, field: str, gid: str, config: dict,
                              subscriptions: list[list[str]]) -> None:
        """Refuse a delivery policy under which forwards (retry topics, dead letters) could go
        round a cycle of topics that groups consume: with zero processing time a failing
        record would go round it at one virtual instant for ever. Default names cannot close
        a cycle on their own (each forward makes the name longer); named dead-letter topics
        across groups can (group A dead-letters t into u, group B reads u and dead-letters
        into t)."""
        edges: dict[str, set] = {}
        # Real clients' groups forward nothing: the delivery policy is the modelled groups'.
        groups = {g: (grp.config, [m.declared for m in grp.members.values()])
                  for g, grp in self.groups.items() if not grp.external}
        groups[gid] = (config, subscriptions)
        for conf, subs in groups.values():
            for declared in subs:
                retry = retry_topics(conf, declared)
                for name in declared:
                    edges.setdefault(name, set()).add(dead_letter_topic_name(conf, name))
                    if retry:
                        edges[name].add(retry_topic_name(name, 1))
                for name, (source, index) in retry.items():
                    out = edges.setdefault(name, set())
                    out.add(dead_letter_topic_name(conf, source))
                    if index + 1 < conf["max_attempts"]:
                        out.add(retry_topic_name(source, index + 1))
        # Iterative depth-first search in sorted order, so the cycle reported is deterministic.
        state: dict[str, int] = {}
        for start in sorted(edges):
            if start in state:
                continue
            path = [start]
            stack = [iter(sorted(edges.get(start, ())))]
            state[start] = 1
            while stack:
                nxt = next(stack[-1], None)
                if nxt is None:
                    state[path.pop()] = 2
                    stack.pop()
                    continue
                seen = state.get(nxt)
                if seen == 1:
                    cycle = path[path.index(nxt):] + [nxt]
                    raise CommandError(field, "failing records would be forwarded round "
                                       f"{' -> '.join(repr(t) for t in cycle)} for ever (each "
                                       "is consumed by a group that forwards to the next); "
                                       "name another dead_letter_topic")
                if seen is None:
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append(iter(sorted(edges.get(nxt, ()))))

    def _consumer_hang(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "group", "id", "hangs"}))
        hangs = c.get("hangs", True)
        if not isinstance(hangs, bool):
            raise CommandError("hangs", "must be true (the consumer hangs) or false (it "
                                        "recovers)")
        group, member = self._member({k: c[k] for k in c if k != "hangs"}, "hang")
        member.set_hangs(hangs)
        self.event("consumer.hung" if hangs else "consumer.recovered", group=group.id,
                   consumer=member.id, in_flight=member.in_flight_record())

    def _dead_letter_replay(self, c: dict) -> None:
        """Republish a dead-letter topic's records to the topic and partition their
        kafka_dlt-original-* headers name, as an operator does once the bug is fixed."""
        v.check_fields(c, frozenset({"type", "topic", "partition", "from_offset",
                                     "to_offset"}))
        topic = self.existing_topic(c, "topic")
        partition = v.integer(c, "partition", default=None, minimum=0)
        if partition is not None and partition >= len(topic.partitions):
            raise CommandError("partition", f"topic {topic.name!r} has partitions 0 to "
                               f"{len(topic.partitions) - 1}")
        first = v.integer(c, "from_offset", default=0, minimum=0)
        last = v.integer(c, "to_offset", default=None, minimum=0)
        if last is not None and last < first:
            raise CommandError("to_offset", f"must be at least from_offset ({first:,})")
        parts = topic.partitions if partition is None else [topic.partitions[partition]]
        picked = []
        for part in parts:
            log = part.leader_log
            lo = max(first, log.start_offset)
            hi = part.high_watermark if last is None else min(last, part.high_watermark)
            for offset in range(lo, hi):
                picked.append((part, offset, log.record(offset)))
        if not any(H_TOPIC in header_map(r["headers"]) for _, _, r in picked):
            raise CommandError("topic", f"{topic.name!r} holds no dead-lettered records in that "
                               "range (none with a kafka_dlt-original-topic header)")
        self.event("dead_letter.replay_started", topic=topic.name, partition=partition,
                   from_offset=first, to_offset=last, records=len(picked))
        replayed = skipped = 0
        reasons: dict[str, int] = {}   # why records were skipped -> how many
        for part, offset, record in picked:
            headers = header_map(record["headers"])
            why = None
            target = headers.get(H_TOPIC)
            to_partition = header_int(headers, H_PARTITION)
            if target is None:
                why = "no kafka_dlt-original-topic header"
            elif to_partition is None:
                why = "kafka_dlt-original-partition is missing or not a partition number"
            else:
                try:
                    validate_topic_name(target)
                except CommandError:
                    why = "kafka_dlt-original-topic is not a topic name"
            if why is not None:
                # Anyone can produce into a DLT: a record whose headers the delivery layer
                # did not write is left where it is, and said so.
                skipped += 1
                reasons[why] = reasons.get(why, 0) + 1
                continue
            dest = self.topics.get(target)
            if dest is not None and to_partition >= len(dest.partitions):
                # Deleted and created again with fewer partitions: the partitioner chooses.
                to_partition = None
            pairs = [[k, val] for k, val in header_pairs(record["headers"])
                     if k not in DLT_HEADERS]
            kept = (dict(pairs) if len(dict(pairs)) == len(pairs) else pairs) or None
            cause = {"topic": topic.name, "partition": part.index, "offset": offset,
                     "group": None}
            written = self.produce(target, record["value"], key=record["key"], headers=kept,
                                   partition=to_partition, acks="all", producer="dlt-replay",
                                   retries=0, cause=cause)
            if written.offset is None:
                skipped += 1
                why = "the republish failed (see produce.failed)"
                reasons[why] = reasons.get(why, 0) + 1
            else:
                replayed += 1
        self.event("dead_letter.replayed", topic=topic.name, partition=partition,
                   from_offset=first, to_offset=last, replayed=replayed, skipped=skipped,
                   skipped_reasons=reasons)

    def _member(self, c: dict, verb: str) -> tuple[Group, Member]:
        v.check_fields(c, frozenset({"type", "group", "id"}))
        group = self._get_group(c)
        mid = v.identifier(c, "id", what="consumer id")
        member = group.members.get(mid)
        if member is None:
            raise CommandError("id", f"group {group.id!r} has no consumer {mid!r}")
        if group.external:
            raise CommandError("id", f"consumer {mid!r} is a real Kafka client; it leaves when "
                               "its program closes it or stops heartbeating")
        if member.crashed:
            raise CommandError("id", f"consumer {mid!r} has crashed and cannot {verb}; the "
                               f"group removes it when its session times out")
        return group, member

    def _consumer_remove(self, c: dict) -> None:
        group, member = self._member(c, "leave politely")
        group.leave(member)

    def _consumer_crash(self, c: dict) -> None:
        group, member = self._member(c, "crash again")
        group.crash(member)

    def _group_reset_offsets(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "group", "topic", "to"}))
        group = self._get_group(c)
        topic = self.existing_topic(c, "topic")
        to = c.get("to")
        if to not in ("earliest", "latest"):
            to = v.integer(c, "to", minimum=0)
        if group.members:
            raise CommandError("group", f"offsets can only be reset while the group is "
                               f"inactive (Empty); {group.id!r} is {group.state} with "
                               f"{len(group.members)} member(s)")
        for part in topic.partitions:
            log = part.leader_log
            if to == "earliest":
                offset = log.start_offset
            elif to == "latest":
                offset = part.high_watermark
            else:
                offset = min(max(to, log.start_offset), part.high_watermark)
            group.commit_metadata.pop(part, None)
            group.commit_offset(None, part, offset, reason=f"reset to {to}")

    def _group_delete(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "group"}))
        group = self._get_group(c)
        if group.members:
            raise CommandError("group", f"group {group.id!r} is not empty "
                               f"(NON_EMPTY_GROUP): it has {len(group.members)} member(s)")
        if group.external:
            group.discard()
        group.transition("Dead")
        del self.groups[group.id]
        self.event("group.deleted", group=group.id)

    def _group_delete_offsets(self, c: dict) -> dict:
        """Kafka's OffsetDelete. Answer: {"errors": [each partition's error, in order]}: NONE,
        UNKNOWN_TOPIC_OR_PARTITION, or GROUP_SUBSCRIBED_TO_TOPIC while the group has members
        reading that topic (Kafka keeps those; they would be committed again at once)."""
        v.check_fields(c, frozenset({"type", "group", "topic", "partitions"}))
        group = self._get_group(c)
        name = v.string(c, "topic", max_length=249)
        partitions = c.get("partitions")
        if (not isinstance(partitions, list) or len(partitions) > MAX_PARTITIONS
                or not all(isinstance(p, int) and not isinstance(p, bool) and p >= 0
                           for p in partitions)):
            raise CommandError("partitions", f"must be a list of at most {MAX_PARTITIONS} "
                               "partition numbers")
        topic = self.topics.get(name)
        subscribed = bool(group.members) and name in group.subscribed_topics()
        errors = []
        for index in partitions:
            if topic is None or index >= len(topic.partitions):
                errors.append("UNKNOWN_TOPIC_OR_PARTITION")
            elif subscribed:
                errors.append("GROUP_SUBSCRIBED_TO_TOPIC")
            else:
                errors.append("NONE")
                part = topic.partitions[index]
                group.commit_metadata.pop(part, None)
                if group.committed.pop(part, None) is not None:
                    self.event("offset.deleted", group=group.id, topic=name, partition=index)
        return {"errors": errors}


class _CreateFailure:
    __slots__ = ("permanent", "message")

    def __init__(self, permanent: bool, message: str):
        self.permanent = permanent
        self.message = message


__all__ = ["COMMAND_TYPES", "Cluster", "CommandError"]
