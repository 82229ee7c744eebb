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

from . import validate as v
from .assignors import ASSIGNORS
from .clock import Clock, next_tick
from .config import (
    TOPIC_CONFIGS,
    collision_key,
    default_config,
    validate_config,
    validate_topic_name,
)
from .errors import CommandError
from .group import GROUP_DEFAULTS, Group, Member
from .log import record_size
from .partitioner import StickyPartitioner, key_hash
from .producer import MAX_RATE_PER_S, MIN_RATE_PER_S, ProducerWorkload, parse_keys
from .topic import Topic, assign_replicas

MAX_BROKERS = 16
MAX_PARTITIONS = 1_000
MAX_VALUE_CHARS = 1_000_000
MAX_HEADERS = 50
_HASH_MEMO_LIMIT = 65_536  # murmur2 results a workload with repeating keys remembers

CLUSTER_DEFAULTS = {
    "group.initial.rebalance.delay.ms": 3_000,
    "log.retention.check.interval.ms": 300_000,
    "replica.fetch.interval.ms": 500,
    # Not a Kafka setting: a playground room's budget of retained records across all its
    # partitions (0 = none). Over it, the oldest records go, as retention.bytes would drop them.
    "retained.records.max": 0,
}
_ZERO_MEANS_OFF = frozenset({"retained.records.max"})

COMMAND_TYPES = {
    "topic.create": "Create a topic: name, partitions, replication_factor, config.",
    "topic.delete": "Delete a topic and its records.",
    "topic.alter_config": "Change topic configs (null resets one to its default).",
    "topic.add_partitions": "Grow a topic to a new partition count (keys may move).",
    "produce": "Send one record: topic, value, key, headers, partition, acks, producer.",
    "producer.add": "Start a producer workload: id, topic, rate_per_s, keys, acks, value.",
    "producer.remove": "Stop a producer workload.",
    "consumer.add": "Add a consumer to a group: group, id, topics, processing_ms, commit.",
    "consumer.remove": "A consumer leaves its group politely (its partitions move at once).",
    "consumer.crash": "A consumer dies silently (found when its session times out).",
    "group.configure": "Set a group's assignor, session timeout and delivery policy.",
    "group.reset_offsets": "Move an inactive group's offsets: earliest, latest or an offset.",
    "group.delete": "Delete an Empty group and its offsets.",
}

_LATER = {
    "broker.stop": "stopping brokers arrives with replication failures and the controller's "
                   "elections (broker core part 2)",
    "broker.start": "starting brokers arrives with replication failures and the controller's "
                    "elections (broker core part 2)",
    "dead_letter.replay": "dead letters arrive with the delivery policy (broker core part 2)",
}


def _acks(c: dict) -> str:
    acks = v.choice(c, "acks", ("0", "1", "all", "-1"), default="all")
    return "all" if acks == "-1" else acks  # Kafka spells acks=all also as -1


def _derive_rng(seed, purpose: str) -> random.Random:
    # Seeding with a string hashes it with SHA-512 inside `random`: stable across processes,
    # unlike hash(), so every subsystem gets its own reproducible stream.
    # The seed's type is part of the string, so seed 1 and seed "1" are different runs.
    return random.Random(f"{type(seed).__name__}:{seed}/{purpose}")


class Cluster:
    def __init__(self, seed: int = 0, brokers: int = 3, config: dict | None = None):
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
            self.config[name] = v.integer({name: value}, name,
                                          minimum=0 if name in _ZERO_MEANS_OFF else 1,
                                          maximum=86_400_000, field=f"config.{name}")
        self.clock = Clock()
        self.events: list[dict] = []
        self.seq = 0
        self.stint_seq = 0
        self.topics: dict[str, Topic] = {}
        self.groups: dict[str, Group] = {}
        self.producers: dict[str, ProducerWorkload] = {}
        self.command_log: list[dict] = []
        self.brokers = {b: {"id": b, "up": True} for b in range(1, brokers + 1)}
        self.zk: dict[str, object] = {}
        self.controller: int | None = None
        self.controller_epoch = 0
        self._topic_ids = 0
        self._placement_rng = _derive_rng(seed, "placement")
        self._partitioners: dict[str, StickyPartitioner] = {}
        self._command_handlers = self._handlers()
        self._start_brokers()

    @classmethod
    def from_scenario(cls, spec: dict, seed=None) -> "Cluster":
        """A cluster set up by a scenario document, its timeline on the clock (scenario.py).
        `seed` overrides the document's. Raises ScenarioError listing every problem."""
        from .scenario import build_cluster

        return build_cluster(cls, spec, seed)

    # -- the facade ---------------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        return self.clock.now_ms

    def apply(self, command: dict) -> list[dict]:
        """Validate and carry out one command; return the events it caused at this instant.

        An invalid command raises CommandError before anything changes.
        """
        if not isinstance(command, dict):
            raise CommandError("command", "must be an object with a 'type'")
        kind = command.get("type")
        handler = self._command_handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            if kind in _LATER:
                raise CommandError("type", f"{kind!r} is not modelled yet: {_LATER[kind]}")
            known = ", ".join(COMMAND_TYPES)
            raise CommandError("type", f"unknown command type {kind!r}; known: {known}")
        handler(command)
        # A copy: the caller may reuse its dict, and the log must replay what was applied.
        self.command_log.append({"at_ms": self.clock.now_ms, "command": copy.deepcopy(command)})
        # What the command sets off at this same instant happens now, inside this call. No
        # action is ever left due at `now` between calls, so the events depend only on the
        # commands and their times, never on how the caller sliced its advance() calls.
        self.clock.run_until(self.clock.now_ms)
        return self._take_events()

    def advance(self, ms: int) -> list[dict]:
        """Run virtual time forward `ms` milliseconds; return what happened, in order."""
        if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
            raise CommandError("ms", f"must be a whole number of milliseconds >= 0, not {ms!r}")
        self.clock.run_until(self.clock.now_ms + ms)
        return self._take_events()

    def advance_to(self, t_ms: int) -> list[dict]:
        if isinstance(t_ms, bool) or not isinstance(t_ms, int) or t_ms < self.clock.now_ms:
            raise CommandError("t_ms", f"must be a whole number >= now ({self.clock.now_ms})")
        return self.advance(t_ms - self.clock.now_ms)

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
            "brokers": [dict(self.brokers[b]) for b in sorted(self.brokers)],
            "zookeeper": {path: self.zk[path] for path in sorted(self.zk)},
            "topics": {name: self.topics[name].state() for name in sorted(self.topics)},
            "groups": {gid: self.groups[gid].snapshot() for gid in sorted(self.groups)},
            "producers": {pid: self.producers[pid].state() for pid in sorted(self.producers)},
        }

    # -- events -------------------------------------------------------------------------------

    def event(self, kind: str, **fields) -> dict:
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

    def _zk_set(self, path: str, value, ephemeral_owner: int | None = None) -> None:
        created = path not in self.zk
        self.zk[path] = value
        fields = {"path": path, "value": value}
        if ephemeral_owner is not None:
            fields["ephemeral_owner"] = ephemeral_owner
        self.event("zk.node_created" if created else "zk.node_changed", **fields)

    def _zk_delete(self, path: str) -> None:
        if self.zk.pop(path, None) is not None:
            self.event("zk.node_deleted", path=path)

    def _start_brokers(self) -> None:
        # Brokers register in id order, so broker 1 creates /controller first and wins.
        for b in sorted(self.brokers):
            self.event("broker.started", broker=b)
            self._zk_set(f"/brokers/ids/{b}", {"host": f"broker-{b}", "port": 9091 + b},
                         ephemeral_owner=b)
        self.controller = min(self.brokers)
        self.controller_epoch = 1
        self._zk_set("/controller", {"brokerid": self.controller}, ephemeral_owner=self.controller)
        self._zk_set("/controller_epoch", self.controller_epoch)
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
            "produce": self._produce_command,
            "producer.add": self._producer_add,
            "producer.remove": self._producer_remove,
            "consumer.add": self._consumer_add,
            "consumer.remove": self._consumer_remove,
            "consumer.crash": self._consumer_crash,
            "group.configure": self._group_configure,
            "group.reset_offsets": self._group_reset_offsets,
            "group.delete": self._group_delete,
        }

    def _existing_topic(self, command: dict, field: str = "name") -> Topic:
        name = v.string(command, field, max_length=249)
        topic = self.topics.get(name)
        if topic is None:
            raise CommandError(field, f"no topic named {name!r}")
        return topic

    def _topic_create(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "name", "partitions", "replication_factor",
                                     "config"}))
        name = validate_topic_name(c.get("name"))
        if name in self.topics:
            raise CommandError("name", f"topic {name!r} already exists")
        for other in self.topics:
            if collision_key(other) == collision_key(name):
                raise CommandError("name", f"topic {name!r} collides with existing topic "
                                   f"{other!r} ('.' and '_' count as the same)")
        partitions = v.integer(c, "partitions", default=1, minimum=1, maximum=MAX_PARTITIONS)
        live = self.live_brokers()
        rf = v.integer(c, "replication_factor", default=1, minimum=1)
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
        self.event("topic.created", topic=name, partitions=partitions, replication_factor=rf,
                   config=dict(config), assignment=[list(r) for r in assignment])
        self._zk_set(f"/brokers/topics/{name}",
                     {"partitions": {str(i): list(r) for i, r in enumerate(assignment)}})
        for part in topic.partitions:
            self._announce_partition(part)
        self._metadata_changed(name, "topic created")

    def _announce_partition(self, part) -> None:
        self._zk_set(f"/brokers/topics/{part.topic.name}/partitions/{part.index}/state",
                     {"leader": part.leader, "leader_epoch": part.leader_epoch,
                      "isr": list(part.isr), "controller_epoch": self.controller_epoch})
        self.event("partition.leader_elected", topic=part.topic.name, partition=part.index,
                   leader=part.leader, epoch=part.leader_epoch, isr=list(part.isr),
                   unclean=False, reason="new partition: preferred replica")

    def _topic_delete(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "name"}))
        topic = self._existing_topic(c)
        name = topic.name
        for part in topic.partitions:
            for timer in list(part.fetch_timers.values()):
                timer.cancel()
            if part.retention_timer is not None:
                part.retention_timer.cancel()
        for gid in sorted(self.groups):
            self.groups[gid].forget_partitions(topic.partitions)
        del self.topics[name]
        self.event("topic.deleted", topic=name)
        for part in topic.partitions:
            self._zk_delete(f"/brokers/topics/{name}/partitions/{part.index}/state")
        self._zk_delete(f"/brokers/topics/{name}")
        self._metadata_changed(name, "topic deleted")

    def _topic_alter_config(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "name", "config"}))
        topic = self._existing_topic(c)
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
        topic = self._existing_topic(c)
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
        self._zk_set(f"/brokers/topics/{topic.name}",
                     {"partitions": {str(p.index): list(p.replicas) for p in topic.partitions}})
        for part in topic.partitions[current:]:
            self._announce_partition(part)
        self._metadata_changed(topic.name, "partitions added")

    def _metadata_changed(self, topic: str, reason: str) -> None:
        for gid in sorted(self.groups):
            group = self.groups[gid]
            if group.members and topic in group.subscribed_topics():
                group.prepare(f"{reason}: {topic}")

    # -- producing ----------------------------------------------------------------------------

    def _produce_command(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "topic", "value", "key", "headers", "partition",
                                     "acks", "producer"}))
        topic = self._existing_topic(c, "topic")
        value = v.string(c, "value", default=None, nullable=True, max_length=MAX_VALUE_CHARS)
        key = v.string(c, "key", default=None, nullable=True, max_length=10_000)
        headers = self._headers(c)
        partition = v.integer(c, "partition", default=None, minimum=0)
        if partition is not None and partition >= len(topic.partitions):
            raise CommandError("partition", f"topic {topic.name!r} has partitions 0 to "
                               f"{len(topic.partitions) - 1}; there is no partition {partition}")
        acks = _acks(c)
        producer = v.identifier(c, "producer", default="console", what="producer id")
        self.produce(topic.name, value, key=key, headers=headers, partition=partition,
                     acks=acks, producer=producer)

    def _headers(self, c: dict) -> dict | None:
        headers = c.get("headers")
        if headers is None:
            return None
        if not isinstance(headers, dict):
            raise CommandError("headers", "must be an object of header names to string values")
        if len(headers) > MAX_HEADERS:
            raise CommandError("headers", f"at most {MAX_HEADERS} headers")
        for name, value in headers.items():
            if value is not None and not isinstance(value, str):
                raise CommandError(f"headers.{name}", "a header value must be a string or null")
        return dict(headers) or None

    def produce(self, topic_name: str, value, key=None, headers=None, partition=None,
                acks: str = "all", producer: str = "console") -> int | None:
        """Append one record as a producer would; returns its offset, or None if it failed."""
        return self.produce_batch(topic_name, [(key, value, headers, partition)], acks,
                                  producer)

    def produce_batch(self, topic_name: str, records: list, acks: str, producer: str,
                      hashes: dict | None = None):
        """Append records ``(key, value, headers, partition or None)`` in order, as one producer
        sends them; return the last offset written (None if the last failed).

        Everything per record (choosing the partition, the checks a leader makes, the append,
        the events) happens in this loop; what depends only on which partitions were touched
        (waking consumers, scheduling follower fetches and retention) happens once, after it.
        `hashes` may remember murmur2 results for a producer whose keys repeat.
        """
        topic = self.topics.get(topic_name)
        if topic is None:
            for key, value, _, partition in records:
                self.event("produce.failed", topic=topic_name, partition=partition, key=key,
                           value=value, producer=producer, acks=acks,
                           error="UNKNOWN_TOPIC_OR_PARTITION",
                           message=f"topic {topic_name!r} does not exist")
            return None
        parts = topic.partitions
        n = len(parts)
        config = topic.config
        max_bytes = config["max.message.bytes"]
        min_isr = config["min.insync.replicas"] if acks == "all" else 0
        now = self.clock.now_ms
        events = self.events
        emit = events.append
        touched: dict = {}
        offset = None
        seq = self.seq
        for key, value, headers, partition in records:
            if headers is None and value is not None and value.isascii() and (
                    key is None or key.isascii()):
                size = len(value) if key is None else len(value) + len(key)
            else:
                size = record_size(key, value, headers)
            if partition is not None:
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
            if part.leader is None or size > max_bytes or len(part.isr) < min_isr:
                self.seq = seq
                self._produce_failed(part, key, value, size, acks, producer, why)
                seq = self.seq
                offset = None
                continue
            log = part.leader_log
            offset = log.append(key, value, headers, now, size, part.leader_epoch)
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
            emit(event)
            if acks == "1" or (single and acks == "all"):
                seq += 1
                emit({"seq": seq, "t_ms": now, "type": "record.acked",
                      "topic": topic_name, "partition": partition, "offset": offset,
                      "producer": producer, "acks": acks})
            elif acks == "all":
                part.awaiting_ack.append((offset, producer))
            touched[part] = single
        self.seq = seq
        for part, single in touched.items():
            if len(part.replicas) > 1:
                self._schedule_follower_fetches(part)
            if single:
                for member in part.watchers:
                    member.wake()
            self._schedule_retention(part)
        if touched and self.config["retained.records.max"]:
            self._enforce_record_budget()
        return offset

    def _sticky(self, producer: str) -> StickyPartitioner:
        sticky = self._partitioners.get(producer)
        if sticky is None:
            sticky = StickyPartitioner(self.rng(f"sticky/{producer}"))
            self._partitioners[producer] = sticky
        return sticky

    def _produce_failed(self, part, key, value, size: int, acks: str, producer: str,
                        why: dict) -> None:
        config = part.topic.config
        if part.leader is None:
            error = ("LEADER_NOT_AVAILABLE", "the partition has no leader")
        elif size > config["max.message.bytes"]:
            error = ("MESSAGE_TOO_LARGE", f"the record is {size:,} bytes; max.message.bytes is "
                                          f"{config['max.message.bytes']:,}")
        else:
            error = ("NOT_ENOUGH_REPLICAS", f"the ISR has {len(part.isr)} replica(s); "
                     f"min.insync.replicas is {config['min.insync.replicas']}")
        self.event("produce.failed", topic=part.topic.name, partition=part.index, key=key,
                   value=value, producer=producer, acks=acks, error=error[0],
                   message=error[1], why=why)

    # -- replication --------------------------------------------------------------------------

    def _schedule_follower_fetches(self, part) -> None:
        interval = self.config["replica.fetch.interval.ms"]
        due = next_tick(self.clock.now_ms, interval)
        for broker in part.replicas:
            if broker == part.leader or broker in part.fetch_timers:
                continue
            if not self.brokers[broker]["up"]:
                continue
            part.fetch_timers[broker] = self.clock.at(due, self._follower_fetch, (part, broker))

    def _follower_fetch(self, arg) -> None:
        part, broker = arg
        del part.fetch_timers[broker]
        leader_log = part.leader_log
        log = part.logs[broker]
        if log.end_offset < leader_log.start_offset:
            # Kafka's OFFSET_OUT_OF_RANGE for a follower: what it lacks is gone from the leader
            # too, so it starts its log over at the leader's log start.
            log.restart_at(leader_log.start_offset)
        start, end = log.end_offset, leader_log.end_offset
        if end > start:
            log.copy_from(leader_log, start, end)
            self.event("record.replicated", topic=part.topic.name, partition=part.index,
                       broker=broker, offset=start, count=end - start, log_end_offset=end)
        if leader_log.start_offset > log.start_offset:
            log.delete_before(leader_log.start_offset)
        self._update_high_watermark(part)

    def _update_high_watermark(self, part) -> None:
        hw = part.isr_high_watermark()
        if hw <= part.high_watermark:
            return
        part.high_watermark = hw
        self.event("partition.high_watermark", topic=part.topic.name, partition=part.index,
                   high_watermark=hw)
        waiting = part.awaiting_ack
        done = 0
        while done < len(waiting) and waiting[done][0] < hw:
            offset, producer = waiting[done]
            self.event("record.acked", topic=part.topic.name, partition=part.index,
                       offset=offset, producer=producer, acks="all")
            done += 1
        if done:
            del waiting[:done]
        for member in part.watchers:
            member.wake()

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
        if timer is not None:
            if due is not None and timer.due_ms <= due:
                return
            timer.cancel()
            part.retention_timer = None
        if due is not None:
            part.retention_timer = self.clock.at(due, self._retention_pass, part)

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
            first = log.start_offset
            for b in part.replicas:
                part.logs[b].delete_before(cut)
            self.event("record.expired", topic=part.topic.name, partition=part.index,
                       offset=first, count=cut - first, log_start_offset=cut, reason=reason)
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
        parts = [p for topic in self.topics.values() for p in topic.partitions]
        excess = sum(len(p.leader_log) for p in parts) - budget
        if excess <= 0:
            return
        heap = []
        for i, p in enumerate(parts):
            log = p.leader_log
            if log.start_offset < min(p.high_watermark, log.end_offset):
                heap.append((log.timestamp_at(log.start_offset), i))
        heapq.heapify(heap)
        cuts: dict[int, int] = {}
        while excess > 0 and heap:
            _, i = heap[0]
            part = parts[i]
            cut = cuts.get(i, part.leader_log.start_offset) + 1
            cuts[i] = cut
            excess -= 1
            if cut < min(part.high_watermark, part.leader_log.end_offset):
                heapq.heapreplace(heap, (part.leader_log.timestamp_at(cut), i))
            else:
                heapq.heappop(heap)
        for i in sorted(cuts):
            part, cut = parts[i], cuts[i]
            first = part.leader_log.start_offset
            for b in part.replicas:
                part.logs[b].delete_before(cut)
            self.event("record.expired", topic=part.topic.name, partition=part.index,
                       offset=first, count=cut - first, log_start_offset=cut,
                       reason="retained.records.max")

    # -- producer workloads -------------------------------------------------------------------

    def _producer_add(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "id", "topic", "rate_per_s", "keys", "acks",
                                     "value", "value_bytes"}))
        pid = v.identifier(c, "id", what="producer id")
        if pid in self.producers:
            raise CommandError("id", f"a producer {pid!r} is already running")
        topic = self._existing_topic(c, "topic")
        rate = v.number(c, "rate_per_s", minimum=MIN_RATE_PER_S, maximum=MAX_RATE_PER_S)
        keys = parse_keys(c.get("keys", {"kind": "sequence"}))
        acks = _acks(c)
        value = v.string(c, "value", default="{key}", max_length=10_000)
        value_bytes = v.integer(c, "value_bytes", default=None, minimum=0, maximum=1_000_000)
        spec = {"id": pid, "topic": topic.name, "rate_per_s": rate, "keys": keys, "acks": acks,
                "value": value, "value_bytes": value_bytes}
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
        self.produce_batch(workload.topic, records, workload.acks, workload.id,
                           workload.hashes)
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
        if "max_attempts" in c:
            config["max_attempts"] = v.integer(c, "max_attempts", minimum=1, maximum=100)
        if "retry_backoff_ms" in c:
            config["retry_backoff_ms"] = v.integer(c, "retry_backoff_ms", minimum=0,
                                                   maximum=86_400_000)
        if "processing_timeout_ms" in c:
            config["processing_timeout_ms"] = v.integer(c, "processing_timeout_ms", minimum=1,
                                                        maximum=30 * 86_400_000)
        if "message_timeout_ms" in c:
            config["message_timeout_ms"] = v.integer(c, "message_timeout_ms", default=None,
                                                     minimum=1, maximum=30 * 86_400_000)
        if "dead_letter_topic" in c and c["dead_letter_topic"] is not None:
            config["dead_letter_topic"] = validate_topic_name(c["dead_letter_topic"],
                                                              "dead_letter_topic")
        return config

    def _group_configure(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "group", "assignor", "session_timeout_ms",
                                     "heartbeat_interval_ms", "auto_offset_reset",
                                     "max_attempts", "retry_backoff_ms", "processing_timeout_ms",
                                     "message_timeout_ms", "dead_letter_topic"}))
        gid = v.identifier(c, "group", what="group id")
        group = self.groups.get(gid)
        config = self._group_config(c, group.config if group else GROUP_DEFAULTS)
        for mid, member in (group.members.items() if group else ()):
            if member.processing_ms >= config["processing_timeout_ms"]:
                raise CommandError("processing_timeout_ms", f"consumer {mid!r} takes "
                                   f"{member.processing_ms:,} ms a record; processing timeouts "
                                   "are not modelled yet, so the timeout must be longer")
        if group is None:
            group = self.groups[gid] = Group(self, gid, config)
            self.event("group.created", group=gid, config=dict(config))
            return
        changed = {k: config[k] for k in config if config[k] != group.config[k]}
        group.config = config
        self.event("group.configured", group=gid, changes=changed, config=dict(config))
        if "assignor" in changed and group.members:
            group.prepare(f"assignor changed to {config['assignor']}")

    def _get_group(self, c: dict) -> Group:
        gid = v.identifier(c, "group", what="group id")
        group = self.groups.get(gid)
        if group is None:
            raise CommandError("group", f"no group named {gid!r}")
        return group

    def _consumer_add(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "group", "id", "topics", "processing_ms",
                                     "failure_rate", "commit", "emits"}))
        gid = v.identifier(c, "group", what="group id")
        group = self.groups.get(gid)
        mid = v.identifier(c, "id", default=None, what="consumer id")
        if mid is not None and group is not None and mid in group.members:
            raise CommandError("id", f"consumer {mid!r} is already in group {gid!r}")
        topics = v.string_list(c, "topics", min_items=1, max_items=50)
        for i, name in enumerate(topics):
            validate_topic_name(name, f"topics[{i}]")
        processing_ms = v.integer(c, "processing_ms", default=0, minimum=0,
                                  maximum=30 * 86_400_000)
        limit = (group.config if group else GROUP_DEFAULTS)["processing_timeout_ms"]
        if processing_ms >= limit:
            raise CommandError("processing_ms", f"must be below the group's "
                               f"processing_timeout_ms ({limit:,}); processing timeouts are not "
                               "modelled yet")
        failure_rate = v.number(c, "failure_rate", default=0, minimum=0, maximum=1)
        if failure_rate:
            raise CommandError("failure_rate", "failing consumers arrive with retries and dead "
                               "letters (broker core part 2); use 0 for now")
        if c.get("emits"):
            raise CommandError("emits", "pipelines (consumers that produce) arrive with broker "
                               "core part 2")
        commit = v.choice(c, "commit", ("after", "before", "auto"), default="after")
        if group is None:
            group = self.groups[gid] = Group(self, gid, dict(GROUP_DEFAULTS))
            self.event("group.created", group=gid, config=dict(group.config))
        if mid is None:
            while f"{gid}-{group.next_member_number}" in group.members:
                group.next_member_number += 1
            mid = f"{gid}-{group.next_member_number}"
            group.next_member_number += 1
        member = Member(group, mid, topics, processing_ms, commit, self.clock.now_ms)
        group.join(member)

    def _member(self, c: dict, verb: str) -> tuple[Group, Member]:
        v.check_fields(c, frozenset({"type", "group", "id"}))
        group = self._get_group(c)
        mid = v.identifier(c, "id", what="consumer id")
        member = group.members.get(mid)
        if member is None:
            raise CommandError("id", f"group {group.id!r} has no consumer {mid!r}")
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
        topic = self._existing_topic(c, "topic")
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
            group.commit_offset(None, part, offset, reason=f"reset to {to}")

    def _group_delete(self, c: dict) -> None:
        v.check_fields(c, frozenset({"type", "group"}))
        group = self._get_group(c)
        if group.members:
            raise CommandError("group", f"group {group.id!r} is not empty "
                               f"(NON_EMPTY_GROUP): it has {len(group.members)} member(s)")
        group.transition("Dead")
        del self.groups[group.id]
        self.event("group.deleted", group=group.id)


__all__ = ["COMMAND_TYPES", "Cluster", "CommandError"]
