"""Conformance checks for aiokafka: AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient,
each with its defaults (murmur2 partitioner, the roundrobin assignor, idempotence off).

    python -m conformance.clients.aiokafka_client --bootstrap HOST:PORT --prefix PREFIX [--only X]

aiokafka's admin client has no DeleteGroups, no IncrementalAlterConfigs and no offset reset; where
an application would do the same thing another way with this library, the check does it that
way (a reset is a commit by a consumer of the group that is not subscribed, which is what Kafka's
own tool does) and otherwise skips.
"""

from __future__ import annotations

import asyncio
import sys
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import for_code

from conformance.clients.common import (
    RECORD_COUNT,
    SETTLE_S,
    Program,
    RunState,
    Skip,
    Window,
    async_wait_until,
    elapsed_bucket,
    error_name,
    headers_list,
    keyed_records,
    text,
)

program = Program("aiokafka")
TIMEOUT_MS = 15_000


class State(RunState):
    admin: AIOKafkaAdminClient | None = None
    group_consumer: AIOKafkaConsumer | None = None


S = State()


def code_name(code: int) -> str:
    return "NONE" if code == 0 else error_name(for_code(code)())


async def producer(**config) -> AIOKafkaProducer:
    p = AIOKafkaProducer(**{"bootstrap_servers": S.bootstrap, "request_timeout_ms": TIMEOUT_MS,
                            **config})
    await p.start()
    return p


async def consumer(**config) -> AIOKafkaConsumer:
    c = AIOKafkaConsumer(**{"bootstrap_servers": S.bootstrap, "request_timeout_ms": TIMEOUT_MS,
                            **config})
    await c.start()
    return c


async def create_topic(name: str, partitions: int) -> None:
    response = await S.admin.create_topics([NewTopic(name, partitions, 1)])
    for topic_error in response.topic_errors:
        if topic_error[1]:
            raise for_code(topic_error[1])(topic_error[2] if len(topic_error) > 2 else "")
    await partition_count(name, partitions)


async def partition_count(name: str, expect: int | None = None) -> int | None:
    async def count():
        for topic in await S.admin.describe_topics([name]):
            if topic["error_code"] == 0 and topic["topic"] == name:
                n = len(topic["partitions"])
                return n if expect is None or n == expect else None
        return None
    return await async_wait_until(count)


async def read_all(topic: str, partitions: int, expected: int, timeout: float = SETTLE_S):
    c = await consumer()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            for msgs in (await c.getmany(timeout_ms=500)).values():
                got.extend(msgs)
        return got
    finally:
        await c.stop()


async def produce(topic: str, records, **config):
    p = await producer(**config)
    try:
        window = Window()
        futures = [await p.send(topic, key=k, value=v, headers=h) for k, v, h in records]
        metas = [await f for f in futures]
        return metas, window.close()
    finally:
        await p.stop()


# -- metadata and produce/fetch ---------------------------------------------------------------

@program.check("metadata.topics")
async def metadata_topics():
    await create_topic(S.name("t"), 3)
    topics = []
    for t in await S.admin.list_topics():
        if t == S.name("t"):
            topics.append([S.short(t), await partition_count(t)])
    return {"topics": sorted(topics)}


@program.check("produce.keys", needs=("metadata.topics",))
async def produce_keys():
    metas, S.window = await produce(S.name("t"), keyed_records())
    return {f"k{i}": [m.partition, m.offset] for i, m in enumerate(metas)}


@program.check("fetch.all", needs=("produce.keys",))
async def fetch_all():
    got = await read_all(S.name("t"), 3, RECORD_COUNT)
    return sorted([m.partition, m.offset, text(m.key), text(m.value), headers_list(m.headers),
                   S.window.relate(m.timestamp), m.timestamp_type] for m in got)


@program.check("produce.headers_duplicate")
async def produce_headers_duplicate():
    topic = S.name("h")
    await create_topic(topic, 1)
    await produce(topic, [(b"dup", b"x", [("h", b"1"), ("h", b"2")])])
    return [headers_list(m.headers) for m in await read_all(topic, 1, 1)]


@program.check("produce.compression")
async def produce_compression():
    """Each codec the client offers: produced and read back (values and offsets)."""
    out = {}
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        topic = S.name(f"z-{codec}")
        await create_topic(topic, 1)
        try:
            await produce(topic, [(None, f"{codec}{i}".encode() * 50, []) for i in range(3)],
                          compression_type=codec)
            got = await read_all(topic, 1, 3, timeout=5)
            out[codec] = [[m.offset, text(m.value)[:8]] for m in got]
        except Exception as exc:  # noqa: BLE001 - the error name is the observation
            out[codec] = error_name(exc)
    return out


@program.check("list_offsets.earliest_latest", needs=("produce.keys",))
async def list_offsets_earliest_latest():
    c = await consumer()
    try:
        tps = [TopicPartition(S.name("t"), p) for p in range(3)]
        first = await c.beginning_offsets(tps)
        last = await c.end_offsets(tps)
        return [[tp.partition, first[tp], last[tp]] for tp in tps]
    finally:
        await c.stop()


@program.check("list_offsets.by_time", needs=("produce.keys",))
async def list_offsets_by_time():
    c = await consumer()
    try:
        tps = [TopicPartition(S.name("t"), p) for p in range(3)]
        out = {}
        for label, ts in (("before_first", S.window.start - 1), ("after_last", S.window.end + 1)):
            found = await c.offsets_for_times({tp: ts for tp in tps})
            out[label] = [[tp.partition, None if found[tp] is None else found[tp].offset]
                          for tp in tps]
        return out
    finally:
        await c.stop()


# -- groups ----------------------------------------------------------------------------------

@program.check("group.consume_commit", needs=("produce.keys",))
async def group_consume_commit():
    c = await consumer(group_id=S.name("g"), auto_offset_reset="earliest",
                       enable_auto_commit=False)
    S.group_consumer = c
    c.subscribe([S.name("t")])
    got = []
    deadline = time.monotonic() + SETTLE_S + 10
    while len(got) < RECORD_COUNT and time.monotonic() < deadline:
        for msgs in (await c.getmany(timeout_ms=500)).values():
            got.extend(msgs)
    await c.commit()
    tps = [TopicPartition(S.name("t"), p) for p in range(3)]
    return {"records": len(got), "committed": [[tp.partition, await c.committed(tp)]
                                               for tp in tps]}


async def describe(group: str) -> dict:
    responses = await S.admin.describe_consumer_groups([group])
    for response in responses:
        for g in response.groups:
            # (error_code, group_id, state, protocol_type, protocol, members[, ops])
            error_code, group_id, state, protocol_type, protocol, members = g[:6]
            if group_id != group:
                continue
            counts = []
            for m in members:
                assignment = m[-1]
                if assignment:
                    decoded = ConsumerProtocolMemberAssignment.decode(assignment)
                    counts.append(len(decoded.partitions()))
                else:
                    counts.append(0)
            return {"error": None if error_code == 0 else code_name(error_code),
                    "state": state, "protocol_type": protocol_type, "assignor": protocol,
                    "members": len(members), "assigned_partitions": sorted(counts)}
    return {"error": "not in answer"}


@program.check("group.describe", needs=("group.consume_commit",))
async def group_describe():
    return await describe(S.name("g"))


async def listed(group: str):
    for g in await S.admin.list_consumer_groups():
        if g[0] == group:
            return list(g[1:])
    return None


@program.check("group.list", needs=("group.consume_commit",))
async def group_list():
    found = await listed(S.name("g"))
    return {"listed": found is not None, "fields": found}


async def committed_offsets(group: str) -> list:
    offsets = await S.admin.list_consumer_group_offsets(group)
    return sorted([S.short(tp.topic), tp.partition, om.offset] for tp, om in offsets.items())


@program.check("group.lag", needs=("group.consume_commit",))
async def group_lag():
    committed = {p: o for _, p, o in await committed_offsets(S.name("g"))}
    c = await consumer()
    try:
        tps = [TopicPartition(S.name("t"), p) for p in range(3)]
        ends = await c.end_offsets(tps)
    finally:
        await c.stop()
    return [[tp.partition, committed.get(tp.partition), ends[tp],
             None if committed.get(tp.partition) is None else ends[tp] - committed[tp.partition]]
            for tp in tps]


@program.check("group.describe_after_leave", needs=("group.consume_commit",))
async def group_describe_after_leave():
    if S.group_consumer is not None:
        await S.group_consumer.stop()
        S.group_consumer = None
    return await describe(S.name("g"))


@program.check("group.reset_earliest", needs=("group.describe_after_leave",))
async def group_reset_earliest():
    """aiokafka's admin cannot alter offsets: a consumer of the group commits the earliest
    offsets of partitions it assigned itself (no subscription, so no join)."""
    c = await consumer(group_id=S.name("g"), enable_auto_commit=False)
    try:
        tps = [TopicPartition(S.name("t"), p) for p in range(3)]
        c.assign(tps)
        earliest = await c.beginning_offsets(tps)
        await c.commit({tp: earliest[tp] for tp in tps})
    finally:
        await c.stop()
    return {"committed": await committed_offsets(S.name("g"))}


@program.check("group.delete")
async def group_delete():
    raise Skip("aiokafka's admin client has no DeleteGroups")


async def assignor_check(assignor) -> dict:
    """Two members of a fresh group with one assignor, joined together: which partitions each
    gets (as a sorted list of partition lists: member ids are random) and what DescribeGroups
    names as the protocol."""
    group = S.name(f"ga-{assignor.name}")
    members = [await consumer(group_id=group, partition_assignment_strategy=(assignor,),
                              auto_offset_reset="earliest") for _ in range(2)]
    try:
        for m in members:
            m.subscribe([S.name("t")])
        deadline = time.monotonic() + SETTLE_S + 10
        while time.monotonic() < deadline:
            await asyncio.gather(*(m.getmany(timeout_ms=200) for m in members))
            if all(m.assignment() for m in members) and \
                    sum(len(m.assignment()) for m in members) == 3:
                break
        out = {"assignment": sorted(sorted(tp.partition for tp in m.assignment())
                                    for m in members)}
        try:
            out["described"] = (await describe(group))["assignor"]
        except Exception as exc:  # noqa: BLE001
            out["described"] = error_name(exc)
        return out
    finally:
        for m in members:
            await m.stop()


@program.check("group.assignor_range", needs=("produce.keys",))
async def group_assignor_range():
    return await assignor_check(RangePartitionAssignor)


@program.check("group.assignor_roundrobin", needs=("produce.keys",))
async def group_assignor_roundrobin():
    return await assignor_check(RoundRobinPartitionAssignor)


@program.check("group.assignor_sticky", needs=("produce.keys",))
async def group_assignor_sticky():
    return await assignor_check(StickyPartitionAssignor)


class Counting(ConsumerRebalanceListener):
    def __init__(self):
        self.assigned = 0

    async def on_partitions_revoked(self, revoked):
        pass

    async def on_partitions_assigned(self, assigned):
        self.assigned += 1


@program.check("group.static_member", needs=("produce.keys",))
async def group_static_member():
    """Two static members; one restarts (stops without leaving, rejoins with its
    group.instance.id within the session timeout): Kafka hands it its partitions back and the
    other member sees no rebalance."""
    group = S.name("gs")

    async def member(instance: str, listener: Counting) -> AIOKafkaConsumer:
        c = await consumer(group_id=group, group_instance_id=instance, session_timeout_ms=10_000,
                           auto_offset_reset="earliest")
        c.subscribe([S.name("t")], listener=listener)
        return c

    async def settle(members, until, timeout=SETTLE_S + 10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in members:
                await m.getmany(timeout_ms=200)
            if until():
                return True
        return False

    la, lb = Counting(), Counting()
    a = await member("a", la)
    b = None
    try:
        await settle([a], lambda: len(a.assignment()) == 3)
        b = await member("b", lb)
        stable = await settle([a, b], lambda: len(a.assignment()) + len(b.assignment()) == 3
                              and bool(a.assignment()) and bool(b.assignment()))
        before_a, before_b = set(a.assignment()), set(b.assignment())
        b_assigned = lb.assigned
        await a.stop()  # a static member does not send LeaveGroup
        a = await member("a", Counting())
        back = await settle([a, b], lambda: bool(a.assignment()))
        await settle([b], lambda: False, timeout=2)
        return {"stable_before": stable,
                "partitions_before": sorted([len(before_a), len(before_b)]),
                "restarted_got_partitions": back,
                "restarted_same_partitions": set(a.assignment()) == before_a,
                "other_kept_partitions": set(b.assignment()) == before_b,
                "other_rebalanced": lb.assigned != b_assigned}
    finally:
        await a.stop()
        if b is not None:
            await b.stop()


# -- admin -------------------------------------------------------------------------------------

@program.check("admin.create_partitions")
async def admin_create_partitions():
    topic = S.name("cp")
    await create_topic(topic, 3)
    out = {}
    try:
        await S.admin.create_partitions({topic: NewPartitions(5)})
        out["grow_to_5"] = "ok"
        out["partitions"] = await partition_count(topic, 5) or await partition_count(topic)
    except Exception as exc:  # noqa: BLE001 - the error name is the observation
        out["grow_to_5"] = error_name(exc)
        out["partitions"] = await partition_count(topic)
    try:
        await S.admin.create_partitions({topic: NewPartitions(2)})
        out["shrink_to_2"] = "ok"
    except Exception as exc:  # noqa: BLE001
        out["shrink_to_2"] = error_name(exc)
    return out


# DescribeConfigs v1+ config_source codes (Kafka's DescribeConfigsResponse.ConfigSource).
CONFIG_SOURCES = {0: "UNKNOWN", 1: "DYNAMIC_TOPIC_CONFIG", 2: "DYNAMIC_BROKER_CONFIG",
                  3: "DYNAMIC_DEFAULT_BROKER_CONFIG", 4: "STATIC_BROKER_CONFIG",
                  5: "DEFAULT_CONFIG", 6: "DYNAMIC_BROKER_LOGGER_CONFIG",
                  7: "CLIENT_METRICS_CONFIG", 8: "GROUP_CONFIG"}


async def topic_config(topic: str, key: str) -> dict | None:
    responses = await S.admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, {key: None})])
    for response in responses:
        for resource in response.resources:
            error_code, _message, _rtype, name, entries = resource[:5]
            if error_code:
                return {"error": code_name(error_code)}
            for entry in entries:
                if entry[0] == key:
                    # v1+: (name, value, read_only, config_source, is_sensitive, synonyms)
                    source = entry[3] if len(entry) > 5 else None
                    return {"value": entry[1], "read_only": entry[2],
                            "source": CONFIG_SOURCES.get(source, source)}
    return None


@program.check("admin.alter_configs")
async def admin_alter_configs():
    raise Skip("aiokafka's admin client has no IncrementalAlterConfigs "
               "(admin.alter_configs_legacy uses AlterConfigs)")


@program.check("admin.alter_configs_legacy")
async def admin_alter_configs_legacy():
    topic = S.name("cfgl")
    await create_topic(topic, 1)
    before = await topic_config(topic, "retention.ms")
    responses = await S.admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": "7200000"})])
    errors = [code_name(r[0]) for response in responses for r in response.resources]

    # Kafka applies a change through its controller's metadata log: a describe right after
    # the alter may still show the old value on a loaded machine.
    async def shows_it():
        return ((await topic_config(topic, "retention.ms")) or {}).get("value") == "7200000"
    await async_wait_until(shows_it)
    return {"before": before, "alter": errors,
            "after": await topic_config(topic, "retention.ms")}


@program.check("admin.delete_records")
async def admin_delete_records():
    topic = S.name("dr")
    await create_topic(topic, 1)
    await produce(topic, [(None, f"r{i}".encode(), []) for i in range(5)])
    tp = TopicPartition(topic, 0)
    result = await S.admin.delete_records({tp: RecordsToDelete(2)})
    got = await read_all(topic, 1, 3)
    c = await consumer()
    try:
        earliest = (await c.beginning_offsets([tp]))[tp]
    finally:
        await c.stop()
    return {"low_watermark": result[tp], "earliest_after": earliest,
            "offsets_read": [m.offset for m in got]}


# -- errors ------------------------------------------------------------------------------------

@program.check("errors.bad_topic_name")
async def errors_bad_topic_name():
    response = await S.admin.create_topics([NewTopic(S.name("bad name!"), 1, 1)])
    return {"result": [code_name(e[1]) for e in response.topic_errors]}


@program.check("errors.unknown_topic")
async def errors_unknown_topic():
    """Describe a missing topic (aiokafka's Metadata request), produce to another one; and
    whether either created its topic after all."""
    missing, missing_p = S.name("missing"), S.name("missing-p")
    out = {"describe": [code_name(t["error_code"])
                        for t in await S.admin.describe_topics([missing])]}
    p = await producer(request_timeout_ms=5000)
    try:
        await p.send_and_wait(missing_p, b"x")
        out["produce"] = "ok"
    except Exception as exc:  # noqa: BLE001
        out["produce"] = error_name(exc)
    finally:
        await p.stop()
    await asyncio.sleep(1)  # Kafka creates an auto-created topic asynchronously
    topics = await S.admin.list_topics()
    out["exists_after"] = {"describe": missing in topics, "produce": missing_p in topics}
    return out


@program.check("errors.too_large")
async def errors_too_large():
    topic = S.name("big")
    await create_topic(topic, 1)
    out = {}
    cases = (("2MiB_client_default", 2 * 1024 * 1024, {}),
             ("2MiB_to_broker", 2 * 1024 * 1024, {"max_request_size": 4 * 1024 * 1024}),
             # Kafka counts the whole batch (61 B header + record overhead) against
             # message.max.bytes (1048588): a 1048544 B value makes a 1048616 B batch.
             ("1048544B_to_broker", 1048544, {"max_request_size": 4 * 1024 * 1024}))
    for label, size, config in cases:
        p = await producer(**config)
        try:
            try:
                future = await p.send(topic, b"\x00" * size)
            except Exception as exc:  # noqa: BLE001 - refused by the client itself
                out[label] = "client:" + error_name(exc)
                continue
            try:
                meta = await asyncio.wait_for(future, TIMEOUT_MS / 1000)
                out[label] = f"ok@{meta.offset}"
            except Exception as exc:  # noqa: BLE001 - refused by the broker
                out[label] = "broker:" + error_name(exc)
        finally:
            await p.stop()
    return out


@program.check("errors.transactional")
async def errors_transactional():
    started = time.monotonic()
    out = {}
    p = AIOKafkaProducer(bootstrap_servers=S.bootstrap, request_timeout_ms=TIMEOUT_MS,
                         transactional_id=S.name("tx"))
    try:
        await asyncio.wait_for(p.start(), 10)  # start() is where aiokafka inits the id
        out["init"] = "ok"
    except TimeoutError:
        out["init"] = "timeout"
    except Exception as exc:  # noqa: BLE001
        out["init"] = error_name(exc)
    elapsed = time.monotonic() - started
    out["after"] = elapsed_bucket(elapsed if elapsed < 10 else None)
    if out["init"] == "ok":
        try:
            async with p.transaction():
                await p.send_and_wait(S.name("t"), key=b"tx", value=b"tx")
            out["commit"] = "ok"
        except Exception as exc:  # noqa: BLE001
            out["commit"] = error_name(exc)
    try:
        await asyncio.wait_for(p.stop(), 5)
    except Exception:  # noqa: BLE001, S110 - a producer that never started may not stop cleanly
        pass
    return out


@program.check("idempotence.basic")
async def idempotence_basic():
    topic = S.name("idem")
    await create_topic(topic, 1)
    metas, _ = await produce(topic, [(None, f"i{i}".encode(), []) for i in range(10)],
                             enable_idempotence=True)
    got = await read_all(topic, 1, 10, timeout=5)
    return {"acked_offsets": [m.offset for m in metas], "read": [text(m.value) for m in got]}


async def setup():
    S.prefix, S.bootstrap = program.args.prefix, program.args.bootstrap
    S.admin = AIOKafkaAdminClient(bootstrap_servers=S.bootstrap, request_timeout_ms=TIMEOUT_MS)
    await S.admin.start()


async def teardown():
    if S.group_consumer is not None:
        await S.group_consumer.stop()
    if S.admin is not None:
        await S.admin.close()


if __name__ == "__main__":
    sys.exit(program.main(setup=setup, teardown=teardown))
