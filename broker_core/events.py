"""The catalogue of events: every event type the model announces, its fields, one constructor
each, and the sinks that receive them.

Every event is a dict ``{"seq", "t_ms", "type", <fields>}`` (shared/DESIGN.md's contract).
`CATALOGUE` lists each type once: what it means, the fields it always carries and the ones it
carries when they apply. It is what narration checks a step's ``when`` against, what
``python -m broker_core events`` prints for docs/EVENTS.md, and what the page's event log is
tested against.

Constructors. Each type has one, named after it (``topic.created`` -> `topic_created`), and
every emitter uses it:

- A structural event (rare: topics, brokers, groups, elections) is emitted with
  ``ev.topic_created(cluster, topic=..., ...)``: its fields are checked against the catalogue
  (a missing or unknown field is a programming error and raises at once), stamped with the
  cluster's next ``seq`` and its clock, and appended to its events. The fields keep the order
  the emitter gives them: the event stream is compared byte for byte across versions, and
  where a type carries different optional fields in different situations the emitter orders
  them as the situation reads.
- A per-record event (`BULK`: what a busy producer multiplies, millions a day) is too hot for
  a check per call: the emitter keeps its own ``seq`` and calls the sink's method of that name
  with the fields positionally (``out.record_acked(seq, t_ms, topic, ...)``). `Events`, the
  default sink, builds the contract's dict; `tests/broker_core/test_events.py` reads every
  emitter's source to check the names it uses, and checks the dicts against the catalogue.

Sinks. A host that does not need a dict per record (one that counts, or folds what it cannot
show into per-partition aggregates) gives the cluster a `Folding` sink: the per-record events
then cost a counter each instead of a dict, while every structural event stays a dict in
order. `Cluster.apply` and `advance` without a sink still return the contract's dicts.
"""

from __future__ import annotations

from typing import NamedTuple


class EventType(NamedTuple):
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    meaning: str


def _t(name: str, required: tuple, optional: tuple, meaning: str) -> EventType:
    return EventType(name, tuple(required), tuple(optional), " ".join(meaning.split()))


_TYPES = (
    # -- brokers, the controller and ZooKeeper ---------------------------------------------------
    _t("broker.started", ("broker",), (),
       "A broker is up (at the cluster's start, or after broker.start) and registered in "
       "ZooKeeper."),
    _t("broker.stopping", ("broker", "mode"), (),
       "A clean stop began: the broker asks the controller to move its leaderships away first "
       "(controlled shutdown)."),
    _t("broker.stopped", ("broker", "mode"), ("session_expires_ms", "leaves_isr_ms"),
       "A broker is down. mode is clean or crash; after a crash, session_expires_ms says when "
       "ZooKeeper will notice and leaves_isr_ms when its followers drop out of the ISR."),
    _t("broker.session_expired", ("broker", "session_timeout_ms"), (),
       "ZooKeeper noticed a crashed broker: its session timed out, its ephemeral nodes go."),
    _t("broker.configured", ("broker", "replica_fetch_delay_ms"), (),
       "A broker's settings changed (broker.configure): how late its follower fetches answer."),
    _t("controller.elected", ("broker", "epoch"), ("reason",),
       "A broker created /controller and is the controller, with a new controller epoch."),
    _t("controller.none", ("reason",), (),
       "No live broker can be controller: nobody elects leaders until one comes back."),
    _t("zk.node_created", ("path", "value"), ("ephemeral_owner",),
       "A ZooKeeper node was created (ephemeral ones name the broker session that owns them)."),
    _t("zk.node_changed", ("path", "value"), (),
       "A ZooKeeper node's value changed (a partition's leader and ISR, the controller epoch)."),
    _t("zk.node_deleted", ("path",), (),
       "A ZooKeeper node was deleted (an ephemeral one when its broker's session ends)."),
    # -- topics and partitions -----------------------------------------------------------------
    _t("topic.created", ("topic", "partitions", "replication_factor", "config", "assignment"),
       ("client", "auto"),
       "A topic exists: its partitions, replication factor, config and each partition's "
       "replicas. client names a real client that created it; auto, one created because a "
       "client asked for it by name."),
    _t("topic.deleted", ("topic",), ("client",),
       "A topic is gone, with its records and its groups' offsets."),
    _t("topic.config_changed", ("topic", "changes", "previous", "config"), (),
       "A topic's config changed: what changed, what it was, the whole config now."),
    _t("topic.partitions_added", ("topic", "partitions", "previous", "assignment"), (),
       "A topic grew to more partitions (they only grow); keys may now hash elsewhere."),
    _t("partition.leader_elected", ("topic", "partition", "leader", "epoch", "isr", "unclean",
                                    "reason", "log_end_offset"), ("previous_leader",),
       "A partition has a new leader and leader epoch; unclean when it was not in the ISR."),
    _t("partition.offline", ("topic", "partition", "previous_leader", "epoch", "isr", "leader",
                             "reason"), (),
       "A partition has no leader (leader is null): nobody can produce to it or read it."),
    _t("partition.isr_changed", ("topic", "partition", "isr", "previous", "reason"), (),
       "A follower left or rejoined a partition's in-sync replicas."),
    _t("partition.high_watermark", ("topic", "partition", "high_watermark"), (),
       "A partition's high watermark moved: records below it are committed and readable."),
    _t("leader.preferred_election", ("partitions", "moved"), (),
       "The controller moved leaderships back to each partition's preferred replica."),
    _t("replica.truncated", ("topic", "partition", "broker", "offset", "count",
                             "previous_log_end_offset", "reason"), (),
       "A follower cut its log where it diverged from the new leader's (KIP-101)."),
    # -- producing -------------------------------------------------------------------------------
    _t("producer.added", ("producer", "topic", "rate_per_s", "keys", "acks"), (),
       "A modelled producer started sending at its rate."),
    _t("producer.removed", ("producer", "sent"), (),
       "A modelled producer stopped; sent counts its records."),
    _t("producer.id_assigned", ("producer_id", "producer_epoch", "client"), (),
       "A real client's idempotent producer got its id and epoch (InitProducerId)."),
    _t("record.produced", ("topic", "partition", "offset", "key", "value", "leader", "producer",
                           "acks", "why", "high_watermark"),
       ("headers", "cause", "retry", "duplicate_of"),
       "A record was appended to its partition's leader at offset; why says how the partition "
       "was chosen (murmur2 with its hash, sticky, explicit or the client's); cause names the "
       "record whose processing emitted it; retry, the attempt of a resend."),
    _t("record.acked", ("topic", "partition", "offset", "producer", "acks"), (),
       "The producer would get its acknowledgement now: at append for acks=1, when the high "
       "watermark passes the record for acks=all, never for acks=0."),
    _t("record.replicated", ("topic", "partition", "broker", "offset", "count",
                             "log_end_offset"), (),
       "A follower copied count records from its leader, the last at offset."),
    _t("produce.failed", ("topic", "partition", "producer", "error", "message", "retriable"),
       ("key", "value", "keys", "count", "acks", "offsets", "attempt", "why", "will_retry",
        "cause"),
       "A produce was refused with Kafka's error name (NOT_ENOUGH_REPLICAS, "
       "MESSAGE_TOO_LARGE, ...): one record (key, value) or a batch (count, keys or offsets); "
       "will_retry when the producer will send it again."),
    _t("produce.deduplicated", ("topic", "partition", "producer", "producer_id",
                                "base_sequence", "base_offset", "count", "acks", "reason"), (),
       "An idempotent producer's batch arrived again and was answered with its first "
       "offsets, not appended twice."),
    _t("record.deduplicated", ("topic", "partition", "offset", "producer", "attempt", "reason"),
       (),
       "A modelled idempotent producer's resend was recognised: the record is already there."),
    _t("record.truncated", ("topic", "partition", "offset", "key", "value", "acks",
                            "will_retry", "reason"), (),
       "A record not yet acknowledged was cut from a log by a leader change; the producer "
       "resends it if it will_retry."),
    _t("record.lost", ("topic", "partition", "offset", "key", "value", "acks", "reason"), (),
       "An acknowledged record is gone: cut away by an unclean or stale leader."),
    _t("record.expired", ("topic", "partition", "offset", "count", "log_start_offset",
                          "reason"), (),
       "Retention (time, bytes, the room's budget) or DeleteRecords removed count records up "
       "to offset; the log now starts at log_start_offset."),
    # -- groups ----------------------------------------------------------------------------------
    _t("group.created", ("group", "config"), ("kind",),
       "A consumer group exists; kind says clients when real clients make it up."),
    _t("group.configured", ("group", "changes", "config"), (),
       "A group's settings changed (group.configure)."),
    _t("group.deleted", ("group",), (),
       "An empty group and its committed offsets are gone."),
    _t("group.taken_over", ("group", "kind", "generation"), (),
       "A group passed between modelled consumers and real clients, keeping its offsets."),
    _t("group.state_changed", ("group", "from", "to", "generation"), (),
       "The coordinator moved the group between Empty, PreparingRebalance, "
       "CompletingRebalance, Stable and Dead."),
    _t("group.member_pending", ("group", "consumer", "client", "expires_ms"), (),
       "A real client got a member id and must join again with it (KIP-394) before "
       "expires_ms."),
    _t("group.member_pending_expired", ("group", "consumer"), (),
       "A pending member did not come back in time and is forgotten."),
    _t("group.member_pending_left", ("group", "consumer"), (),
       "A pending member left before it joined."),
    _t("group.member_joined", ("group", "consumer", "topics", "generation"),
       ("commit", "kind", "client", "protocols", "instance_id", "replaces"),
       "A member joined the group (a real client's with its client, protocols and, when "
       "static, its instance_id; replaces names the member id a restarted static member took "
       "over)."),
    _t("group.member_left", ("group", "consumer", "generation"), ("in_flight", "kind", "reason"),
       "A member left the group politely (LeaveGroup)."),
    _t("group.member_expired", ("group", "consumer", "generation"), ("kind", "reason"),
       "A member was removed by the coordinator: its session timed out, or it missed the "
       "join or sync deadline."),
    _t("group.subscription_changed", ("group", "subscriptions"), (),
       "Members' subscriptions changed (a topic appeared or went)."),
    _t("group.rebalance_started", ("group", "generation", "reason", "protocol"), (),
       "A rebalance began: every member must join again."),
    _t("group.join_completed", ("group", "generation", "leader", "protocol_name", "protocol",
                                "members"), (),
       "The join barrier fell for real clients: a new generation, its leader and protocol."),
    _t("group.rebalance_completed", ("group", "generation", "leader", "assignor", "protocol",
                                     "assignment"), ("kind", "ignored"),
       "The group has a new assignment: which member owns which partitions."),
    _t("partition.assigned", ("group", "consumer", "partitions", "generation"), (),
       "A member was given partitions ([topic, partition] pairs)."),
    _t("partition.revoked", ("group", "consumer", "partitions", "generation", "reason"), (),
       "A member gave partitions up."),
    _t("consumer.crashed", ("group", "consumer", "in_flight", "session_expires_ms"), (),
       "A modelled consumer died silently; the coordinator notices at session_expires_ms."),
    _t("consumer.hung", ("group", "consumer", "in_flight"), (),
       "A modelled consumer stopped making progress but keeps heartbeating."),
    _t("consumer.recovered", ("group", "consumer", "in_flight"), (),
       "A hung consumer goes on."),
    # -- delivery to consumers -------------------------------------------------------------------
    _t("record.delivered", ("group", "consumer", "topic", "partition", "offset", "attempt"),
       ("times_out_ms",),
       "A consumer received a record (attempt 1, 2, ... for redeliveries)."),
    _t("record.processed", ("group", "consumer", "topic", "partition", "offset", "attempt"), (),
       "A consumer finished processing a record successfully."),
    _t("record.failed", ("group", "consumer", "topic", "partition", "offset", "attempt",
                         "max_attempts", "error"), ("revoked",),
       "An attempt to process a record failed (every failed attempt, the last included)."),
    _t("record.timed_out", ("group", "consumer", "topic", "partition", "offset", "kind",
                            "attempt"),
       ("delivered_ms", "processing_timeout_ms", "age_ms", "message_timeout_ms"),
       "A record ran out of time: kind processing (since delivered_ms) or message (age_ms "
       "since it was produced)."),
    _t("record.retry_scheduled", ("group", "consumer", "topic", "partition", "offset",
                                  "attempt", "delay_ms", "due_ms", "retry_topic"),
       ("retry_partition", "retry_offset"),
       "A failed record will be tried again at due_ms, in place or through a retry topic."),
    _t("record.dead_lettered", ("group", "consumer", "topic", "partition", "offset", "attempts",
                                "reason", "error", "dead_letter_topic", "dead_letter_partition",
                                "dead_letter_offset"), ("original",),
       "A record that kept failing was written to the dead-letter topic."),
    _t("record.dropped", ("group", "consumer", "topic", "partition", "offset", "attempts",
                          "reason", "error", "dead_letter_topic", "why"), (),
       "A record that kept failing could not be dead-lettered and is skipped."),
    _t("record.abandoned", ("group", "consumer", "topic", "partition", "offset", "attempt",
                            "phase", "reason"), (),
       "A consumer let go of the record in hand (it lost the partition, left or crashed)."),
    _t("dead_letter.replay_started", ("topic", "partition", "from_offset", "to_offset",
                                      "records"), (),
       "Records from a dead-letter topic are being sent back to their topics."),
    _t("dead_letter.replayed", ("topic", "partition", "from_offset", "to_offset", "replayed",
                                "skipped", "skipped_reasons"), (),
       "A dead-letter replay finished: how many went back and why others did not."),
    # -- offsets ---------------------------------------------------------------------------------
    _t("offset.committed", ("group", "consumer", "topic", "partition", "offset"), ("reason",),
       "A group committed the next offset to read on a partition."),
    _t("offset.commit_failed", ("group", "consumer", "topic", "partition", "offset", "error",
                                "reason"), (),
       "A commit was refused (the member no longer owns the partition)."),
    _t("offset.reset", ("group", "consumer", "topic", "partition", "offset", "previous",
                        "reason"), (),
       "A group's position moved: its offset was out of range, or an operator reset it."),
    _t("offset.deleted", ("group", "topic", "partition"), (),
       "A group's committed offset on a partition was deleted (OffsetDelete)."),
    # -- the room --------------------------------------------------------------------------------
    _t("command.rejected", ("at_ms", "command", "field", "message", "source"), (),
       "A scenario's scheduled command was invalid when its time came; the run goes on."),
)

CATALOGUE: dict[str, EventType] = {t.name: t for t in _TYPES}

# The per-record events: a busy producer multiplies these (see the module docstring). Built
# positionally by the sink's methods, never through the checked constructor.
BULK = ("record.produced", "record.acked", "record.replicated", "partition.high_watermark",
        "record.delivered", "record.processed", "offset.committed")


def method_name(kind: str) -> str:
    """``topic.created`` -> ``topic_created``: a constructor's and a sink method's name."""
    return kind.replace(".", "_")


# -- structural events: checked constructors ---------------------------------------------------

def _constructor(kind: str):
    spec = CATALOGUE[kind]
    required = frozenset(spec.required)
    allowed = required | frozenset(spec.optional)

    def construct(cluster, /, **fields) -> dict:
        keys = fields.keys()
        if not (required <= keys <= allowed):
            missing = sorted(required - keys)
            unknown = sorted(keys - allowed)
            raise TypeError(f"event {kind}: " + "; ".join(
                part for part in (f"missing {', '.join(missing)}" if missing else "",
                                  f"unknown {', '.join(unknown)}" if unknown else "") if part))
        return cluster.event(kind, **fields)

    construct.__name__ = construct.__qualname__ = method_name(kind)
    construct.__doc__ = (f"``{kind}``: {spec.meaning}\n\nFields: {', '.join(spec.required)}"
                         + (f"; when they apply: {', '.join(spec.optional)}"
                            if spec.optional else "") + ".")
    return construct


for _kind in CATALOGUE:
    if _kind not in BULK:
        globals()[method_name(_kind)] = _constructor(_kind)
del _kind


def check(event: dict) -> str | None:
    """What is wrong with `event` against the catalogue, or None (tests use it)."""
    spec = CATALOGUE.get(event.get("type"))
    if spec is None:
        return f"unknown event type {event.get('type')!r}"
    keys = set(event) - {"seq", "t_ms", "type"}
    missing = set(spec.required) - keys
    unknown = keys - set(spec.required) - set(spec.optional)
    if missing or unknown:
        return f"{spec.name}: missing {sorted(missing)}, unknown {sorted(unknown)}"
    return None


# -- per-record events: sinks ------------------------------------------------------------------

class Events:
    """The default sink: each per-record event built as the contract's dict and appended to
    the cluster's event list, in order. Its methods are the per-record types' constructors;
    the field order of each dict is fixed here."""

    __slots__ = ("append",)

    def __init__(self, events: list):
        self.append = events.append

    def record_produced(self, seq, t_ms, topic, partition, offset, key, value, leader,
                        producer, acks, why, high_watermark, headers=None, cause=None,
                        retry=None, duplicate_of=None) -> None:
        event = {"seq": seq, "t_ms": t_ms, "type": "record.produced", "topic": topic,
                 "partition": partition, "offset": offset, "key": key, "value": value,
                 "leader": leader, "producer": producer, "acks": acks, "why": why,
                 "high_watermark": high_watermark}
        # A resend says so first (retry, duplicate_of), then the record's own headers and
        # cause: the order both kinds of append always wrote.
        if retry is not None:
            event["retry"] = retry
            if duplicate_of is not None:
                event["duplicate_of"] = duplicate_of
        if headers:
            event["headers"] = headers
        if cause:
            event["cause"] = cause
        self.append(event)

    def records_appended(self, seq, t_ms, topic, partition, first, keys, values, headers,
                         leader, producer, acks, why, single, acked, high_watermark) -> None:
        """A real client's batch appended whole (producing.append_batch): each record's
        record.produced, each followed by its record.acked when `acked`, numbered from
        seq + 1, as a loop over the records would make them. `why(i)`: how record i came to
        its partition; `headers`: {index in the batch: headers} or None; `single`: the
        leader is the only in-sync replica, so the high watermark moved with each record
        (else it is `high_watermark`, unmoved)."""
        produced, acked_ = self.record_produced, self.record_acked
        headers = headers or {}
        for i, key in enumerate(keys):
            offset = first + i
            seq += 1
            produced(seq, t_ms, topic, partition, offset, key, values[i], leader, producer,
                     acks, why(i), offset + 1 if single else high_watermark, headers.get(i))
            if acked:
                seq += 1
                acked_(seq, t_ms, topic, partition, offset, producer, acks)

    def record_acked(self, seq, t_ms, topic, partition, offset, producer, acks) -> None:
        self.append({"seq": seq, "t_ms": t_ms, "type": "record.acked", "topic": topic,
                     "partition": partition, "offset": offset, "producer": producer,
                     "acks": acks})

    def record_replicated(self, seq, t_ms, topic, partition, broker, offset, count,
                          log_end_offset) -> None:
        self.append({"seq": seq, "t_ms": t_ms, "type": "record.replicated", "topic": topic,
                     "partition": partition, "broker": broker, "offset": offset,
                     "count": count, "log_end_offset": log_end_offset})

    def partition_high_watermark(self, seq, t_ms, topic, partition, high_watermark) -> None:
        self.append({"seq": seq, "t_ms": t_ms, "type": "partition.high_watermark",
                     "topic": topic, "partition": partition, "high_watermark": high_watermark})

    def record_delivered(self, seq, t_ms, group, consumer, topic, partition, offset, attempt,
                         times_out_ms=None) -> None:
        event = {"seq": seq, "t_ms": t_ms, "type": "record.delivered", "group": group,
                 "consumer": consumer, "topic": topic, "partition": partition,
                 "offset": offset, "attempt": attempt}
        if times_out_ms is not None:
            event["times_out_ms"] = times_out_ms
        self.append(event)

    def record_processed(self, seq, t_ms, group, consumer, topic, partition, offset,
                         attempt) -> None:
        self.append({"seq": seq, "t_ms": t_ms, "type": "record.processed", "group": group,
                     "consumer": consumer, "topic": topic, "partition": partition,
                     "offset": offset, "attempt": attempt})

    def offset_committed(self, seq, t_ms, group, consumer, topic, partition, offset,
                         reason=None) -> None:
        event = {"seq": seq, "t_ms": t_ms, "type": "offset.committed", "group": group,
                 "consumer": consumer, "topic": topic, "partition": partition,
                 "offset": offset}
        if reason:
            event["reason"] = reason
        self.append(event)


class Folding(Events):
    """A sink for a host that counts or aggregates: each per-record event only moves a
    per-(type, topic, partition, group) count, with its first and last offset and seq and its
    last time. Structural events still arrive as dicts, in order. `take()` returns the counts
    gathered since the last call, in the shape of the page's frames' aggregates (frames.py)
    plus the last time: ``{"type", "topic", "partition", ["group",] "count",
    "first_offset", "last_offset", "first_seq", "last_seq", "last_t_ms", "aggregated":
    true}``; for ``record.produced`` and ``partition.high_watermark`` also where the high
    watermark got to (``high_watermark``; the latter has no offsets of its own)."""

    __slots__ = ("aggregates",)

    def __init__(self, events: list):
        super().__init__(events)
        # (type, topic, partition, group) -> [count, first offset, first seq, last offset,
        # last seq, last t_ms, high watermark or None]: a list moved in place costs less
        # than a dict per record.
        self.aggregates: dict = {}

    def _fold(self, key, seq, t_ms, offset) -> list:
        """Count one event under `key`; its aggregate (record_produced adds the watermark)."""
        agg = self.aggregates.get(key)
        if agg is None:
            agg = self.aggregates[key] = [1, offset, seq, offset, seq, t_ms, None]
        else:
            agg[0] += 1
            agg[3] = offset
            agg[4] = seq
            agg[5] = t_ms
        return agg

    def _fold_run(self, key, count, first_seq, last_seq, t_ms, first_offset,
                  last_offset) -> list:
        """Count `count` events under `key` at once (a batch's); its aggregate."""
        agg = self.aggregates.get(key)
        if agg is None:
            agg = self.aggregates[key] = [count, first_offset, first_seq, last_offset,
                                          last_seq, t_ms, None]
        else:
            agg[0] += count
            agg[3] = last_offset
            agg[4] = last_seq
            agg[5] = t_ms
        return agg

    def take(self) -> list[dict]:
        out = []
        for (kind, topic, partition, group), agg in self.aggregates.items():
            count, first_offset, first_seq, last_offset, last_seq, last_t_ms, hw = agg
            if kind == "partition.high_watermark":
                first_offset = last_offset = None
                hw = agg[3]
            entry = {"type": kind, "topic": topic, "partition": partition, "count": count,
                     "first_offset": first_offset, "last_offset": last_offset,
                     "first_seq": first_seq, "last_seq": last_seq, "last_t_ms": last_t_ms,
                     "aggregated": True}
            if group is not None:
                entry["group"] = group
            if hw is not None:
                entry["high_watermark"] = hw
            out.append(entry)
        self.aggregates = {}
        return out

    def record_produced(self, seq, t_ms, topic, partition, offset, key, value, leader,
                        producer, acks, why, high_watermark, *_) -> None:
        # A lone leader's high watermark moves with its records.
        self._fold(("record.produced", topic, partition, None), seq, t_ms,
                   offset)[6] = high_watermark

    def records_appended(self, seq, t_ms, topic, partition, first, keys, values, headers,
                         leader, producer, acks, why, single, acked, high_watermark) -> None:
        # What the loop of Events.records_appended would fold, record by record, in two
        # steps: no `why` is worked out, nothing per record.
        n = len(keys)
        last = first + n - 1
        if acked:
            self._fold_run(("record.produced", topic, partition, None), n, seq + 1,
                           seq + 2 * n - 1, t_ms, first, last)[6] = high_watermark
            self._fold_run(("record.acked", topic, partition, None), n, seq + 2, seq + 2 * n,
                           t_ms, first, last)
        else:
            self._fold_run(("record.produced", topic, partition, None), n, seq + 1, seq + n,
                           t_ms, first, last)[6] = high_watermark

    def record_acked(self, seq, t_ms, topic, partition, offset, *_) -> None:
        self._fold(("record.acked", topic, partition, None), seq, t_ms, offset)

    def record_replicated(self, seq, t_ms, topic, partition, broker, offset, *_) -> None:
        self._fold(("record.replicated", topic, partition, None), seq, t_ms, offset)

    def partition_high_watermark(self, seq, t_ms, topic, partition, high_watermark) -> None:
        self._fold(("partition.high_watermark", topic, partition, None), seq, t_ms,
                   high_watermark)

    def record_delivered(self, seq, t_ms, group, consumer, topic, partition, offset,
                         *_) -> None:
        self._fold(("record.delivered", topic, partition, group), seq, t_ms, offset)

    def record_processed(self, seq, t_ms, group, consumer, topic, partition, offset,
                         *_) -> None:
        self._fold(("record.processed", topic, partition, group), seq, t_ms, offset)

    def offset_committed(self, seq, t_ms, group, consumer, topic, partition, offset,
                         *_) -> None:
        self._fold(("offset.committed", topic, partition, group), seq, t_ms, offset)


def markdown() -> str:
    """docs/EVENTS.md: the catalogue as a table (``python -m broker_core events``)."""
    lines = ["# Events", "",
             "Every event the model announces, generated from `broker_core/events.py` by "
             "`python -m broker_core events` (a test keeps this file in step). Each event is "
             "`{\"seq\", \"t_ms\", \"type\", <fields>}`; *when they apply* fields appear only "
             "in the situations the meaning names. Per-record types (a busy producer "
             "multiplies them) are marked ⁂.", "",
             "| type | fields | when they apply | meaning |", "|---|---|---|---|"]
    for spec in _TYPES:
        mark = " ⁂" if spec.name in BULK else ""
        lines.append(f"| `{spec.name}`{mark} | {', '.join(spec.required)} | "
                     f"{', '.join(spec.optional)} | {spec.meaning} |")
    return "\n".join(lines) + "\n"
