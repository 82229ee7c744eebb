"""Producing and consuming: the lecture's five services on order-placed, workloads, acks."""

from collections import Counter, defaultdict

import pytest

from broker_core import Cluster, CommandError
from broker_core.partitioner import partition_for_key

from .helpers import Recorder, cluster_with_topic

SERVICES = ("inventory", "seller", "notification", "invoice", "delivery")


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_five_groups_each_process_every_order_exactly_once_in_offset_order(seed):
    rec = Recorder(cluster_with_topic(name="order-placed", partitions=3, seed=seed))
    for group in SERVICES:
        for _ in range(2):
            rec.apply({"type": "consumer.add", "group": group, "topics": ["order-placed"],
                       "processing_ms": 40 + 10 * SERVICES.index(group)})
    rec.apply({"type": "producer.add", "id": "orders", "topic": "order-placed",
               "rate_per_s": 20, "keys": {"kind": "sequence", "prefix": "order-"},
               "value": "order {n} placed"})
    rec.advance(30_000)
    rec.apply({"type": "producer.remove", "id": "orders"})
    rec.advance(30_000)
    produced = {(e["partition"], e["offset"]): e for e in rec.of_type("record.produced")}
    assert len(produced) == 601  # 20 a second for 30 s, the first at t=0
    for e in produced.values():
        assert e["partition"] == partition_for_key(e["key"], 3)
    processed = defaultdict(list)
    for e in rec.of_type("record.processed"):
        processed[e["group"]].append((e["partition"], e["offset"]))
    for group in SERVICES:
        counts = Counter(processed[group])
        assert set(counts) == set(produced), group
        assert max(counts.values()) == 1, group
        for p in range(3):
            offsets = [o for part, o in processed[group] if part == p]
            assert offsets == sorted(offsets), (group, p)
    lag = [row["lag"] for g in rec.cluster.snapshot()["groups"].values() for row in g["lag"]]
    assert lag == [0] * 15


def test_a_workload_sends_exactly_its_rate():
    cluster = cluster_with_topic(name="t", partitions=2)
    events = cluster.apply({"type": "producer.add", "id": "p", "topic": "t", "rate_per_s": 3,
                            "keys": "null"})
    events += cluster.advance(10_000)
    times = [e["t_ms"] for e in events if e["type"] == "record.produced"]
    assert times[:4] == [0, 334, 667, 1_000]
    assert len(times) == 31  # records 0..30, due at ceil(n * 1000 / 3) <= 10_000


def test_a_fast_workload_sends_several_records_in_one_millisecond():
    cluster = cluster_with_topic(name="t", partitions=2)
    events = cluster.apply({"type": "producer.add", "id": "p", "topic": "t",
                            "rate_per_s": 5_000})
    events += cluster.advance(999)
    produced = [e for e in events if e["type"] == "record.produced"]
    # record n is due at ceil(n / 5) ms: n = 0..4995 by t = 999, five per millisecond
    assert len(produced) == 4_996
    assert [e["t_ms"] for e in produced[:7]] == [0, 1, 1, 1, 1, 1, 2]


@pytest.mark.parametrize("keys,check", [
    ({"kind": "sequence", "prefix": "user-", "start": 10},
     lambda ks: ks[:3] == ["user-10", "user-11", "user-12"]),
    ({"kind": "uniform", "values": ["a", "b", "c"]}, lambda ks: set(ks) == {"a", "b", "c"}),
    ({"kind": "uniform", "prefix": "k", "count": 5},
     lambda ks: set(ks) == {f"k{i}" for i in range(1, 6)}
     and max(Counter(ks).values()) < 0.3 * len(ks)),
    ({"kind": "hot", "prefix": "item-", "count": 50, "hot_keys": 1, "hot_share": 0.9},
     lambda ks: Counter(ks).most_common(1)[0] == ("item-1", Counter(ks)["item-1"])
     and Counter(ks)["item-1"] > 0.8 * len(ks)),
    ({"kind": "null"}, lambda ks: ks == [None] * len(ks)),
])
def test_key_draws(keys, check):
    cluster = cluster_with_topic(name="t", partitions=3)
    events = cluster.apply({"type": "producer.add", "id": "p", "topic": "t",
                            "rate_per_s": 100, "keys": keys})
    events += cluster.advance(5_000)
    drawn = [e["key"] for e in events if e["type"] == "record.produced"]
    assert len(drawn) == 501 and check(drawn)


def test_workload_values_and_sizes():
    cluster = cluster_with_topic(name="t")
    events = cluster.apply({"type": "producer.add", "id": "p", "topic": "t", "rate_per_s": 1,
                            "value": "order {n}: {key}", "value_bytes": 20})
    events += cluster.advance(1_000)
    values = [e["value"] for e in events if e["type"] == "record.produced"]
    assert values == ["order 1: order-1....", "order 2: order-2...."]
    assert all(len(v) == 20 for v in values)


@pytest.mark.parametrize("command,field", [
    ({"id": "p", "topic": "nope", "rate_per_s": 1}, "topic"),
    ({"id": "p", "topic": "t", "rate_per_s": 0}, "rate_per_s"),
    ({"id": "p", "topic": "t", "rate_per_s": 10_000_000}, "rate_per_s"),
    ({"id": "p", "topic": "t", "rate_per_s": 1e-310}, "rate_per_s"),
    ({"id": "p", "topic": "t", "rate_per_s": 1, "keys": {"kind": "zipf"}}, "keys.kind"),
    ({"id": "p", "topic": "t", "rate_per_s": 1, "keys": {"kind": "hot", "hot_share": 2}},
     "keys.hot_share"),
    ({"id": "p", "topic": "t", "rate_per_s": 1, "acks": "2"}, "acks"),
    ({"id": "has space", "topic": "t", "rate_per_s": 1}, "id"),
])
def test_producer_add_is_validated(command, field):
    cluster = cluster_with_topic(name="t")
    with pytest.raises(CommandError) as info:
        cluster.apply({"type": "producer.add", **command})
    assert info.value.field == field


@pytest.mark.parametrize("command,field", [
    ({"topic": "nope", "value": "v"}, "topic"),
    ({"topic": "t", "value": 5}, "value"),
    ({"topic": "t", "value": "v", "partition": 3}, "partition"),
    ({"topic": "t", "value": "v", "partition": -1}, "partition"),
    ({"topic": "t", "value": "v", "acks": "2"}, "acks"),
    ({"topic": "t", "value": "v", "headers": {"h": 1}}, "headers.h"),
    ({"topic": "t", "value": "v", "headers": ["h"]}, "headers"),
    ({"topic": "t", "value": "v", "colour": "red"}, "colour"),
])
def test_produce_is_validated(command, field):
    cluster = cluster_with_topic(name="t")
    with pytest.raises(CommandError) as info:
        cluster.apply({"type": "produce", **command})
    assert info.value.field == field


def test_acks_decide_when_a_record_is_acknowledged():
    cluster = cluster_with_topic(name="t", partitions=1)
    kinds = {}
    for acks in ("0", "1", "all", "-1", 1, 0):
        events = cluster.apply({"type": "produce", "topic": "t", "value": "v", "acks": acks})
        kinds[repr(acks)] = [e["type"] for e in events]
    assert kinds["'0'"] == kinds["0"] == ["record.produced"]
    assert kinds["'1'"] == kinds["1"] == ["record.produced", "record.acked"]
    # One replica: the HW moves at once. "-1" is Kafka's other spelling of all.
    assert kinds["'all'"] == kinds["'-1'"] == ["record.produced", "record.acked"]


def test_min_insync_above_the_replica_count_fails_acks_all_with_kafkas_error():
    cluster = cluster_with_topic(name="t", partitions=1, rf=1,
                                 config={"min.insync.replicas": 2})
    events = cluster.apply({"type": "produce", "topic": "t", "value": "v"})
    assert [(e["type"], e.get("error")) for e in events] == [
        ("produce.failed", "NOT_ENOUGH_REPLICAS")]
    events = cluster.apply({"type": "produce", "topic": "t", "value": "v", "acks": "1"})
    assert events[0]["type"] == "record.produced"


def test_a_record_over_max_message_bytes_is_refused():
    cluster = cluster_with_topic(name="t", config={"max.message.bytes": 10})
    events = cluster.apply({"type": "produce", "topic": "t", "value": "x" * 11})
    assert events[0]["error"] == "MESSAGE_TOO_LARGE"
    assert cluster.snapshot()["topics"]["t"]["partitions"][0]["log_end_offset"] == 0


def test_headers_travel_with_the_record():
    cluster = cluster_with_topic(name="t")
    events = cluster.apply({"type": "produce", "topic": "t", "value": "v",
                            "headers": {"trace": "abc"}})
    assert events[0]["headers"] == {"trace": "abc"}


def test_a_deleted_topic_makes_its_workload_fail_visibly():
    cluster = cluster_with_topic(name="t")
    cluster.apply({"type": "producer.add", "id": "p", "topic": "t", "rate_per_s": 1})
    cluster.advance(500)
    cluster.apply({"type": "topic.delete", "name": "t"})
    events = cluster.advance(1_000)
    failed = [e for e in events if e["type"] == "produce.failed"]
    assert [e["error"] for e in failed] == ["UNKNOWN_TOPIC_OR_PARTITION"]


def test_consumers_of_a_deleted_topic_let_it_go():
    rec = Recorder(cluster_with_topic(name="t", partitions=2))
    rec.apply({"type": "consumer.add", "group": "g", "id": "c1", "topics": ["t"]})
    rec.advance(5_000)
    rec.apply({"type": "topic.delete", "name": "t"})
    rec.advance(5_000)
    group = rec.cluster.snapshot()["groups"]["g"]
    assert group["state"] == "Stable" and group["members"] == {"c1": []}
    assert group["lag"] == []


def test_a_group_may_start_before_its_topic_exists():
    rec = Recorder(Cluster(seed=1, brokers=1))
    rec.apply({"type": "consumer.add", "group": "g", "id": "c1", "topics": ["later"]})
    rec.advance(5_000)
    rec.apply({"type": "topic.create", "name": "later", "partitions": 2})
    rec.apply({"type": "produce", "topic": "later", "value": "v", "key": "k"})
    rec.advance(5_000)
    assert len(rec.of_type("record.processed")) == 1
