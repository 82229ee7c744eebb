"""Conformance checks for confluent-kafka (librdkafka): Producer, Consumer and AdminClient, each
with its defaults. librdkafka's default partitioner is consistent_random (CRC32 of the key), not
Java's murmur2: produce.keys shows where that puts each key.

    python -m conformance.clients.confluent --bootstrap HOST:PORT --prefix PREFIX [--only X]
"""

from __future__ import annotations

import sys
import time

from confluent_kafka import Consumer as _Consumer
from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

from conformance.clients.common import (
    RECORD_COUNT,
    SETTLE_S,
    Program,
    RunState,
    Window,
    elapsed_bucket,
    error_name,
    headers_list,
    keyed_records,
    text,
    wait_until,
)

TIMEOUT_S = 15.0


class State(RunState):
    admin: AdminClient | None = None
    group_consumer: _Consumer | None = None


S = State()


def ck_error(exc: BaseException) -> str:
    """librdkafka's error name (its own spelling: UNKNOWN_TOPIC_OR_PART, _MSG_TIMED_OUT...)."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0].name()
    if isinstance(exc, KafkaError):
        return exc.name()
    return error_name(exc)


program = Program("confluent-kafka", error_namer=ck_error)


def producer(**config) -> Producer:
    return Producer({"bootstrap.servers": S.bootstrap, **config})


def consumer(**config) -> _Consumer:
    # librdkafka wants a group.id even for assign(): one no commit ever uses.
    return _Consumer({"bootstrap.servers": S.bootstrap, "group.id": S.name("reader"),
                      "enable.auto.commit": False, **config})


def create_topic(name: str, partitions: int) -> None:
    futures = S.admin.create_topics([NewTopic(name, partitions, 1)],
                                    operation_timeout=TIMEOUT_S, request_timeout=TIMEOUT_S)
    futures[name].result(TIMEOUT_S)
    partition_count(name, partitions)


def partition_count(name: str, expect: int | None = None) -> int | None:
    def count():
        topic = S.admin.list_topics(name, timeout=TIMEOUT_S).topics.get(name)
        if topic is None or topic.error is not None:
            return None
        n = len(topic.partitions)
        return n if expect is None or n == expect else None
    return wait_until(count)


def read_all(topic: str, partitions: int, expected: int, timeout: float = SETTLE_S):
    c = consumer()
    try:
        c.assign([TopicPartition(topic, p, -2) for p in range(partitions)])  # -2: beginning
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            for m in c.consume(num_messages=100, timeout=0.5):
                if m.error() is None:
                    got.append(m)
        return got
    finally:
        c.close()


def produce(topic: str, records, **config):
    """Produce and flush; the delivery reports (error or (partition, offset, timestamp)) in
    the order sent, and the produce's time window."""
    p = producer(**config)
    reports: list = [None] * len(records)

    def delivered(i):
        def callback(err, msg):
            reports[i] = ck_error(err) if err else (msg.partition(), msg.offset(),
                                                     msg.timestamp()[1])
        return callback

    window = Window()
    for i, (k, v, h) in enumerate(records):
        p.produce(topic, key=k, value=v, headers=h, on_delivery=delivered(i))
    p.flush(TIMEOUT_S)
    return reports, window.close()


def message_row(m) -> list:
    ts_type, ts = m.timestamp()
    return [m.partition(), m.offset(), text(m.key()), text(m.value()), headers_list(m.headers()),
            S.window.relate(ts), ts_type]


# -- metadata and produce/fetch ---------------------------------------------------------------

@program.check("metadata.topics")
def metadata_topics():
    create_topic(S.name("t"), 3)
    topics = S.admin.list_topics(timeout=TIMEOUT_S).topics
    return {"topics": sorted([S.short(name), len(t.partitions)] for name, t in topics.items()
                             if name == S.name("t"))}


@program.check("metadata.describe_topics", needs=("metadata.topics",))
def metadata_describe_topics():
    """DescribeTopicPartitions (Kafka 3.7+) with a Metadata fallback, through describe_topics."""
    futures = S.admin.describe_topics(TopicCollection([S.name("t")]),
                                      request_timeout=TIMEOUT_S)
    d = futures[S.name("t")].result(TIMEOUT_S)
    return {"name": S.short(d.name), "internal": d.is_internal,
            "partitions": [[p.id, len(p.replicas), len(p.isr)] for p in d.partitions]}


@program.check("produce.keys", needs=("metadata.topics",))
def produce_keys():
    reports, S.window = produce(S.name("t"), keyed_records())
    return {f"k{i}": (r if isinstance(r, str) or r is None else [r[0], r[1]])
            for i, r in enumerate(reports)}


@program.check("fetch.all", needs=("produce.keys",))
def fetch_all():
    return sorted(message_row(m) for m in read_all(S.name("t"), 3, RECORD_COUNT))


@program.check("produce.headers_duplicate")
def produce_headers_duplicate():
    topic = S.name("h")
    create_topic(topic, 1)
    produce(topic, [(b"dup", b"x", [("h", b"1"), ("h", b"2")])])
    return [headers_list(m.headers()) for m in read_all(topic, 1, 1)]


@program.check("produce.compression")
def produce_compression():
    """Each codec librdkafka offers: produced and read back (values and offsets)."""
    out = {}
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        topic = S.name(f"z-{codec}")
        create_topic(topic, 1)
        reports, _ = produce(topic, [(None, f"{codec}{i}".encode() * 50, []) for i in range(3)],
                             **{"compression.type": codec})
        failed = [r for r in reports if isinstance(r, str) or r is None]
        out[codec] = failed or [[m.offset(), text(m.value())[:8]]
                                for m in read_all(topic, 1, 3, timeout=5)]
    return out


@program.check("list_offsets.earliest_latest", needs=("produce.keys",))
def list_offsets_earliest_latest():
    tps = [TopicPartition(S.name("t"), p) for p in range(3)]
    out = {}
    for label, spec in (("earliest", OffsetSpec.earliest()), ("latest", OffsetSpec.latest())):
        futures = S.admin.list_offsets({tp: spec for tp in tps}, request_timeout=TIMEOUT_S)
        out[label] = sorted([tp.partition, f.result(TIMEOUT_S).offset]
                            for tp, f in futures.items())
    c = consumer()
    try:
        out["watermarks"] = [[tp.partition, *c.get_watermark_offsets(tp, timeout=TIMEOUT_S)]
                             for tp in tps]
    finally:
        c.close()
    return out


@program.check("list_offsets.by_time", needs=("produce.keys",))
def list_offsets_by_time():
    c = consumer()
    try:
        out = {}
        for label, ts in (("before_first", S.window.start - 1), ("after_last", S.window.end + 1)):
            found = c.offsets_for_times([TopicPartition(S.name("t"), p, ts) for p in range(3)],
                                        timeout=TIMEOUT_S)
            out[label] = sorted([tp.partition, tp.offset] for tp in found)
        return out
    finally:
        c.close()


# -- groups ----------------------------------------------------------------------------------

def group_consumer(group: str, **config) -> _Consumer:
    return _Consumer({"bootstrap.servers": S.bootstrap, "group.id": group,
                      "auto.offset.reset": "earliest", "enable.auto.commit": False, **config})


def consume_n(c: _Consumer, n: int, timeout: float) -> list:
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        for m in c.consume(num_messages=100, timeout=0.5):
            if m.error() is None:
                got.append(m)
    return got


@program.check("group.consume_commit", needs=("produce.keys",))
def group_consume_commit():
    c = group_consumer(S.name("g"))
    S.group_consumer = c
    c.subscribe([S.name("t")])
    got = consume_n(c, RECORD_COUNT, SETTLE_S + 10)
    c.commit(asynchronous=False)
    committed = c.committed([TopicPartition(S.name("t"), p) for p in range(3)],
                            timeout=TIMEOUT_S)
    return {"records": len(got), "committed": sorted([tp.partition, tp.offset]
                                                     for tp in committed)}


def describe(group: str) -> dict:
    d = S.admin.describe_consumer_groups([group], request_timeout=TIMEOUT_S)[group].result(
        TIMEOUT_S)
    return {"state": d.state.name, "type": getattr(d.type, "name", None),
            "simple": d.is_simple_consumer_group, "assignor": d.partition_assignor,
            "members": len(d.members),
            "assigned_partitions": sorted(len(m.assignment.topic_partitions)
                                          for m in d.members)}


@program.check("group.describe", needs=("group.consume_commit",))
def group_describe():
    return describe(S.name("g"))


def listed(group: str):
    """The group as ListGroups shows it, or None; and the errors the listing carried (librdkafka
    asks every broker and reports the ones that failed beside the groups it got)."""
    result = S.admin.list_consumer_groups(request_timeout=TIMEOUT_S).result(TIMEOUT_S)
    errors = sorted({ck_error(e) for e in result.errors})
    for g in result.valid:
        if g.group_id == group:
            return {"state": g.state.name, "type": getattr(g.type, "name", None),
                    "simple": g.is_simple_consumer_group}, errors
    return None, errors


@program.check("group.list", needs=("group.consume_commit",))
def group_list():
    found, errors = listed(S.name("g"))
    return {"listed": found is not None, **(found or {}), "errors": errors}


def committed_offsets(group: str) -> list:
    futures = S.admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)],
                                                  request_timeout=TIMEOUT_S)
    result = futures[group].result(TIMEOUT_S)
    return sorted([S.short(tp.topic), tp.partition, tp.offset]
                  for tp in result.topic_partitions)


@program.check("group.lag", needs=("group.consume_commit",))
def group_lag():
    committed = {p: o for _, p, o in committed_offsets(S.name("g"))}
    tps = [TopicPartition(S.name("t"), p) for p in range(3)]
    ends = S.admin.list_offsets({tp: OffsetSpec.latest() for tp in tps},
                                request_timeout=TIMEOUT_S)
    end = {tp.partition: f.result(TIMEOUT_S).offset for tp, f in ends.items()}
    return [[p, committed.get(p), end[p], None if committed.get(p) is None
             else end[p] - committed[p]] for p in range(3)]


@program.check("group.describe_after_leave", needs=("group.consume_commit",))
def group_describe_after_leave():
    if S.group_consumer is not None:
        S.group_consumer.close()
        S.group_consumer = None
    return describe(S.name("g"))


@program.check("group.reset_earliest", needs=("group.describe_after_leave",))
def group_reset_earliest():
    tps = [TopicPartition(S.name("t"), p) for p in range(3)]
    earliest = S.admin.list_offsets({tp: OffsetSpec.earliest() for tp in tps},
                                    request_timeout=TIMEOUT_S)
    target = [TopicPartition(tp.topic, tp.partition, f.result(TIMEOUT_S).offset)
              for tp, f in earliest.items()]
    futures = S.admin.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(S.name("g"), target)], request_timeout=TIMEOUT_S)
    result = futures[S.name("g")].result(TIMEOUT_S)
    return {"result": sorted([tp.partition, tp.offset, tp.error.name() if tp.error else None]
                             for tp in result.topic_partitions),
            "committed": committed_offsets(S.name("g"))}


@program.check("group.delete", needs=("group.describe_after_leave",))
def group_delete():
    futures = S.admin.delete_consumer_groups([S.name("g")], request_timeout=TIMEOUT_S)
    try:
        futures[S.name("g")].result(TIMEOUT_S)
        result = "ok"
    except Exception as exc:  # noqa: BLE001 - the error name is the observation
        result = ck_error(exc)
    return {"result": result, "listed_after": listed(S.name("g"))[0] is not None}


def assignor_check(assignor: str) -> dict:
    """Two members of a fresh group with one assignor, joined together: which partitions each
    gets (as a sorted list of partition lists: member ids are random) and what DescribeGroups
    names as the protocol."""
    group = S.name(f"ga-{assignor}")
    members = [group_consumer(group, **{"partition.assignment.strategy": assignor})
               for _ in range(2)]
    try:
        for m in members:
            m.subscribe([S.name("t")])
        deadline = time.monotonic() + SETTLE_S + 10
        while time.monotonic() < deadline:
            for m in members:
                m.poll(0.2)
            owned = [m.assignment() for m in members]
            if all(owned) and sum(len(a) for a in owned) == 3:
                break
        out = {"assignment": sorted(sorted(tp.partition for tp in m.assignment())
                                    for m in members)}
        try:
            out["described"] = describe(group)["assignor"]
        except Exception as exc:  # noqa: BLE001
            out["described"] = ck_error(exc)
        return out
    finally:
        for m in members:
            m.close()


@program.check("group.assignor_range", needs=("produce.keys",))
def group_assignor_range():
    return assignor_check("range")


@program.check("group.assignor_roundrobin", needs=("produce.keys",))
def group_assignor_roundrobin():
    return assignor_check("roundrobin")


@program.check("group.assignor_cooperative_sticky", needs=("produce.keys",))
def group_assignor_cooperative_sticky():
    return assignor_check("cooperative-sticky")


@program.check("group.static_member", needs=("produce.keys",))
def group_static_member():
    """Two static members; one restarts (closes without leaving: librdkafka's static members
    do not send LeaveGroup) and rejoins with its group.instance.id within the session timeout:
    Kafka hands it its partitions back and the other member sees no rebalance."""
    group = S.name("gs")
    events = {"a": [], "b": []}

    def member(instance: str) -> _Consumer:
        c = group_consumer(group, **{"group.instance.id": instance,
                                     "session.timeout.ms": 10_000})

        def on_assign(consumer, partitions):
            events[instance].append(("assign", sorted(tp.partition for tp in partitions)))

        def on_revoke(consumer, partitions):
            events[instance].append(("revoke", sorted(tp.partition for tp in partitions)))

        c.subscribe([S.name("t")], on_assign=on_assign, on_revoke=on_revoke)
        return c

    def settle(members, until, timeout=SETTLE_S + 10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in members:
                m.poll(0.2)
            if until():
                return True
        return False

    def owned(c: _Consumer) -> set:
        return {tp.partition for tp in c.assignment()}

    a = member("a")
    b = None
    try:
        settle([a], lambda: len(owned(a)) == 3)
        b = member("b")
        stable = settle([a, b], lambda: len(owned(a)) + len(owned(b)) == 3
                        and bool(owned(a)) and bool(owned(b)))
        before_a, before_b = owned(a), owned(b)
        b_events = len(events["b"])
        a.close()
        a = member("a")
        back = settle([a, b], lambda: bool(owned(a)))
        settle([b], lambda: False, timeout=2)
        return {"stable_before": stable,
                "partitions_before": sorted([len(before_a), len(before_b)]),
                "restarted_got_partitions": back,
                "restarted_same_partitions": owned(a) == before_a,
                "other_kept_partitions": owned(b) == before_b,
                "other_rebalanced": len(events["b"]) != b_events}
    finally:
        a.close()
        if b is not None:
            b.close()


@program.check("group.consumer_protocol", needs=("produce.keys",))
def group_consumer_protocol():
    """KIP-848's group.protocol=consumer (ConsumerGroupHeartbeat): does a consumer get its
    partitions and read, and how long until it does or fails."""
    errors = []
    c = group_consumer(S.name("g848"), **{"group.protocol": "consumer",
                                          "error_cb": lambda e: errors.append(e.name())})
    started = time.monotonic()
    try:
        c.subscribe([S.name("t")])
        got = consume_n(c, RECORD_COUNT, 12)
        elapsed = time.monotonic() - started
        return {"records": len(got),
                "after": elapsed_bucket(elapsed if len(got) == RECORD_COUNT else None),
                "errors": sorted(set(errors))}
    finally:
        c.close()


# -- admin -------------------------------------------------------------------------------------

@program.check("admin.create_partitions")
def admin_create_partitions():
    topic = S.name("cp")
    create_topic(topic, 3)
    out = {}
    for label, count in (("grow_to_5", 5), ("shrink_to_2", 2)):
        try:
            S.admin.create_partitions([NewPartitions(topic, count)],
                                      request_timeout=TIMEOUT_S)[topic].result(TIMEOUT_S)
            out[label] = "ok"
        except Exception as exc:  # noqa: BLE001 - the error name is the observation
            out[label] = ck_error(exc)
        if label == "grow_to_5":
            out["partitions"] = (partition_count(topic, 5) if out[label] == "ok"
                                 else partition_count(topic))
    return out


def topic_config(topic: str, key: str) -> dict | None:
    resource = ConfigResource(ResourceType.TOPIC, topic)
    entries = S.admin.describe_configs([resource], request_timeout=TIMEOUT_S)[resource].result(
        TIMEOUT_S)
    entry = entries.get(key)
    if entry is None:
        return None
    return {"value": entry.value, "source": ConfigSource(entry.source).name,
            "read_only": entry.is_read_only}


@program.check("admin.alter_configs")
def admin_alter_configs():
    topic = S.name("cfg")
    create_topic(topic, 1)
    before = topic_config(topic, "retention.ms")
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET)])
    S.admin.incremental_alter_configs([resource], request_timeout=TIMEOUT_S)[resource].result(
        TIMEOUT_S)
    # Kafka applies a change through its controller's metadata log: a describe right after
    # the alter may still show the old value on a loaded machine.
    wait_until(lambda: (topic_config(topic, "retention.ms") or {}).get("value") == "3600000")
    return {"before": before, "after": topic_config(topic, "retention.ms")}


@program.check("admin.delete_records")
def admin_delete_records():
    topic = S.name("dr")
    create_topic(topic, 1)
    produce(topic, [(None, f"r{i}".encode(), []) for i in range(5)])
    tp = TopicPartition(topic, 0, 2)
    deleted = S.admin.delete_records([tp], request_timeout=TIMEOUT_S)
    low = next(iter(deleted.values())).result(TIMEOUT_S).low_watermark
    got = read_all(topic, 1, 3)
    earliest = S.admin.list_offsets({TopicPartition(topic, 0): OffsetSpec.earliest()},
                                    request_timeout=TIMEOUT_S)
    return {"low_watermark": low,
            "earliest_after": next(iter(earliest.values())).result(TIMEOUT_S).offset,
            "offsets_read": [m.offset() for m in got]}


@program.check("admin.describe_cluster")
def admin_describe_cluster():
    d = S.admin.describe_cluster(request_timeout=TIMEOUT_S).result(TIMEOUT_S)
    return {"brokers_present": bool(d.nodes), "controller_present": d.controller is not None,
            "cluster_id_present": bool(d.cluster_id)}


# -- errors ------------------------------------------------------------------------------------

@program.check("errors.bad_topic_name")
def errors_bad_topic_name():
    name = S.name("bad name!")
    try:
        S.admin.create_topics([NewTopic(name, 1, 1)], request_timeout=TIMEOUT_S)[name].result(
            TIMEOUT_S)
        return {"result": "created"}
    except Exception as exc:  # noqa: BLE001
        return {"result": ck_error(exc)}


@program.check("errors.unknown_topic")
def errors_unknown_topic():
    """Describe a missing topic, produce to another one with allow.auto.create.topics=false;
    and whether either created its topic after all."""
    missing, missing_p = S.name("missing"), S.name("missing-p")
    out = {}
    try:
        S.admin.describe_topics(TopicCollection([missing]),
                                request_timeout=TIMEOUT_S)[missing].result(TIMEOUT_S)
        out["describe"] = "ok"
    except Exception as exc:  # noqa: BLE001
        out["describe"] = ck_error(exc)
    reports, _ = produce(missing_p, [(None, b"x", [])], **{"message.timeout.ms": 5000,
                                                            "allow.auto.create.topics": False})
    out["produce_no_autocreate"] = reports[0] if isinstance(reports[0], str) else "ok"
    time.sleep(1)  # Kafka creates an auto-created topic asynchronously
    topics = S.admin.list_topics(timeout=TIMEOUT_S).topics
    out["exists_after"] = {"describe": missing in topics, "produce": missing_p in topics}
    return out


@program.check("errors.too_large")
def errors_too_large():
    topic = S.name("big")
    create_topic(topic, 1)
    out = {}
    raised = {"message.max.bytes": 4 * 1024 * 1024, "message.timeout.ms": 10_000}
    cases = (("2MiB_client_default", 2 * 1024 * 1024, {}),
             ("2MiB_to_broker", 2 * 1024 * 1024, raised),
             # Kafka counts the whole batch (61 B header + record overhead) against
             # message.max.bytes (1048588): a 1048544 B value makes a 1048616 B batch.
             ("1048544B_to_broker", 1048544, raised))
    for label, size, config in cases:
        try:
            reports, _ = produce(topic, [(None, b"\x00" * size, [])], **config)
        except Exception as exc:  # noqa: BLE001 - refused by the client itself
            out[label] = "client:" + ck_error(exc)
            continue
        r = reports[0]
        out[label] = ("broker:" + r if isinstance(r, str) else "no report" if r is None
                      else f"ok@{r[1]}")
    return out


@program.check("errors.transactional")
def errors_transactional():
    p = producer(**{"transactional.id": S.name("tx")})
    started = time.monotonic()
    out = {}
    try:
        p.init_transactions(10)
        out["init"] = "ok"
    except Exception as exc:  # noqa: BLE001
        out["init"] = ck_error(exc)
    elapsed = time.monotonic() - started
    out["after"] = elapsed_bucket(elapsed if elapsed < 10 else None)
    if out["init"] == "ok":
        try:
            p.begin_transaction()
            p.produce(S.name("t"), key=b"tx", value=b"tx")
            p.commit_transaction(10)
            out["commit"] = "ok"
        except Exception as exc:  # noqa: BLE001
            out["commit"] = ck_error(exc)
    return out


# -- idempotence -------------------------------------------------------------------------------

@program.check("idempotence.basic")
def idempotence_basic():
    topic = S.name("idem")
    create_topic(topic, 1)
    reports, _ = produce(topic, [(None, f"i{i}".encode(), []) for i in range(10)],
                         **{"enable.idempotence": True})
    got = read_all(topic, 1, 10, timeout=5)
    return {"acked_offsets": [r if isinstance(r, str) or r is None else r[1] for r in reports],
            "read": [text(m.value()) for m in got]}


def setup():
    S.prefix, S.bootstrap = program.args.prefix, program.args.bootstrap
    S.admin = AdminClient({"bootstrap.servers": S.bootstrap})


def teardown():
    if S.group_consumer is not None:
        S.group_consumer.close()


if __name__ == "__main__":
    sys.exit(program.main(setup=setup, teardown=teardown))
