"""The admin APIs a Kafka tool or admin client uses besides CreateTopics/DeleteTopics:
ListGroups, DescribeGroups, DeleteGroups, OffsetDelete, CreatePartitions, AlterConfigs,
IncrementalAlterConfigs, DeleteRecords, DescribeCluster. Through confluent-kafka's AdminClient
(librdkafka) where it has the call, else a raw request; each answer as Kafka 4 gives it."""

import time

import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from playground.kafka.codec import REQUESTS

from .conftest import Live
from .test_groups_wire import Raw, coordinator

TOPIC = "orders"


@pytest.fixture(scope="module")
def live():
    server = Live()
    yield server
    server.close()


@pytest.fixture(scope="module")
def admin(live):
    return AdminClient({"bootstrap.servers": live.bootstrap})


def create(admin, name: str, partitions: int = 3) -> None:
    for f in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        f.result(10)


def produce(live, topic: str, n: int) -> None:
    p = Producer({"bootstrap.servers": live.bootstrap, "partitioner": "murmur2_random"})
    for i in range(n):
        p.produce(topic, key=f"k{i}", value=f"v{i}")
    assert p.flush(10) == 0


def consume_and_commit(live, topic: str, group: str, n: int) -> Consumer:
    c = Consumer({"bootstrap.servers": live.bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got, deadline = 0, time.monotonic() + 30
    while got < n and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got += 1
    assert got == n
    c.commit(asynchronous=False)
    return c


def error_of(future) -> str:
    with pytest.raises(Exception) as info:
        future.result(10)
    err = info.value.args[0]
    return err.name() if isinstance(err, KafkaError) else str(err)


def test_a_group_is_listed_described_reset_and_deleted(live, admin):
    create(admin, "t-groups")
    produce(live, "t-groups", 12)
    c = consume_and_commit(live, "t-groups", "g-admin", 12)
    try:
        listed = {g.group_id: g for g in admin.list_consumer_groups().result(10).valid}
        assert listed["g-admin"].state.name == "STABLE"
        assert listed["g-admin"].type.name == "CLASSIC"
        described = admin.describe_consumer_groups(["g-admin"])["g-admin"].result(10)
        assert described.state.name == "STABLE" and described.partition_assignor == "range"
        [member] = described.members
        assert sorted(tp.partition for tp in member.assignment.topic_partitions) == [0, 1, 2]
        # A group with members cannot be deleted, nor its offsets reset by an admin.
        assert error_of(admin.delete_consumer_groups(["g-admin"])["g-admin"]) == \
            "NON_EMPTY_GROUP"
    finally:
        c.close()
    described = admin.describe_consumer_groups(["g-admin"])["g-admin"].result(10)
    assert described.state.name == "EMPTY" and described.members == []
    reset = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(
        "g-admin", [TopicPartition("t-groups", p, 0) for p in range(3)])])
    reset["g-admin"].result(10)
    fetched = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions("g-admin")])
    assert sorted((tp.partition, tp.offset)
                  for tp in fetched["g-admin"].result(10).topic_partitions) == \
        [(0, 0), (1, 0), (2, 0)]
    admin.delete_consumer_groups(["g-admin"])["g-admin"].result(10)
    assert "g-admin" not in {g.group_id for g in admin.list_consumer_groups().result(10).valid}
    assert error_of(admin.delete_consumer_groups(["g-admin"])["g-admin"]) == \
        "GROUP_ID_NOT_FOUND"


def test_list_groups_filters_by_state_and_type_on_the_coordinator_only(live):
    live.apply({"type": "topic.create", "name": "t-list", "partitions": 1,
                "replication_factor": 1})
    live.apply({"type": "consumer.add", "group": "modelled", "id": "c1", "topics": ["t-list"]})
    ListGroups = REQUESTS[16]
    here = coordinator(live, "modelled")
    raw = Raw(live, here)
    answer = raw.call(ListGroups, 5, states_filter=[], types_filter=[])
    assert [(g.group_id, g.protocol_type, g.group_type) for g in answer.groups
            if g.group_id == "modelled"] == [("modelled", "consumer", "classic")]
    assert not [g for g in raw.call(ListGroups, 5, states_filter=["Dead"],
                                    types_filter=[]).groups if g.group_id == "modelled"]
    assert not raw.call(ListGroups, 5, states_filter=[], types_filter=["consumer"]).groups
    other = Raw(live, next(b for b in (1, 2, 3) if b != here))
    assert "modelled" not in {g.group_id for g in other.call(ListGroups, 3).groups}


def test_describe_groups_answers_kafkas_errors_by_version(live):
    DescribeGroups = REQUESTS[15]
    raw = Raw(live, coordinator(live, "nobody"))
    [v5] = raw.call(DescribeGroups, 5, groups=["nobody"],
                    include_authorized_operations=False).groups
    assert (v5.error_code, v5.group_state) == (0, "Dead")
    [v6] = raw.call(DescribeGroups, 6, groups=["nobody"],
                    include_authorized_operations=False).groups
    # GROUP_ID_NOT_FOUND
    assert v6.error_code == 69 and v6.error_message == "Group nobody not found."
    other = Raw(live, next(b for b in (1, 2, 3) if b != coordinator(live, "nobody")))
    [wrong] = other.call(DescribeGroups, 5, groups=["nobody"],
                         include_authorized_operations=False).groups
    assert wrong.error_code == 16  # NOT_COORDINATOR


def test_a_modelled_group_is_described_as_a_java_consumer_would_be(live, admin):
    live.apply({"type": "topic.create", "name": "t-model", "partitions": 2,
                "replication_factor": 1})
    live.apply({"type": "consumer.add", "group": "modelled-g", "id": "m1",
                "topics": ["t-model"]})
    deadline = time.monotonic() + 10
    while True:
        described = admin.describe_consumer_groups(["modelled-g"])["modelled-g"].result(10)
        if described.state.name == "STABLE" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert described.state.name == "STABLE"
    [member] = described.members
    assert member.member_id == "m1"
    assert sorted(tp.partition for tp in member.assignment.topic_partitions) == [0, 1]


def test_offset_delete_forgets_offsets_unless_the_group_reads_the_topic(live):
    live.apply({"type": "topic.create", "name": "t-odel", "partitions": 2,
                "replication_factor": 1})
    OffsetCommit, OffsetDelete, OffsetFetch = REQUESTS[8], REQUESTS[47], REQUESTS[9]
    raw = Raw(live, coordinator(live, "g-odel"))
    raw.call(OffsetCommit, 2, group_id="g-odel", generation_id_or_member_epoch=-1,
             member_id="", retention_time_ms=-1,
             topics=[{"name": "t-odel", "partitions": [
                 {"partition_index": p, "committed_offset": 5, "committed_metadata": ""}
                 for p in (0, 1)]}])
    answer = raw.call(OffsetDelete, 0, group_id="g-odel", topics=[
        {"name": "t-odel", "partitions": [{"partition_index": 0}]},
        {"name": "missing", "partitions": [{"partition_index": 0}]}])
    assert answer.error_code == 0
    assert [[p.error_code for p in t.partitions] for t in answer.topics] == [[0], [3]]
    fetched = raw.call(OffsetFetch, 5, group_id="g-odel",
                       topics=[{"name": "t-odel", "partition_indexes": [0, 1]}])
    assert [(p.partition_index, p.committed_offset) for p in fetched.topics[0].partitions] == \
        [(0, -1), (1, 5)]
    assert raw.call(OffsetDelete, 0, group_id="nobody-here", topics=[]).error_code in (16, 69)


def test_create_partitions_grows_a_topic_and_refuses_to_shrink_it(live, admin):
    create(admin, "t-grow")
    admin.create_partitions([NewPartitions("t-grow", 5)])["t-grow"].result(10)
    assert len(admin.list_topics("t-grow", timeout=10).topics["t-grow"].partitions) == 5
    assert error_of(admin.create_partitions([NewPartitions("t-grow", 4)])["t-grow"]) == \
        "INVALID_PARTITIONS"
    # librdkafka's name for UNKNOWN_TOPIC_OR_PARTITION (code 3)
    assert error_of(admin.create_partitions([NewPartitions("nope", 4)])["nope"]) == \
        "UNKNOWN_TOPIC_OR_PART"
    admin.create_partitions([NewPartitions("t-grow", 9)], validate_only=True)["t-grow"].result(10)
    assert len(admin.list_topics("t-grow", timeout=10).topics["t-grow"].partitions) == 5


def topic_config(admin, topic: str) -> dict:
    [f] = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
    return {k: e.value for k, e in f.result(10).items()}


def test_configs_change_incrementally_or_as_a_whole_set(live, admin):
    create(admin, "t-conf", 1)
    res = ConfigResource(ResourceType.TOPIC, "t-conf", incremental_configs=[
        ConfigEntry("retention.ms", "12345", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("min.insync.replicas", "2", incremental_operation=AlterConfigOpType.SET)])
    [f] = admin.incremental_alter_configs([res]).values()
    f.result(10)
    assert topic_config(admin, "t-conf")["retention.ms"] == "12345"
    assert topic_config(admin, "t-conf")["min.insync.replicas"] == "2"
    res = ConfigResource(ResourceType.TOPIC, "t-conf", incremental_configs=[
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE)])
    [f] = admin.incremental_alter_configs([res]).values()
    f.result(10)
    assert topic_config(admin, "t-conf")["retention.ms"] == "604800000"
    bad = ConfigResource(ResourceType.TOPIC, "t-conf", incremental_configs=[
        ConfigEntry("retention.ms", "5", incremental_operation=AlterConfigOpType.APPEND)])
    [f] = admin.incremental_alter_configs([bad]).values()
    assert error_of(f) == "INVALID_CONFIG"
    unknown = ConfigResource(ResourceType.TOPIC, "t-conf", incremental_configs=[
        ConfigEntry("no.such.config", "1", incremental_operation=AlterConfigOpType.SET)])
    [f] = admin.incremental_alter_configs([unknown]).values()
    assert error_of(f) == "INVALID_CONFIG"
    # The legacy AlterConfigs replaces the set: retention.bytes set, the rest back to defaults.
    AlterConfigs = REQUESTS[33]
    raw = Raw(live, 1)
    answer = raw.call(AlterConfigs, 1, validate_only=False, resources=[
        {"resource_type": 2, "resource_name": "t-conf",
         "configs": [{"name": "retention.bytes", "value": "1000000"}]}])
    assert answer.responses[0].error_code == 0
    config = topic_config(admin, "t-conf")
    assert config["retention.bytes"] == "1000000"
    assert config["min.insync.replicas"] == "1"  # back to its default
    assert config["retention.ms"] == "604800000"


def test_delete_records_moves_the_low_watermark(live, admin):
    create(admin, "t-del", 1)
    produce(live, "t-del", 5)
    [f] = admin.delete_records([TopicPartition("t-del", 0, 2)]).values()
    assert f.result(10).low_watermark == 2
    low, high = Consumer({"bootstrap.servers": live.bootstrap, "group.id": "x"}) \
        .get_watermark_offsets(TopicPartition("t-del", 0), timeout=10)
    assert (low, high) == (2, 5)
    [f] = admin.delete_records([TopicPartition("t-del", 0, 99)]).values()
    assert error_of(f) == "OFFSET_OUT_OF_RANGE"
    [f] = admin.delete_records([TopicPartition("t-del", 0, -1)]).values()
    assert f.result(10).low_watermark == 5


def test_describe_cluster_lists_the_brokers_and_the_controller(live, admin):
    described = admin.describe_cluster().result(10)
    assert sorted(n.id for n in described.nodes) == [1, 2, 3]
    assert described.controller.id in (1, 2, 3)
    assert described.cluster_id == "playground-live"


def test_a_config_value_the_model_refuses_is_invalid_config_and_the_connection_stays(live,
                                                                                      admin):
    create(admin, "t-badconf", 1)
    bad = ConfigResource(ResourceType.TOPIC, "t-badconf", incremental_configs=[
        ConfigEntry("retention.ms", "abc", incremental_operation=AlterConfigOpType.SET)])
    [f] = admin.incremental_alter_configs([bad]).values()
    assert error_of(f) == "INVALID_CONFIG"
    assert topic_config(admin, "t-badconf")["retention.ms"] == "604800000"


def test_create_topics_refuses_zero_partitions_or_replicas_and_minus_one_means_default(live):
    CreateTopics = REQUESTS[19]
    raw = Raw(live, 1)
    answer = raw.call(CreateTopics, 5, timeout_ms=10_000, validate_only=False, topics=[
        {"name": "zero-p", "num_partitions": 0, "replication_factor": 1, "assignments": [],
         "configs": []},
        {"name": "zero-r", "num_partitions": 1, "replication_factor": 0, "assignments": [],
         "configs": []},
        {"name": "defaults", "num_partitions": -1, "replication_factor": -1,
         "assignments": [], "configs": []},
        {"name": "bad name!", "num_partitions": 1, "replication_factor": 1,
         "assignments": [], "configs": []}])
    codes = {t.name: (t.error_code, t.error_message) for t in answer.topics}
    assert codes["zero-p"][0] == 37  # INVALID_PARTITIONS
    assert codes["zero-r"][0] == 38  # INVALID_REPLICATION_FACTOR
    assert codes["defaults"] == (0, None)
    assert codes["bad name!"] == (17, "Topic name is invalid: 'bad name!' contains one or "
                                      "more characters other than ASCII alphanumerics, '.', "
                                      "'_' and '-'")


def test_a_negative_committed_offset_is_stored_as_kafka_stores_it(live):
    """kafkajs' resetOffsets commits -2 ("earliest"); Kafka stores it and OffsetFetch gives it
    back. The listener refused it as INVALID_REQUEST and resetOffsets hung."""
    live.apply({"type": "topic.create", "name": "t-neg", "partitions": 1,
                "replication_factor": 1})
    OffsetCommit, OffsetFetch = REQUESTS[8], REQUESTS[9]
    raw = Raw(live, coordinator(live, "g-neg"))
    answer = raw.call(OffsetCommit, 5, group_id="g-neg", generation_id_or_member_epoch=-1,
                      member_id="", topics=[{"name": "t-neg", "partitions": [
                          {"partition_index": 0, "committed_offset": -2,
                           "committed_metadata": ""}]}])
    assert answer.topics[0].partitions[0].error_code == 0
    fetched = raw.call(OffsetFetch, 5, group_id="g-neg",
                       topics=[{"name": "t-neg", "partition_indexes": [0]}])
    assert fetched.topics[0].partitions[0].committed_offset == -2
    lag = live.snapshot()["groups"]["g-neg"]["lag"]
    assert [(r["committed"], r["lag"]) for r in lag] == [(-2, 0)]


def test_describe_topic_partitions_pages_with_a_cursor(live):
    """KIP-966 (kafka-topics --describe in Kafka 4): at most response_partition_limit
    partitions per answer, and the cursor to go on from."""
    live.apply({"type": "topic.create", "name": "paged", "partitions": 5,
                "replication_factor": 1})
    DescribeTopicPartitions = REQUESTS[75]
    raw = Raw(live, 1)
    seen, cursor = [], None
    for _ in range(5):
        answer = raw.call(DescribeTopicPartitions, 0, topics=[{"name": "paged"},
                                                             {"name": "missing"}],
                          response_partition_limit=2, cursor=cursor)
        for t in answer.topics:
            if t.name == "missing":
                assert t.error_code == 3 and not t.partitions
            else:
                seen += [p.partition_index for p in t.partitions]
        if answer.next_cursor is None:
            break
        cursor = {"topic_name": answer.next_cursor.topic_name,
                  "partition_index": answer.next_cursor.partition_index}
    assert seen == [0, 1, 2, 3, 4]
