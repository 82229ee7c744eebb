"""franz-go with kadm (conformance/clients/franz/main.go) against the in-process playground
listener: it produces with franz-go's default partitioner (murmur2 for keys, as Java's), reads
back, consumes in a group and commits, and kadm describes, lists, measures the lag of and
resets that group, as it does against Kafka (conformance/run.py compares the two)."""

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

PREFIX = "pytest-franz"
TOPIC = f"{PREFIX}-t"
# The workflow's checks, in the program's order (one run for all of them).
CHECKS = ("metadata.topics", "produce.keys", "fetch.all", "group.consume_commit",
          "group.describe", "group.list", "group.lag", "group.reset_earliest")
RUN_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def franz_binary():
    """The program, built once per go.sum and source (.cache/conformance/bin)."""
    from conformance.clients import franz

    prepared("franz program", franz.build)


@pytest.fixture(scope="module")
def franz_run(franz_binary):
    """The program run once against a fresh listener (conftest.run_against_listener)."""
    from conformance.clients import franz

    return run_against_listener(franz.command, PREFIX, CHECKS, TOPIC, RUN_TIMEOUT_S)


def expected_layout() -> dict[int, list[str]]:
    return key_layout(partition_for_key)


def test_franz_creates_and_lists_the_topic(franz_run):
    lines, _ = franz_run
    assert observed(lines, "metadata.topics") == {
        "create": "ok", "create_partitions": 3,
        "topics": {TOPIC: {"error": "ok", "partitions": 3, "replication_factor": 1}}}


def test_franz_keys_land_where_the_inspector_predicts(franz_run):
    """franz-go's default partitioner (UniformBytesPartitioner with KafkaHasher(murmur2)) puts
    key K on partition_for_key(K, 3), the page's prediction; the listener's model holds each
    record there, in send order."""
    lines, model = franz_run
    produced = observed(lines, "produce.keys")
    assert produced["partitioner"].startswith("kgo.UniformBytesPartitioner")
    layout = expected_layout()
    assert model == layout
    assert produced["records"] == {
        k: {"partition": p, "offset": keys.index(k)} for p, keys in layout.items() for k in keys}


def test_franz_reads_back_what_was_produced(franz_run):
    """Every record comes back where it was written, with the producer's create time."""
    lines, _ = franz_run
    assert_reads_back(lines, expected_layout())


def test_franz_group_consumes_and_commits(franz_run):
    lines, model = franz_run
    assert_group_read_and_committed_everything(lines, model)


def test_franz_kadm_describes_and_lists_the_group(franz_run):
    """kadm.DescribeGroups and ListGroups while the member is in: franz-go's default balancer
    is cooperative-sticky."""
    lines, _ = franz_run
    assert observed(lines, "group.describe") == {
        "state": "Stable", "protocol_type": "consumer", "assignor": "cooperative-sticky",
        "members": 1, "assigned_partitions": [3], "error": "ok"}
    assert observed(lines, "group.list") == {"listed": True, "state": "Stable",
                                             "protocol_type": "consumer"}


def test_franz_kadm_shows_no_lag_after_the_commit(franz_run):
    lines, model = franz_run
    assert observed(lines, "group.lag") == {"state": "Stable", "partitions": {
        str(p): {"committed": len(k), "end": len(k), "lag": 0} for p, k in model.items()}}


def test_franz_kadm_resets_the_group_to_earliest(franz_run):
    """After its member left, kadm commits each partition's start offset for the group, and
    the group's next member reads everything again."""
    lines, _ = franz_run
    assert observed(lines, "group.reset_earliest") == {
        "state_after_leave": "Empty", "commit": {str(p): "ok" for p in range(3)},
        "committed": {str(p): 0 for p in range(3)}, "read_after": 20}
