"""Consumer groups of modelled consumers: the commands that configure groups, add, hang, remove
and crash consumers, move and delete offsets, delete groups, and replay dead letters.

Functions of the cluster (`consumer_add(cluster, c)`, ...), as replication.py's and classic.py's;
`HANDLERS` maps each command type to its handler, which the cluster's table binds. Every handler
validates the whole command before it changes anything; the refusals that keep a delivery
policy from looping (a consumer reading its own output or dead letters, forwards round a cycle
of topics) are checked here, before a group changes. The groups themselves are group.py's;
real clients' groups are classic.py's.
"""

from . import classic
from . import events as ev
from . import validate as v
from .assignors import ASSIGNORS
from .config import validate_topic_name
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
from .log import header_map, header_pairs
from .producing import produce
from .topics import MAX_PARTITIONS, check_delivery_names, create_retry_topics, existing_topic

# -- consumer groups ----------------------------------------------------------------------


def _group_config(c: dict, base: dict) -> dict:
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


def group_configure(cluster, c: dict) -> None:
    v.check_fields(c, frozenset({"type", "group", "assignor", "session_timeout_ms",
                                 "heartbeat_interval_ms", "auto_offset_reset"})
                   | DELIVERY_FIELDS)
    gid = v.identifier(c, "group", what="group id")
    group = cluster.groups.get(gid)
    if group is not None and group.external and group.occupied:
        raise CommandError("group", f"group {gid!r} is made of real Kafka clients: they "
                           "choose its assignor and timeouts themselves")
    config = _group_config(c, group.config if group else GROUP_DEFAULTS)
    members = group.members if group else {}
    dead_letters = config["dead_letter_topic"]
    for mid, member in members.items():
        if dead_letters in member.declared or dead_letters in retry_topics(config,
                                                                           member.declared):
            raise CommandError("dead_letter_topic", f"consumer {mid!r} reads "
                               f"{dead_letters!r} (directly or as a retry topic); a group "
                               "cannot consume its own dead letters")
    _check_forward_cycles(cluster, "dead_letter_topic", gid, config,
                          [m.declared for m in members.values()])
    if group is not None:
        _check_stranded_retries(cluster, c, group, config)
        naming = ("dead_letter_topic", "retry_mode", "max_attempts")
        if any(config[k] != group.config[k] for k in naming):
            retry_field = "retry_mode" if "retry_mode" in c else "max_attempts"
            for member in members.values():
                check_delivery_names(
                    cluster, lambda kind, i: ("dead_letter_topic" if kind == "dead_letter"
                                              else retry_field), config, member.declared)
    if group is None:
        group = cluster.groups[gid] = Group(cluster, gid, config)
        ev.group_created(cluster, group=gid, config=dict(config))
        return
    changed = {k: config[k] for k in config if config[k] != group.config[k]}
    group.config = config
    ev.group_configured(cluster, group=gid, changes=changed, config=dict(config))
    if "retry_mode" in changed or "max_attempts" in changed:
        for member in group.members.values():
            create_retry_topics(cluster, config, member.declared)
        group.resubscribe()
    if "assignor" in changed and group.members:
        group.prepare(f"assignor changed to {config['assignor']}")


def _check_stranded_retries(cluster, c: dict, group: Group, config: dict) -> None:
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
        topic = cluster.topics.get(name)
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


def _get_group(cluster, c: dict) -> Group:
    gid = v.identifier(c, "group", what="group id")
    group = cluster.groups.get(gid)
    if group is None:
        raise CommandError("group", f"no group named {gid!r}")
    return group


def consumer_add(cluster, c: dict) -> None:
    v.check_fields(c, frozenset({"type", "group", "id", "topics", "processing_ms",
                                 "failure_rate", "fail_keys", "hangs", "commit", "emits"}))
    gid = v.identifier(c, "group", what="group id")
    group = cluster.groups.get(gid)
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
    _check_loops(topics, behaviour, config)
    check_delivery_names(cluster, lambda kind, i: f"topics[{i}]", config, topics)
    _check_forward_cycles(cluster, "topics", gid, config,
                          [m.declared for m in (group.members.values() if group
                                                else ())] + [topics])
    commit = v.choice(c, "commit", ("after", "before", "auto"), default="after")
    if group is not None and group.external:
        if group.occupied:
            raise CommandError("group", f"group {gid!r} is made of real Kafka clients; "
                               "a modelled consumer cannot join it (Kafka answers "
                               "INCONSISTENT_GROUP_PROTOCOL)")
        group = classic.convert(group, Group)
    if group is None:
        group = cluster.groups[gid] = Group(cluster, gid, dict(GROUP_DEFAULTS))
        ev.group_created(cluster, group=gid, config=dict(group.config))
    if mid is None:
        while f"{gid}-{group.next_member_number}" in group.members:
            group.next_member_number += 1
        mid = f"{gid}-{group.next_member_number}"
        group.next_member_number += 1
    create_retry_topics(cluster, group.config, topics)
    member = Member(group, mid, topics, behaviour, commit, cluster.clock.now_ms)
    group.join(member)


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


def _check_forward_cycles(cluster, field: str, gid: str, config: dict,
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
              for g, grp in cluster.groups.items() if not grp.external}
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


def consumer_hang(cluster, c: dict) -> None:
    v.check_fields(c, frozenset({"type", "group", "id", "hangs"}))
    hangs = c.get("hangs", True)
    if not isinstance(hangs, bool):
        raise CommandError("hangs", "must be true (the consumer hangs) or false (it "
                                    "recovers)")
    group, member = _member(cluster, {k: c[k] for k in c if k != "hangs"}, "hang")
    member.set_hangs(hangs)
    (ev.consumer_hung if hangs else ev.consumer_recovered)(
        cluster, group=group.id, consumer=member.id, in_flight=member.in_flight_record())


def dead_letter_replay(cluster, c: dict) -> None:
    """Republish a dead-letter topic's records to the topic and partition their
    kafka_dlt-original-* headers name, as an operator does once the bug is fixed."""
    v.check_fields(c, frozenset({"type", "topic", "partition", "from_offset",
                                 "to_offset"}))
    topic = existing_topic(cluster, c, "topic")
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
    ev.dead_letter_replay_started(cluster, topic=topic.name, partition=partition,
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
        dest = cluster.topics.get(target)
        if dest is not None and to_partition >= len(dest.partitions):
            # Deleted and created again with fewer partitions: the partitioner chooses.
            to_partition = None
        pairs = [[k, val] for k, val in header_pairs(record["headers"])
                 if k not in DLT_HEADERS]
        kept = (dict(pairs) if len(dict(pairs)) == len(pairs) else pairs) or None
        cause = {"topic": topic.name, "partition": part.index, "offset": offset,
                 "group": None}
        written = produce(cluster, target, record["value"], key=record["key"], headers=kept,
                          partition=to_partition, acks="all", producer="dlt-replay",
                          retries=0, cause=cause)
        if written.offset is None:
            skipped += 1
            why = "the republish failed (see produce.failed)"
            reasons[why] = reasons.get(why, 0) + 1
        else:
            replayed += 1
    ev.dead_letter_replayed(cluster, topic=topic.name, partition=partition,
                            from_offset=first, to_offset=last, replayed=replayed, skipped=skipped,
                            skipped_reasons=reasons)


def _member(cluster, c: dict, verb: str) -> tuple[Group, Member]:
    v.check_fields(c, frozenset({"type", "group", "id"}))
    group = _get_group(cluster, c)
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


def consumer_remove(cluster, c: dict) -> None:
    group, member = _member(cluster, c, "leave politely")
    group.leave(member)


def consumer_crash(cluster, c: dict) -> None:
    group, member = _member(cluster, c, "crash again")
    group.crash(member)


def group_reset_offsets(cluster, c: dict) -> None:
    v.check_fields(c, frozenset({"type", "group", "topic", "to"}))
    group = _get_group(cluster, c)
    topic = existing_topic(cluster, c, "topic")
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
        group.offsets.reset(part, offset, f"reset to {to}")


def group_delete(cluster, c: dict) -> None:
    v.check_fields(c, frozenset({"type", "group"}))
    group = _get_group(cluster, c)
    if group.members:
        raise CommandError("group", f"group {group.id!r} is not empty "
                           f"(NON_EMPTY_GROUP): it has {len(group.members)} member(s)")
    group.delete()
    del cluster.groups[group.id]
    ev.group_deleted(cluster, group=group.id)


def group_delete_offsets(cluster, c: dict) -> dict:
    """Kafka's OffsetDelete. Answer: {"errors": [each partition's error, in order]}: NONE,
    UNKNOWN_TOPIC_OR_PARTITION, or GROUP_SUBSCRIBED_TO_TOPIC while the group has members
    reading that topic (Kafka keeps those; they would be committed again at once)."""
    v.check_fields(c, frozenset({"type", "group", "topic", "partitions"}))
    group = _get_group(cluster, c)
    name = v.string(c, "topic", max_length=249)
    partitions = c.get("partitions")
    if (not isinstance(partitions, list) or len(partitions) > MAX_PARTITIONS
            or not all(isinstance(p, int) and not isinstance(p, bool) and p >= 0
                       for p in partitions)):
        raise CommandError("partitions", f"must be a list of at most {MAX_PARTITIONS} "
                           "partition numbers")
    topic = cluster.topics.get(name)
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
            if group.offsets.delete(part):
                ev.offset_deleted(cluster, group=group.id, topic=name, partition=index)
    return {"errors": errors}


HANDLERS = {
    "consumer.add": consumer_add,
    "consumer.remove": consumer_remove,
    "consumer.crash": consumer_crash,
    "consumer.hang": consumer_hang,
    "group.configure": group_configure,
    "group.reset_offsets": group_reset_offsets,
    "group.delete": group_delete,
    "group.delete_offsets": group_delete_offsets,
    "dead_letter.replay": dead_letter_replay,
}
