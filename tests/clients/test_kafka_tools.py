"""Kafka's own command-line tools (conformance/clients/tools: kafka-topics, the console producer
and consumer, kafka-consumer-groups, kafka-configs, kafka-get-offsets, kafka-delete-records,
each its 4.x main class on the cached jars) against the in-process playground listener: the
workflow of every Kafka tutorial, as the tools print it."""

import sys

import pytest

from broker_core.partitioner import partition_for_key
from tests.kafka.conftest import Live

from .conftest import observed, run_program

PREFIX = "pytest-tools"
# ~22 JVM starts, two at a time (1-2 s each once the class-data archive exists), one group
# join waiting the initial rebalance delay (3 s).
RUN_TIMEOUT_S = 300
KEYS = [f"k{i}" for i in range(20)]


@pytest.fixture(scope="module")
def tools_run(kafka_jars):
    live = Live()
    try:
        lines, stderr, seconds = run_program(
            [sys.executable, "-m", "conformance.clients.tools", "--bootstrap", live.bootstrap,
             "--prefix", PREFIX], RUN_TIMEOUT_S)
        print(f"Kafka tools: {seconds:.1f} s; {stderr.strip().splitlines()[-1]}")
        yield lines
    finally:
        live.close()


def ends(lines) -> dict:
    """Each partition's record count from what the console consumer read."""
    out = {}
    for r in observed(lines, "fetch.all"):
        out[str(r["partition"])] = out.get(str(r["partition"]), 0) + 1
    return out


def test_kafka_topics_creates_and_describes(tools_run):
    got = observed(tools_run, "metadata.topics")
    assert got["created"] == "Created topic PREFIX-t."
    assert (got["topic"], got["partition_count"], got["replication_factor"]) == (
        "PREFIX-t", 3, 1)
    assert [p["leader"] for p in got["partitions"]] == ["present"] * 3


def test_console_producer_keys_land_where_the_inspector_predicts(tools_run):
    for r in observed(tools_run, "produce.keys"):
        assert r["partition"] == partition_for_key(r["key"], 3), r


def test_console_consumer_reads_keys_values_headers(tools_run):
    fetched = observed(tools_run, "fetch.all")
    assert len(fetched) == 21
    keyed = {r["key"]: r for r in fetched}
    for i, k in enumerate(KEYS):
        assert (keyed[k]["value"], keyed[k]["headers"]) == (f"v{i}", [["i", str(i)]])
    assert {(r["timestamp_type"], r["timestamp"]) for r in fetched} == {
        ("CreateTime", "during_send")}


def test_consumer_groups_describes_the_live_member(tools_run):
    assert observed(tools_run, "group.describe") == {
        "state": "Stable", "assignor": "range", "members": 1, "assigned_counts": [3],
        "client_ids": ["console-consumer"]}


def test_console_consumer_commits_and_the_group_shows_no_lag(tools_run):
    assert observed(tools_run, "group.consume_commit") == {"records": 21,
                                                            "committed": ends(tools_run)}
    lag = observed(tools_run, "group.lag")
    assert lag["partitions"] == {p: {"committed": n, "end": n, "lag": 0}
                                 for p, n in ends(tools_run).items()}
    assert lag["active_member"] is False
    assert observed(tools_run, "group.list") == {"listed": True, "state": "Empty"}


def test_consumer_groups_resets_offsets_to_earliest(tools_run):
    assert observed(tools_run, "group.reset_earliest") == {
        "new_offsets": {"0": 0, "1": 0, "2": 0}}


def test_get_offsets_earliest_latest_and_by_time(tools_run):
    assert observed(tools_run, "list_offsets.earliest_latest") == {
        "earliest": {"0": 0, "1": 0, "2": 0}, "latest": ends(tools_run)}
    assert observed(tools_run, "list_offsets.by_time") == {
        "before_first": {"0": 0, "1": 0, "2": 0}, "after_last": {}}


def test_configs_topics_and_delete_records_change_the_topic(tools_run):
    configs = observed(tools_run, "admin.alter_configs")
    assert configs["alter"] == "Completed updating config for topic PREFIX-t."
    assert configs["dynamic"]["retention.ms"]["value"] == "3600000"
    grown = observed(tools_run, "admin.create_partitions")
    assert (grown["partition_count"], grown["configs"]) == (5, {"retention.ms": "3600000"})
    assert observed(tools_run, "admin.delete_records") == {
        "low_watermarks": {"PREFIX-t-0": 2}}


def test_consumer_groups_deletes_the_group(tools_run):
    assert observed(tools_run, "group.delete") == {
        "output": "Deletion of requested consumer groups ('PREFIX-g') was successful.",
        "listed_after": False}
