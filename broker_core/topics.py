"""Topics: the commands that create, change and delete them, their records' retention, and the
retry and dead-letter topics a modelled group's delivery policy writes to.

Functions of the cluster (`topic_create(cluster, c)`, ...), as replication.py's and classic.py's;
`HANDLERS` maps each command type to its handler, which the cluster's table binds. Every handler
validates the whole command before it changes anything. Retention lives here, beside the topic
configs that drive it and `records.delete`, which cuts logs the same way; producing.py asks for
a look after its appends (`schedule_retention`, `enforce_record_budget`).
"""

import heapq
from functools import partial

from . import classic, replication
from . import events as ev
from . import validate as v
from .clients import client_name
from .clock import next_tick
from .config import (
    TOPIC_CONFIGS,
    collision_key,
    default_config,
    validate_config,
    validate_topic_name,
)
from .delivery import dead_letter_topic_name, retry_topics
from .errors import CommandError
from .topic import Topic, assign_replicas

MAX_PARTITIONS = 1_000


# -- topic commands -----------------------------------------------------------------------


def existing_topic(cluster, command: dict, field: str = "name") -> Topic:
    """The topic a command names in `field`; CommandError naming the field if there is none."""
    name = command.get(field)
    # The name of a topic that exists passed every check a name gets when the topic was
    # created: one lookup answers, without the string reader's call (every command that
    # names a topic pays it). Anything else goes through the reader, which says what is
    # wrong.
    if type(name) is str:
        topic = cluster.topics.get(name)
        if topic is not None:
            return topic
    name = v.string(command, field, max_length=249)
    topic = cluster.topics.get(name)
    if topic is None:
        raise CommandError(field, f"no topic named {name!r}")
    return topic


def topic_create(cluster, c: dict) -> None:
    v.check_fields(c, frozenset({"type", "name", "partitions", "replication_factor",
                                 "config", "client", "auto"}))
    name = validate_topic_name(c.get("name"))
    client = client_name(c)
    auto = c.get("auto", False)
    if not isinstance(auto, bool):
        raise CommandError("auto", "must be true or false")
    if auto and not cluster.config["auto.create.topics.enable"]:
        raise CommandError("auto", "auto.create.topics.enable is false on this cluster")
    if name in cluster.topics:
        raise CommandError("name", f"topic {name!r} already exists")
    for other in cluster.topics:
        if collision_key(other) == collision_key(name):
            raise CommandError("name", f"topic {name!r} collides with existing topic "
                               f"{other!r} ('.' and '_' count as the same)")
    # Auto-creation takes the broker's num.partitions and default.replication.factor.
    partitions = v.integer(c, "partitions", minimum=1, maximum=MAX_PARTITIONS,
                           default=cluster.config["num.partitions"] if auto else 1)
    live = cluster.live_brokers()
    rf = v.integer(c, "replication_factor", minimum=1,
                   default=cluster.config["default.replication.factor"] if auto else 1)
    if rf > len(live):
        raise CommandError("replication_factor", f"{rf} is larger than the number of "
                           f"live brokers ({len(live)})")
    config = default_config()
    config.update(validate_config(c.get("config")))
    start = cluster.placement_rng.randrange(len(live))
    shift = cluster.placement_rng.randrange(len(live))
    assignment = assign_replicas(live, partitions, rf, start, shift)
    cluster.topic_ids += 1
    topic = Topic(name, config, assignment, cluster.topic_ids)
    cluster.topics[name] = topic
    extra = {"auto": True} if auto else {}
    if client is not None:
        extra["client"] = client
    ev.topic_created(cluster, topic=name, partitions=partitions, replication_factor=rf,
                     config=dict(config), assignment=[list(r) for r in assignment], **extra)
    cluster.zk_set(f"/brokers/topics/{name}",
                   {"partitions": {str(i): list(r) for i, r in enumerate(assignment)}})
    for part in topic.partitions:
        _announce_partition(cluster, part)
    _metadata_changed(cluster, name, "topic created")


def _announce_partition(cluster, part) -> None:
    replication.write_partition_state(cluster, part)
    ev.partition_leader_elected(
        cluster, topic=part.topic.name, partition=part.index, leader=part.leader,
        epoch=part.leader_epoch, isr=list(part.isr), unclean=False,
        reason="new partition: preferred replica", log_end_offset=0)


def topic_delete(cluster, c: dict) -> None:
    v.check_fields(c, frozenset({"type", "name", "client"}))
    topic = existing_topic(cluster, c)
    client = client_name(c)
    name = topic.name
    for part in topic.partitions:
        for timer in list(part.fetch_timers.values()):
            timer.cancel()
        if part.retention_timer is not None:
            part.retention_timer.cancel()
        if part.isr_timer is not None:
            part.isr_timer.cancel()
    for gid in sorted(cluster.groups):
        cluster.groups[gid].forget_partitions(topic.partitions)
    del cluster.topics[name]
    for key in [k for k in cluster.producer_sequences if k[1] == name]:
        del cluster.producer_sequences[key]
    ev.topic_deleted(cluster, topic=name,
                     **({"client": client} if client is not None else {}))
    for key in [k for k in cluster.ack_waiters if k[0] == name]:
        cluster.ack_waiters.pop(key).failed("UNKNOWN_TOPIC_OR_PARTITION")
    # Records waiting to be retried to it fail now; they must never reach a new topic
    # that takes the same name.
    for key in [k for k in cluster.retrying if k[1] == name]:
        batch = cluster.retrying.pop(key)
        if batch.timer is not None:
            batch.timer.cancel()
        ev.produce_failed(cluster, topic=name, partition=batch.partition,
                          producer=batch.producer, error="UNKNOWN_TOPIC_OR_PARTITION",
                          count=len(batch.records), retriable=False, will_retry=False,
                          message="the topic was deleted while records waited to be retried")
    for part in topic.partitions:
        cluster.zk_delete(f"/brokers/topics/{name}/partitions/{part.index}/state")
    cluster.zk_delete(f"/brokers/topics/{name}")
    _metadata_changed(cluster, name, "topic deleted")


def topic_alter_config(cluster, c: dict) -> None:
    v.check_fields(c, frozenset({"type", "name", "config"}))
    topic = existing_topic(cluster, c)
    raw = v.mapping(c, "config")
    resets = [k for k, value in raw.items() if value is None]
    changes = validate_config({k: value for k, value in raw.items() if value is not None})
    for name in resets:
        if name not in TOPIC_CONFIGS:
            raise CommandError(f"config.{name}", "not a topic config the playground models")
        changes[name] = TOPIC_CONFIGS[name][0]
    before = {k: topic.config[k] for k in changes}
    topic.config.update(changes)
    ev.topic_config_changed(cluster, topic=topic.name, changes=changes, previous=before,
                            config=dict(topic.config))
    for part in topic.partitions:
        schedule_retention(cluster, part)


def topic_add_partitions(cluster, c: dict) -> None:
    v.check_fields(c, frozenset({"type", "name", "partitions"}))
    topic = existing_topic(cluster, c)
    total = v.integer(c, "partitions", maximum=MAX_PARTITIONS)
    current = len(topic.partitions)
    if total == current:
        raise CommandError("partitions", f"topic {topic.name!r} already has {current} "
                           "partitions")
    if total < current:
        raise CommandError("partitions", f"topic {topic.name!r} has {current} partitions; "
                           "partitions can only be added, never removed")
    live = cluster.live_brokers()
    first_replica = topic.partitions[0].replicas[0]
    start = next((i for i, b in enumerate(live) if b >= first_replica), 0)
    rf = topic.replication_factor
    if rf > len(live):
        raise CommandError("partitions", f"replication factor {rf} needs {rf} live brokers; "
                           f"{len(live)} are up")
    assignment = assign_replicas(live, total - current, rf, start, start,
                                 first_partition=current)
    topic.add_partitions(assignment)
    ev.topic_partitions_added(cluster, topic=topic.name, partitions=total,
                              previous=current, assignment=[list(r) for r in assignment])
    cluster.zk_set(f"/brokers/topics/{topic.name}",
                   {"partitions": {str(p.index): list(p.replicas) for p in topic.partitions}})
    for part in topic.partitions[current:]:
        _announce_partition(cluster, part)
    _metadata_changed(cluster, topic.name, "partitions added")


def records_delete(cluster, c: dict) -> dict:
    """Kafka's DeleteRecords: the log start offset moves up to `offset` on every replica at
    once (Kafka's followers follow the leader's; the model's answer is the low watermark
    they all reach). Answer: {"low_watermark"} or {"error"}: OFFSET_OUT_OF_RANGE past the
    high watermark, as Kafka answers; nothing changes then."""
    v.check_fields(c, frozenset({"type", "topic", "partition", "offset"}))
    topic = existing_topic(cluster, c, "topic")
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
        _cut_log(cluster, part, offset, "deleted by a client (DeleteRecords)")
    return {"low_watermark": part.leader_log.start_offset}


def _metadata_changed(cluster, topic: str, reason: str) -> None:
    for gid in sorted(cluster.groups):
        group = cluster.groups[gid]
        if group.members and topic in group.subscribed_topics():
            group.topic_changed(f"{reason}: {topic}")


# -- retention ----------------------------------------------------------------------------


def schedule_retention(cluster, part, not_before_ms=None) -> None:
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
            due = cluster.clock.now_ms
    if due is not None:
        due = max(due, cluster.clock.now_ms if not_before_ms is None else not_before_ms, 1)
        interval = cluster.config["log.retention.check.interval.ms"]
        # Checks fall on the broker's ticks, one interval after it started and every
        # interval since: the first at or after `due`.
        due = next_tick(due - 1, interval)
    if timer is not None and (due is None or timer.due_ms > due):
        timer.cancel()
        part.retention_timer = None
    if due is not None and part.retention_timer is None:
        part.retention_timer = cluster.clock.at(due, partial(_retention_pass, cluster), part)
    # The pass now comes no later than the oldest record of this leadership's log asks
    # (unless a not_before held it back): what lets producing's appends skip their next look.
    settled = not_before_ms is None and part.retention_timer is not None
    part.retention_epoch = part.leader_epoch if settled else None


def _retention_pass(cluster, part) -> None:
    part.retention_timer = None
    if cluster.topics.get(part.topic.name) is not part.topic:
        return
    log = part.leader_log
    config = part.topic.config
    now = cluster.clock.now_ms
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
        _cut_log(cluster, part, cut, reason)
    # What the high watermark held back waits for the next check, never this instant.
    schedule_retention(cluster, part, not_before_ms=now + 1)


def enforce_record_budget(cluster) -> None:
    """Keep the records retained across all partitions within ``retained.records.max``.

    Like retention.bytes, but for the whole cluster and checked at every append, so a
    busy room's memory stays bounded between retention checks: the oldest records by
    timestamp go first (ties by topic and partition order), never at or above a
    partition's high watermark.
    """
    budget = cluster.config["retained.records.max"]
    bytes_budget = cluster.config["retained.bytes.max"]
    parts = [p for topic in cluster.topics.values() for p in topic.partitions]
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
        _cut_log(cluster, parts[i], cuts[i], reason)


def _cut_log(cluster, part, cut: int, reason: str) -> None:
    """Move the partition's log start up to `cut` on every replica at once (retention,
    the record budget, a client's DeleteRecords) and say so: `record.expired`."""
    first = part.leader_log.start_offset
    for b in part.replicas:
        part.logs[b].delete_before(cut)
    ev.record_expired(cluster, topic=part.topic.name, partition=part.index,
                      offset=first, count=cut - first, log_start_offset=cut, reason=reason)


# -- retry and dead-letter topics ---------------------------------------------------------


def delivery_topics(cluster) -> dict:
    """Existing topics that a modelled group's delivery policy writes to: name ->
    {"kind": "dead_letter" | "retry", "source": the topic read, "groups": [...]}. A page
    draws them apart from the data flow from this, never from the name (a custom
    dead_letter_topic is called anything)."""
    out: dict[str, dict] = {}

    def note(name: str, kind: str, source: str, gid: str) -> None:
        if name not in cluster.topics:
            return
        row = out.setdefault(name, {"kind": kind, "source": source, "groups": []})
        if gid not in row["groups"]:
            row["groups"].append(gid)

    for gid in sorted(cluster.groups):
        group = cluster.groups[gid]
        if group.external:
            continue
        declared = sorted({t for m in group.members.values() for t in m.declared})
        for name in declared:
            note(dead_letter_topic_name(group.config, name), "dead_letter", name, gid)
        for name, (source, _) in sorted(retry_topics(group.config, declared).items()):
            note(name, "retry", source, gid)
    return out


def create_retry_topics(cluster, config: dict, topics: list[str]) -> None:
    """Spring creates a listener's retry topics when the listener starts, so the first
    failure does not have to wait for new topics (and here, a rebalance)."""
    wanted = retry_topics(config, topics)
    for name in sorted(wanted):
        source = cluster.topics.get(wanted[name][0])
        if source is not None:
            delivery_topic(cluster, name, source)


def delivery_topic(cluster, name: str, source: Topic):
    """The retry or dead-letter topic `name`, created on first use like the source: same
    partition count, replication factor min(source's, live brokers). Returns (topic,
    None), or (None, why) when it cannot be created: `why.permanent` when the name
    collides with another topic's (that never heals), else not (no live broker now)."""
    topic = cluster.topics.get(name)
    if topic is not None:
        return topic, None
    rf = max(1, min(source.replication_factor, len(cluster.live_brokers())))
    try:
        # An internal consequence, not a command: replay recreates it the same way.
        topic_create(cluster, {"type": "topic.create", "name": name,
                               "partitions": len(source.partitions), "replication_factor": rf})
    except CommandError as refused:
        return None, _CreateFailure(_collides(cluster, name) is not None, refused.message)
    return cluster.topics[name], None


def _collides(cluster, name: str) -> str | None:
    """The existing topic `name` may not sit beside ('.' and '_' count the same)."""
    key = collision_key(name)
    for other in cluster.topics:
        if other != name and collision_key(other) == key:
            return other
    return None


def check_delivery_names(cluster, field, config: dict, topics: list[str]) -> None:
    """Refuse up front a retry or dead-letter topic that could never be created: its name
    collides with an existing topic's. (One created later still fails at run time, with
    produce.failed and record.dropped.) `field` maps a name's kind to the field named."""
    for i, name in enumerate(topics):
        wanted = [("dead_letter", dead_letter_topic_name(config, name))]
        wanted += [("retry", r) for r in sorted(retry_topics(config, [name]))]
        for kind, derived in wanted:
            if derived in cluster.topics:
                continue
            other = _collides(cluster, derived)
            if other is not None:
                raise CommandError(field(kind, i), f"{kind.replace('_', '-')} topic "
                                   f"{derived!r} would collide with existing topic "
                                   f"{other!r} ('.' and '_' count as the same)")


class _CreateFailure:
    __slots__ = ("permanent", "message")

    def __init__(self, permanent: bool, message: str):
        self.permanent = permanent
        self.message = message


HANDLERS = {
    "topic.create": topic_create,
    "topic.delete": topic_delete,
    "topic.alter_config": topic_alter_config,
    "topic.add_partitions": topic_add_partitions,
    "records.delete": records_delete,
}
