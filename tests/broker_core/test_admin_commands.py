"""records.delete (Kafka's DeleteRecords) and group.delete_offsets (OffsetDelete): what they
change, what they answer, and what they refuse without changing anything."""

import pytest

from broker_core import CommandError

from .helpers import cluster_with_topic, of_type


def produced(cluster, n: int, partition: int = 0) -> None:
    for i in range(n):
        cluster.apply({"type": "produce", "topic": "order-placed", "partition": partition,
                       "key": f"k{i}", "value": "v", "acks": "1"})
    cluster.advance(2_000)  # followers fetch every replica.fetch.interval.ms (500)


def test_delete_records_moves_the_log_start_on_every_replica():
    cluster = cluster_with_topic(partitions=1, rf=3)
    produced(cluster, 5)
    events, answer = cluster.request({"type": "records.delete", "topic": "order-placed",
                                      "partition": 0, "offset": 3})
    assert answer == {"low_watermark": 3}
    [expired] = of_type(events, "record.expired")
    assert (expired["offset"], expired["count"], expired["log_start_offset"]) == (0, 3, 3)
    part = cluster.topics["order-placed"].partitions[0]
    assert {part.logs[b].start_offset for b in part.replicas} == {3}
    # -1 is the high watermark; deleting below the start again changes nothing.
    assert cluster.request({"type": "records.delete", "topic": "order-placed", "partition": 0,
                            "offset": -1})[1] == {"low_watermark": 5}
    events, answer = cluster.request({"type": "records.delete", "topic": "order-placed",
                                      "partition": 0, "offset": 1})
    assert answer == {"low_watermark": 5} and not of_type(events, "record.expired")


def test_delete_records_past_the_high_watermark_is_out_of_range():
    cluster = cluster_with_topic(partitions=1)
    produced(cluster, 2)
    events, answer = cluster.request({"type": "records.delete", "topic": "order-placed",
                                      "partition": 0, "offset": 3})
    assert answer["error"] == "OFFSET_OUT_OF_RANGE" and not of_type(events, "record.expired")
    with pytest.raises(CommandError) as info:
        cluster.apply({"type": "records.delete", "topic": "order-placed", "partition": 1,
                       "offset": 0})
    assert info.value.field == "partition"


def test_delete_offsets_forgets_a_committed_offset_unless_a_member_reads_the_topic():
    cluster = cluster_with_topic(partitions=2)
    cluster.apply({"type": "client.commit_offsets", "group": "g", "member_id": "",
                   "generation": -1, "offsets": [
                       {"topic": "order-placed", "partition": p, "offset": 4} for p in (0, 1)]})
    events, answer = cluster.request({"type": "group.delete_offsets", "group": "g",
                                      "topic": "order-placed", "partitions": [0, 7]})
    assert answer == {"errors": ["NONE", "UNKNOWN_TOPIC_OR_PARTITION"]}
    assert [(e["topic"], e["partition"]) for e in of_type(events, "offset.deleted")] == \
        [("order-placed", 0)]
    parts = cluster.topics["order-placed"].partitions
    assert cluster.groups["g"].committed == {parts[1]: 4}

    cluster.apply({"type": "consumer.add", "group": "m", "id": "c1", "topics": ["order-placed"]})
    cluster.advance(5_000)
    events, answer = cluster.request({"type": "group.delete_offsets", "group": "m",
                                      "topic": "order-placed", "partitions": [0]})
    assert answer == {"errors": ["GROUP_SUBSCRIBED_TO_TOPIC"]}
    assert not of_type(events, "offset.deleted")
