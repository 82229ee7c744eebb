"""kafkajs (conformance/clients/kafkajs/main.js) against the in-process playground listener: it
produces with kafkajs' DefaultPartitioner (Java-compatible murmur2), reads back, consumes in a
group and commits, and its admin describes, lists and resets that group (admin.resetOffsets,
which checks the group first with DescribeGroups), as it does against Kafka."""

import pytest

from broker_core.partitioner import partition_for_key

from .conftest import (
    assert_group_read_and_committed_everything,
    assert_reads_back,
    key_layout,
    observed,
    prepared,
    run_against_listener,
)

PREFIX = "pytest-kafkajs"
TOPIC = f"{PREFIX}-t"
CHECKS = ("metadata.topics", "produce.keys", "fetch.all", "group.consume_commit",
          "group.describe", "group.list", "group.lag", "group.reset_earliest")
# Every kafkajs consumer joins a group, and each join waits the listener's
# group.initial.rebalance.delay.ms (3 s, Kafka's default): four joins here.
RUN_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def kafkajs_ready():
    """Node, and kafkajs installed from its package-lock.json (npm ci, once)."""
    from conformance.clients import kafkajs

    prepared("kafkajs", lambda: (kafkajs.node(), kafkajs.install()))


@pytest.fixture(scope="module")
def kafkajs_run(kafkajs_ready):
    """The program run once against a fresh listener (conftest.run_against_listener)."""
    from conformance.clients import kafkajs

    return run_against_listener(kafkajs.command, PREFIX, CHECKS, TOPIC, RUN_TIMEOUT_S)


def expected_layout() -> dict[int, list[str]]:
    return key_layout(partition_for_key)


def test_kafkajs_creates_and_lists_the_topic(kafkajs_run):
    lines, _ = kafkajs_run
    assert observed(lines, "metadata.topics") == {
        "create": "ok", "topics": {TOPIC: {"partitions": 3, "replication_factor": 1}}}


def test_kafkajs_keys_land_where_the_inspector_predicts(kafkajs_run):
    """kafkajs 2's DefaultPartitioner is Java's murmur2: key K lands on partition_for_key(K, 3),
    the page's prediction, and the listener's model holds it there in send order."""
    lines, model = kafkajs_run
    produced = observed(lines, "produce.keys")
    assert "DefaultPartitioner" in produced["partitioner"]
    layout = expected_layout()
    assert model == layout
    assert produced["records"] == {
        k: {"partition": p, "offset": keys.index(k)} for p, keys in layout.items() for k in keys}


def test_kafkajs_reads_back_what_was_produced(kafkajs_run):
    lines, _ = kafkajs_run
    assert_reads_back(lines, expected_layout())


def test_kafkajs_group_consumes_and_commits(kafkajs_run):
    lines, model = kafkajs_run
    assert_group_read_and_committed_everything(lines, model)


def test_kafkajs_admin_describes_and_lists_the_group(kafkajs_run):
    """admin.describeGroups and listGroups while the member is in: kafkajs' default assigner
    is its RoundRobinAssigner."""
    lines, _ = kafkajs_run
    assert observed(lines, "group.describe") == {
        "state": "Stable", "protocol_type": "consumer", "assignor": "RoundRobinAssigner",
        "members": 1, "assigned_partitions": [3], "error": "ok"}
    assert observed(lines, "group.list") == {"listed": True, "protocol_type": "consumer"}


def test_kafkajs_shows_no_lag_after_the_commit(kafkajs_run):
    lines, model = kafkajs_run
    assert observed(lines, "group.lag") == {"partitions": {
        str(p): {"committed": len(k), "end": len(k), "lag": 0} for p, k in model.items()}}


def test_kafkajs_admin_resets_the_group_to_earliest(kafkajs_run):
    """admin.resetOffsets({earliest: true}) once the member left: kafkajs checks the group is
    empty, then joins it and commits offset -2 (Kafka's "earliest" sentinel) for every
    partition. Kafka stores -2 as given and a consumer that finds it starts from the beginning:
    the group's next member reads everything again."""
    lines, _ = kafkajs_run
    assert observed(lines, "group.reset_earliest") == {
        "state_after_leave": "Empty", "reset": "ok",
        "committed": {str(p): -2 for p in range(3)}, "read_after": 20}
