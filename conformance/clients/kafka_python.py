"""Conformance checks for kafka-python (3.x): producer, consumer and KafkaAdminClient, each with
its defaults (murmur2 partitioner, range+roundrobin assignors, idempotence on).

    python -m conformance.clients.kafka_python --bootstrap HOST:PORT --prefix PREFIX [--only X]
"""

from __future__ import annotations

import sys
import threading
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, OffsetSpec
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

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

program = Program("kafka-python")
# Short client-side timeouts: a check must end well within CHECK_TIMEOUT_S even when a broker
# never answers the way the client hopes.
TIMEOUT_MS = 15_000


class State(RunState):
    admin: KafkaAdminClient | None = None
    metadata: dict = {}
    group_consumer: KafkaConsumer | None = None


S = State()


def producer(**config) -> KafkaProducer:
    return KafkaProducer(**{"bootstrap_servers": S.bootstrap, "request_timeout_ms": TIMEOUT_MS,
                            "max_block_ms": TIMEOUT_MS, **config})


def consumer(**config) -> KafkaConsumer:
    return KafkaConsumer(**{"bootstrap_servers": S.bootstrap, "request_timeout_ms": TIMEOUT_MS,
                            **config})


def create_topic(name: str, partitions: int, configs: dict | None = None) -> None:
    S.admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 1,
                                  "configs": configs or {}}}, timeout_ms=TIMEOUT_MS)
    partition_count(name, partitions)


def partition_count(name: str, expect: int | None = None) -> int | None:
    """Partitions of `name` in metadata; waits (bounded) until it shows `expect` of them."""
    def count():
        for topic in S.admin.describe_topics([name]):
            if topic["error_code"] == 0 and topic["name"] == name:
                n = len(topic["partitions"])
                return n if expect is None or n == expect else None
        return None
    return wait_until(count)


def read_all(topic: str, partitions: int, expected: int, timeout: float = SETTLE_S, **config):
    """Every record of `topic` from the beginning (assigned, no group), up to `expected`."""
    c = consumer(**config)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            for msgs in c.poll(timeout_ms=500).values():
                got.extend(msgs)
        return got
    finally:
        c.close()


def produce(topic: str, records, **config) -> tuple[list, Window]:
    p = producer(**config)
    try:
        window = Window()
        futures = [p.send(topic, key=k, value=v, headers=h) for k, v, h in records]
        p.flush(TIMEOUT_MS / 1000)
        metas = [f.get(TIMEOUT_MS / 1000) for f in futures]
        return metas, window.close()
    finally:
        p.close(5)


# -- metadata and produce/fetch ---------------------------------------------------------------

@program.check("metadata.topics")
def metadata_topics():
    create_topic(S.name("t"), 3)
    listed = [t for t in S.admin.list_topics() if t == S.name("t")]
    return {"topics": sorted([S.short(t), partition_count(t)] for t in listed)}


@program.check("produce.keys", needs=("metadata.topics",))
def produce_keys():
    metas, S.window = produce(S.name("t"), keyed_records())
    S.metadata = {f"k{i}": m for i, m in enumerate(metas)}
    return {key: [m.partition, m.offset] for key, m in S.metadata.items()}


@program.check("fetch.all", needs=("produce.keys",))
def fetch_all():
    got = read_all(S.name("t"), 3, RECORD_COUNT)
    return sorted([m.partition, m.offset, text(m.key), text(m.value), headers_list(m.headers),
                   S.window.relate(m.timestamp), m.timestamp_type] for m in got)


@program.check("produce.headers_duplicate")
def produce_headers_duplicate():
    topic = S.name("h")
    create_topic(topic, 1)
    produce(topic, [(b"dup", b"x", [("h", b"1"), ("h", b"2")])])
    got = read_all(topic, 1, 1)
    return [headers_list(m.headers) for m in got]


@program.check("produce.compression")
def produce_compression():
    """Each codec the client offers: produced and read back (values and offsets)."""
    out = {}
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        topic = S.name(f"z-{codec}")
        create_topic(topic, 1)
        try:
            produce(topic, [(None, f"{codec}{i}".encode() * 50, []) for i in range(3)],
                    compression_type=codec)
            got = read_all(topic, 1, 3, timeout=5)
            out[codec] = [[m.offset, text(m.value)[:8]] for m in got]
        except Exception as exc:  # noqa: BLE001 - the error name is the observation
            out[codec] = error_name(exc)
    return out


@program.check("list_offsets.earliest_latest", needs=("produce.keys",))
def list_offsets_earliest_latest():
    c = consumer()
    try:
        tps = [TopicPartition(S.name("t"), p) for p in range(3)]
        first = c.beginning_offsets(tps, timeout_ms=TIMEOUT_MS)
        last = c.end_offsets(tps, timeout_ms=TIMEOUT_MS)
        return [[tp.partition, first[tp], last[tp]] for tp in tps]
    finally:
        c.close()


@program.check("list_offsets.by_time", needs=("produce.keys",))
def list_offsets_by_time():
    c = consumer()
    try:
        tps = [TopicPartition(S.name("t"), p) for p in range(3)]
        out = {}
        for label, ts in (("before_first", S.window.start - 1), ("after_last", S.window.end + 1)):
            found = c.offsets_for_times({tp: ts for tp in tps}, timeout_ms=TIMEOUT_MS)
            out[label] = [[tp.partition, None if found[tp] is None else found[tp].offset]
                          for tp in tps]
        return out
    finally:
        c.close()


# -- groups ----------------------------------------------------------------------------------

@program.check("group.consume_commit", needs=("produce.keys",))
def group_consume_commit():
    c = consumer(group_id=S.name("g"), auto_offset_reset="earliest", enable_auto_commit=False)
    S.group_consumer = c
    c.subscribe([S.name("t")])
    got = []
    deadline = time.monotonic() + SETTLE_S + 10
    while len(got) < RECORD_COUNT and time.monotonic() < deadline:
        for msgs in c.poll(timeout_ms=500).values():
            got.extend(msgs)
    c.commit()
    tps = [TopicPartition(S.name("t"), p) for p in range(3)]
    return {"records": len(got),
            "committed": [[tp.partition, c.committed(tp, timeout_ms=TIMEOUT_MS)] for tp in tps]}


def describe(group: str) -> dict:
    info = S.admin.describe_groups([group])[group]
    members = info.get("members") or []
    counts = []
    for m in members:
        assignment = m.get("member_assignment")
        if hasattr(assignment, "assigned_partitions"):
            counts.append(sum(len(t.partitions) for t in assignment.assigned_partitions))
        elif isinstance(assignment, dict):
            counts.append(sum(len(t["partitions"]) for t in assignment.get("assigned_partitions",
                                                                             [])))
        else:
            counts.append(None)
    return {"error": info.get("error"), "state": info.get("group_state"),
            "protocol_type": info.get("protocol_type"), "assignor": info.get("protocol_data"),
            "members": len(members), "assigned_partitions": sorted(counts, key=str)}


@program.check("group.describe", needs=("group.consume_commit",))
def group_describe():
    return describe(S.name("g"))


def listed(group: str) -> dict | None:
    for g in S.admin.list_groups():
        if g["group_id"] == group:
            return {k: v for k, v in g.items() if k != "group_id"}
    return None


@program.check("group.list", needs=("group.consume_commit",))
def group_list():
    found = listed(S.name("g"))
    return {"listed": found is not None, **(found or {})}


def committed_offsets(group: str) -> list:
    offsets = S.admin.list_group_offsets({group: None})[group]
    return sorted([S.short(tp.topic), tp.partition, om.offset] for tp, om in offsets.items())


@program.check("group.lag", needs=("group.consume_commit",))
def group_lag():
    committed = {p: o for _, p, o in committed_offsets(S.name("g"))}
    c = consumer()
    try:
        tps = [TopicPartition(S.name("t"), p) for p in range(3)]
        ends = c.end_offsets(tps, timeout_ms=TIMEOUT_MS)
    finally:
        c.close()
    return [[tp.partition, committed.get(tp.partition), ends[tp],
             None if committed.get(tp.partition) is None else ends[tp] - committed[tp.partition]]
            for tp in tps]


@program.check("group.describe_after_leave", needs=("group.consume_commit",))
def group_describe_after_leave():
    if S.group_consumer is not None:
        S.group_consumer.close()
        S.group_consumer = None
    return describe(S.name("g"))


@program.check("group.reset_earliest", needs=("group.describe_after_leave",))
def group_reset_earliest():
    tps = [TopicPartition(S.name("t"), p) for p in range(3)]
    result = S.admin.reset_group_offsets(S.name("g"), {tp: OffsetSpec.EARLIEST for tp in tps})
    return {"result": sorted([tp.partition, r["error"].__name__, r["offset"]]
                             for tp, r in result.items()),
            "committed": committed_offsets(S.name("g"))}


@program.check("group.delete_offsets", needs=("group.describe_after_leave",))
def group_delete_offsets():
    tp = TopicPartition(S.name("t"), 0)
    result = S.admin.delete_group_offsets(S.name("g"), [tp])
    return {"result": sorted([t.partition, e.__name__] for t, e in result.items()),
            "committed": committed_offsets(S.name("g"))}


@program.check("group.delete", needs=("group.describe_after_leave",))
def group_delete():
    result = S.admin.delete_groups([S.name("g")])
    return {"result": {S.short(g): r for g, r in result.items()},
            "listed_after": listed(S.name("g")) is not None}


class Member:
    """A group consumer polled by its own thread, as applications run them. (Polling two
    kafka-python consumers in turns from one thread with short timeouts leaves a member
    rejoining after every SyncGroup, against real Kafka too: its join is cut off by poll's
    timeout.) `owned` is its assignment after its last poll; `assigned` counts the
    assignments its rebalance listener saw."""

    def __init__(self, **config):
        self.consumer = consumer(**config)
        self.assigned = 0
        self.owned: frozenset[int] = frozenset()
        self._stop = threading.Event()
        member = self

        class Listener(ConsumerRebalanceListener):
            def on_partitions_assigned(self, assigned):
                member.assigned += 1

            def on_partitions_revoked(self, revoked):
                pass

        self.consumer.subscribe([S.name("t")], listener=Listener())
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.consumer.poll(timeout_ms=500)
            self.owned = frozenset(tp.partition for tp in self.consumer.assignment())

    def close(self):
        """Stop polling and close; a static member does not send LeaveGroup either way."""
        self._stop.set()
        self._thread.join(10)
        self.consumer.close(autocommit=False)


def settle(until, timeout: float = SETTLE_S + 10) -> bool:
    return bool(wait_until(until, timeout=timeout))


def assignor_check(assignor) -> dict:
    """Two members of a fresh group with one assignor, joined together: which partitions each
    gets (as a sorted list of partition lists: member ids are random) and what DescribeGroups
    names as the protocol."""
    group = S.name(f"ga-{assignor.name}")
    members = [Member(group_id=group, partition_assignment_strategy=[assignor],
                      auto_offset_reset="earliest") for _ in range(2)]
    try:
        settle(lambda: all(m.owned for m in members) and
               sum(len(m.owned) for m in members) == 3)
        out = {"assignment": sorted(sorted(m.owned) for m in members)}
        try:
            out["described"] = describe(group)["assignor"]
        except Exception as exc:  # noqa: BLE001
            out["described"] = error_name(exc)
        return out
    finally:
        for m in members:
            m.close()


@program.check("group.assignor_range", needs=("produce.keys",))
def group_assignor_range():
    return assignor_check(RangePartitionAssignor)


@program.check("group.assignor_roundrobin", needs=("produce.keys",))
def group_assignor_roundrobin():
    return assignor_check(RoundRobinPartitionAssignor)


# No sticky / cooperative-sticky check here: kafka-python 3.0.12's sticky assignors kept two
# members rebalancing against real Kafka too (aiokafka's program checks "sticky" and
# confluent-kafka's "cooperative-sticky").


@program.check("group.static_member", needs=("produce.keys",))
def group_static_member():
    """Two static members; one restarts (closes without leaving, rejoins with its
    group.instance.id within the session timeout): Kafka hands it its partitions back and the
    other member sees no rebalance."""
    def member(instance: str) -> Member:
        return Member(group_id=S.name("gs"), group_instance_id=instance,
                      session_timeout_ms=10_000, auto_offset_reset="earliest")

    a = member("a")
    b = None
    try:
        settle(lambda: len(a.owned) == 3)
        b = member("b")
        stable = settle(lambda: a.owned and b.owned and len(a.owned) + len(b.owned) == 3)
        before_a, before_b, b_assigned = a.owned, b.owned, b.assigned
        a.close()  # a static member does not send LeaveGroup
        a = member("a")
        back = settle(lambda: bool(a.owned))
        time.sleep(2)  # b polls meanwhile: time to see a rebalance the rejoin started, if any
        return {"stable_before": stable,
                "partitions_before": sorted([len(before_a), len(before_b)]),
                "restarted_got_partitions": back,
                "restarted_same_partitions": a.owned == before_a,
                "other_kept_partitions": b.owned == before_b,
                "other_rebalanced": b.assigned != b_assigned}
    finally:
        a.close()
        if b is not None:
            b.close()


# -- admin -------------------------------------------------------------------------------------

@program.check("admin.create_partitions")
def admin_create_partitions():
    topic = S.name("cp")
    create_topic(topic, 3)
    out = {}
    try:
        S.admin.create_partitions({topic: 5}, timeout_ms=TIMEOUT_MS)
        out["grow_to_5"] = "ok"
        out["partitions"] = partition_count(topic, 5) or partition_count(topic)
    except Exception as exc:  # noqa: BLE001 - the error name is the observation
        out["grow_to_5"] = error_name(exc)
        out["partitions"] = partition_count(topic)
    try:
        S.admin.create_partitions({topic: 2}, timeout_ms=TIMEOUT_MS)
        out["shrink_to_2"] = "ok"
    except Exception as exc:  # noqa: BLE001
        out["shrink_to_2"] = error_name(exc)
    return out


def topic_config(topic: str, key: str) -> dict | None:
    """One topic config as DescribeConfigs shows it: value and source (DEFAULT_CONFIG,
    DYNAMIC_TOPIC_CONFIG, ...)."""
    result = S.admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic, [key])],
                                      config_filter="all")
    entry = result.get("topic", {}).get(topic, {}).get(key)
    if entry is None:
        return None
    return {"value": entry["value"], "source": entry["config_source"],
            "read_only": entry["read_only"]}


def settled_config(topic: str, key: str, want: str) -> dict | None:
    """The config once it shows `want`, or as it is after a while: Kafka applies a change
    through its controller's metadata log, so a describe right after the alter may still show
    the old value on a loaded machine."""
    wait_until(lambda: (topic_config(topic, key) or {}).get("value") == want)
    return topic_config(topic, key)


@program.check("admin.alter_configs")
def admin_alter_configs():
    topic = S.name("cfg")
    create_topic(topic, 1)
    before = topic_config(topic, "retention.ms")
    S.admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                          {"retention.ms": "3600000"})], incremental=True)
    return {"before": before, "after": settled_config(topic, "retention.ms", "3600000")}


@program.check("admin.alter_configs_legacy")
def admin_alter_configs_legacy():
    """The old AlterConfigs (whole-resource SET): what kafka-python sends without incremental."""
    topic = S.name("cfgl")
    create_topic(topic, 1)
    S.admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                          {"retention.ms": "7200000"})], incremental=False)
    return {"after": settled_config(topic, "retention.ms", "7200000")}


@program.check("admin.delete_records")
def admin_delete_records():
    topic = S.name("dr")
    create_topic(topic, 1)
    produce(topic, [(None, f"r{i}".encode(), []) for i in range(5)])
    tp = TopicPartition(topic, 0)
    result = S.admin.delete_records({tp: 2}, timeout_ms=TIMEOUT_MS)
    low = result[tp]["low_watermark"]
    got = read_all(topic, 1, 3)
    c = consumer()
    try:
        earliest = c.beginning_offsets([tp], timeout_ms=TIMEOUT_MS)[tp]
    finally:
        c.close()
    return {"low_watermark": low, "earliest_after": earliest,
            "offsets_read": [m.offset for m in got]}


@program.check("admin.describe_cluster")
def admin_describe_cluster():
    info = S.admin.describe_cluster()
    return {"brokers_present": bool(info.get("brokers")), "controller_present":
            info.get("controller_id", -1) is not None and info.get("controller_id", -1) >= 0,
            "cluster_id_present": bool(info.get("cluster_id"))}


# -- errors ------------------------------------------------------------------------------------

@program.check("errors.bad_topic_name")
def errors_bad_topic_name():
    try:
        S.admin.create_topics({S.name("bad name!"): {"num_partitions": 1,
                                                     "replication_factor": 1}})
        return {"result": "created"}
    except Exception as exc:  # noqa: BLE001
        return {"result": error_name(exc)}


@program.check("errors.unknown_topic")
def errors_unknown_topic():
    """Describe a missing topic, then produce to another one with auto-creation disallowed by
    the client; and whether either request created its topic after all."""
    missing, missing_p = S.name("missing"), S.name("missing-p")
    out = {}
    try:
        out["describe"] = [error_name_for_code(t["error_code"])
                           for t in S.admin.describe_topics([missing])]
    except Exception as exc:  # noqa: BLE001
        out["describe"] = error_name(exc)
    p = producer(allow_auto_create_topics=False, max_block_ms=3000)
    try:
        p.send(missing_p, b"x").get(5)
        out["produce_no_autocreate"] = "ok"
    except Exception as exc:  # noqa: BLE001
        out["produce_no_autocreate"] = error_name(exc)
    finally:
        p.close(2)
    time.sleep(1)  # Kafka creates an auto-created topic asynchronously
    topics = S.admin.list_topics()
    out["exists_after"] = {"describe": missing in topics, "produce": missing_p in topics}
    return out


def error_name_for_code(code: int) -> str:
    import kafka.errors as Errors
    return "NONE" if code == 0 else error_name(Errors.for_code(code)())


@program.check("errors.too_large")
def errors_too_large():
    topic = S.name("big")
    create_topic(topic, 1)
    out = {}
    cases = (("2MiB_client_default", 2 * 1024 * 1024, {}),
             ("2MiB_to_broker", 2 * 1024 * 1024, {"max_request_size": 4 * 1024 * 1024}),
             # Kafka counts the whole batch (61 B header + record overhead) against
             # message.max.bytes (1048588): a 1048544 B value makes a 1048616 B batch.
             ("1048544B_to_broker", 1048544, {"max_request_size": 4 * 1024 * 1024}))
    for label, size, config in cases:
        p = producer(retries=0, **config)
        try:
            # Refused by the client itself (send raises) or by the broker (the future fails).
            try:
                future = p.send(topic, b"\x00" * size)
            except Exception as exc:  # noqa: BLE001
                out[label] = "client:" + error_name(exc)
                continue
            try:
                out[label] = f"ok@{future.get(TIMEOUT_MS / 1000).offset}"
            except Exception as exc:  # noqa: BLE001
                out[label] = "broker:" + error_name(exc)
        finally:
            p.close(5)
    return out


@program.check("errors.transactional")
def errors_transactional():
    p = None
    started = time.monotonic()
    out = {}
    try:
        p = producer(transactional_id=S.name("tx"), max_block_ms=10_000)
        p.init_transactions()
        out["init"] = "ok"
    except Exception as exc:  # noqa: BLE001
        out["init"] = error_name(exc)
    elapsed = time.monotonic() - started
    out["after"] = elapsed_bucket(elapsed if elapsed < 10 else None)
    if out["init"] == "ok":
        try:
            p.begin_transaction()
            p.send(S.name("t"), key=b"tx", value=b"tx")
            p.commit_transaction()
            out["commit"] = "ok"
        except Exception as exc:  # noqa: BLE001
            out["commit"] = error_name(exc)
    if p is not None:
        p.close(2)
    return out


# -- idempotence -------------------------------------------------------------------------------

@program.check("idempotence.basic")
def idempotence_basic():
    topic = S.name("idem")
    create_topic(topic, 1)
    metas, _ = produce(topic, [(None, f"i{i}".encode(), []) for i in range(10)],
                       enable_idempotence=True, acks="all")
    got = read_all(topic, 1, 10, timeout=5)
    return {"acked_offsets": [m.offset for m in metas], "read": [text(m.value) for m in got]}


def setup():
    S.prefix, S.bootstrap = program.args.prefix, program.args.bootstrap
    S.admin = KafkaAdminClient(bootstrap_servers=S.bootstrap, request_timeout_ms=TIMEOUT_MS)


def teardown():
    if S.group_consumer is not None:
        S.group_consumer.close()
    if S.admin is not None:
        S.admin.close()


if __name__ == "__main__":
    sys.exit(program.main(setup=setup, teardown=teardown))
