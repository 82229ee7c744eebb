"""Java's kafka-clients (conformance/clients/java/Conformance.java: KafkaProducer, KafkaConsumer
with the classic group protocol, Admin) against the in-process playground listener: it
produces with Java's default partitioner, reads back, consumes in a group and commits, and
its Admin describes, lists, measures the lag of and resets that group, as against Kafka."""

import pytest

from broker_core import reads
from broker_core.partitioner import partition_for_key
from tests.kafka.conftest import Live

from .conftest import observed, run_program

PREFIX = "pytest-java"
TOPIC = f"{PREFIX}-t"
# The checks the workflow needs, in the program's order (one JVM run for all of them). Two
# group joins wait the listener's group.initial.rebalance.delay.ms (3 s, Kafka's default).
CHECKS = ("metadata.topics", "produce.keys", "fetch.all", "group.consume_commit",
          "group.describe", "group.list", "group.lag", "group.reset_earliest")
RUN_TIMEOUT_S = 240
KEYS = [f"k{i}" for i in range(20)]


@pytest.fixture(scope="module")
def java_run(kafka_jars):
    """The Java program run once against a fresh listener: (lines, the listener's model
    after the run as {partition: [keys in offset order]} of PREFIX-t)."""
    from conformance.clients import java

    live = Live()
    try:
        argv = java.command(live.bootstrap, PREFIX, ",".join(CHECKS))
        lines, stderr, seconds = run_program(argv, RUN_TIMEOUT_S)
        print(f"Java program: {seconds:.1f} s")

        def model_keys():
            out = {}
            for p in range(3):
                got = reads.records(live.room.cluster, TOPIC, p, 0, 10 << 20)
                out[p] = [r[1] for r in got["records"]]
            return out

        yield lines, live.call(model_keys), stderr
    finally:
        live.close()


def test_java_producer_keys_land_where_the_inspector_predicts(java_run):
    """Java's default partitioner (murmur2) puts key K on partition_for_key(K, 3), which is
    what the page's key inspector shows; the listener's model (what /r/live animates) holds
    each record there, in send order."""
    lines, model, _ = java_run
    produced = observed(lines, "produce.keys")
    assert [r["key"] for r in produced] == KEYS
    for r in produced:
        assert r["partition"] == partition_for_key(r["key"], 3), r
    expected = {p: [k for k in KEYS if partition_for_key(k, 3) == p] for p in range(3)}
    assert model == expected
    for p, keys in expected.items():
        assert [r["offset"] for r in produced if r["partition"] == p] == list(range(len(keys)))


def test_java_consumer_reads_back_what_was_produced(java_run):
    lines, _, _ = java_run
    fetched = observed(lines, "fetch.all")
    assert sorted((r["key"], r["value"]) for r in fetched) == sorted(
        (k, "v" + k[1:]) for k in KEYS)
    # The producer's own create time comes back, not a time the listener made up.
    assert {(r["timestamp_type"], r["timestamp"]) for r in fetched} == {
        ("CREATE_TIME", "during_send")}


def test_java_group_consumes_and_commits(java_run):
    lines, model, _ = java_run
    got = observed(lines, "group.consume_commit")
    ends = {str(p): len(keys) for p, keys in model.items()}
    assert got == {"records": 20, "committed": ends, "assigned": 3}


def test_java_admin_describes_and_lists_the_group(java_run):
    lines, _, _ = java_run
    assert observed(lines, "group.describe") == {
        "state": "STABLE", "type": "CLASSIC", "simple": False, "assignor": "range",
        "members": 1, "assigned_counts": [3], "client_ids": ["PREFIX-member"],
        "coordinator": "present"}
    listing = {"listed": True, "type": "CLASSIC", "protocol": "consumer", "state": "STABLE"}
    assert observed(lines, "group.list") == {"all": listing, "consumer_groups": listing}


def test_java_admin_shows_no_lag_after_the_commit(java_run):
    lines, model, _ = java_run
    assert observed(lines, "group.lag") == {
        str(p): {"committed": len(k), "end": len(k), "lag": 0} for p, k in model.items()}


def test_java_admin_resets_the_group_to_earliest(java_run):
    """After its member left, Admin.alterConsumerGroupOffsets moves the group back to the
    start, and the group's next member reads everything again."""
    lines, _, _ = java_run
    assert observed(lines, "group.reset_earliest") == {
        "after_leave": {"members": 0, "state": "EMPTY"},
        "committed": {f"PREFIX-t-{p}": 0 for p in range(3)}, "reread": 20}


def test_java_admin_creates_and_describes_the_topic(java_run):
    """Admin.createTopics, listTopics and describeTopics (Kafka 4's Admin lists the nodes
    first: DescribeCluster)."""
    lines, _, _ = java_run
    assert observed(lines, "metadata.topics") == {
        "listed": ["PREFIX-t"],
        "described": {"name": "PREFIX-t", "internal": False, "partitions": 3,
                      "replication_factors": [1], "leaders_in_isr": True}}
