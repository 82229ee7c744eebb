"""IBM/sarama (conformance/clients/sarama/main.go) against the in-process playground listener:
it produces with sarama's default partitioner (FNV-1a, not Java's murmur2), reads back,
consumes in a consumer group and commits, and its ClusterAdmin describes, lists and resets that
group, as it does against Kafka (conformance/run.py compares the two)."""

import pytest

from .conftest import (
    KEYS,
    assert_group_read_and_committed_everything,
    assert_reads_back,
    key_layout,
    observed,
    prepared,
    run_against_listener,
)

PREFIX = "pytest-sarama"
TOPIC = f"{PREFIX}-t"
CHECKS = ("metadata.topics", "produce.keys", "fetch.all", "group.consume_commit",
          "group.describe", "group.list", "group.lag", "group.reset_earliest")
RUN_TIMEOUT_S = 180


def fnv1a_32(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def sarama_partition(key: str, partitions: int) -> int:
    """sarama's NewHashPartitioner (its default): FNV-1a 32-bit of the key read as a signed
    int32, Go's % (the sign of the dividend), then negated when negative: |h| mod n."""
    h = fnv1a_32(key.encode())
    signed = h - (1 << 32) if h & 0x80000000 else h
    return abs(signed) % partitions


def test_sarama_partition_matches_fnv_test_vectors():
    """FNV-1a's published vectors (the FNV reference, isthe.com/chongo/tech/comp/fnv). Every
    k0..k19 hashes negative as an int32, where sarama's abs and Java's & 0x7fffffff part:
    sarama's rule is the one the program's keys must follow."""
    assert fnv1a_32(b"") == 0x811C9DC5
    assert fnv1a_32(b"a") == 0xE40C292C
    assert fnv1a_32(b"foobar") == 0xBF9CF968
    masked = {k: (fnv1a_32(k.encode()) & 0x7FFFFFFF) % 3 for k in KEYS}
    assert any(sarama_partition(k, 3) != masked[k] for k in KEYS)


@pytest.fixture(scope="module")
def sarama_binary():
    """The program, built once per go.sum and source (.cache/conformance/bin)."""
    from conformance.clients import sarama

    prepared("sarama program", sarama.build)


@pytest.fixture(scope="module")
def sarama_run(sarama_binary):
    """The program run once against a fresh listener (conftest.run_against_listener)."""
    from conformance.clients import sarama

    return run_against_listener(sarama.command, PREFIX, CHECKS, TOPIC, RUN_TIMEOUT_S)


def expected_layout() -> dict[int, list[str]]:
    return key_layout(sarama_partition)


def test_sarama_creates_and_lists_the_topic(sarama_run):
    lines, _ = sarama_run
    assert observed(lines, "metadata.topics") == {
        "create": "ok", "topics": {TOPIC: {"partitions": 3, "replication_factor": 1}}}


def test_sarama_keys_land_where_its_hash_partitioner_puts_them(sarama_run):
    """sarama's default partitioner is FNV-1a, so its keys land elsewhere than Java's: the
    listener keeps each record on the partition the client chose, in send order."""
    lines, model = sarama_run
    produced = observed(lines, "produce.keys")
    assert produced["partitioner"].startswith("sarama.NewHashPartitioner")
    layout = expected_layout()
    assert model == layout
    assert produced["records"] == {
        k: {"partition": p, "offset": keys.index(k), "as_hash_partitioner": True}
        for p, keys in layout.items() for k in keys}


def test_sarama_reads_back_what_was_produced(sarama_run):
    lines, _ = sarama_run
    assert_reads_back(lines, expected_layout())


def test_sarama_group_consumes_and_commits(sarama_run):
    """A sarama ConsumerGroup (protocol version 2.8, sarama's default: OffsetCommit v7) reads
    everything and its commit sticks."""
    lines, model = sarama_run
    assert_group_read_and_committed_everything(lines, model)


def test_sarama_admin_describes_and_lists_the_group(sarama_run):
    """ClusterAdmin.DescribeConsumerGroups and ListConsumerGroups while the member is in:
    sarama's default assignor is range."""
    lines, _ = sarama_run
    assert observed(lines, "group.describe") == {
        "state": "Stable", "protocol_type": "consumer", "assignor": "range", "members": 1,
        "assigned_partitions": [3], "error": "ok"}
    assert observed(lines, "group.list") == {"listed": True, "protocol_type": "consumer"}


def test_sarama_shows_no_lag_after_the_commit(sarama_run):
    lines, model = sarama_run
    assert observed(lines, "group.lag") == {"partitions": {
        str(p): {"committed": len(k), "end": len(k), "lag": 0} for p, k in model.items()}}


def test_sarama_admin_resets_the_group_to_earliest(sarama_run):
    """After its member left, ClusterAdmin.AlterConsumerGroupOffsets moves the group back to
    the start, and the group's next member reads everything again."""
    lines, _ = sarama_run
    assert observed(lines, "group.reset_earliest") == {
        "state_after_leave": "Empty", "commit": {str(p): "ok" for p in range(3)},
        "committed": {str(p): 0 for p in range(3)}, "read_after": 20}
