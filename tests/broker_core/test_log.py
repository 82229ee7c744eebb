"""Partition logs: dense offsets, log start, high watermark, retention."""

from broker_core import Cluster
from broker_core.log import Log

from .helpers import Recorder, cluster_with_topic


def test_offsets_are_dense_and_deleting_moves_only_the_start():
    log = Log()
    for i in range(10_000):
        assert log.append(f"k{i}", "v", None, i, 2, 0) == i
    assert log.delete_before(6_000) == 6_000
    assert (log.start_offset, log.end_offset, len(log)) == (6_000, 10_000, 4_000)
    assert log.record(6_000)["key"] == "k6000"
    assert log.append("k", "v", None, 0, 2, 0) == 10_000
    assert log.delete_before(5_000) == 0  # never backwards


def test_retention_ms_expires_old_records_at_the_next_check():
    rec = Recorder(cluster_with_topic(name="t", partitions=1,
                                      config={"retention.ms": 60_000}))
    for i in range(3):
        rec.apply({"type": "produce", "topic": "t", "value": str(i)})
    rec.advance(200_000)
    assert rec.of_type("record.expired") == []
    rec.advance(100_000)  # checks run every log.retention.check.interval.ms (5 min)
    expired = rec.of_type("record.expired")
    assert len(expired) == 1
    e = expired[0]
    assert (e["t_ms"], e["offset"], e["count"], e["log_start_offset"], e["reason"]) == (
        300_000, 0, 3, 3, "retention.ms")
    part = rec.cluster.snapshot()["topics"]["t"]["partitions"][0]
    assert (part["log_start_offset"], part["log_end_offset"]) == (3, 3)
    assert rec.cluster.next_due_ms() is None  # an empty log schedules nothing more


def test_retention_bytes_keeps_the_newest_records_under_the_limit():
    rec = Recorder(cluster_with_topic(name="t", partitions=1,
                                      config={"retention.bytes": 25}))
    for _ in range(10):
        rec.apply({"type": "produce", "topic": "t", "value": "0123456789"})
    rec.advance(300_000)
    # Kafka's deleteRetentionSizeBreachedSegments: drop the oldest while what remains still
    # holds at least retention.bytes (a record plays the segment), so 30 bytes stay, not 20.
    e = rec.of_type("record.expired")[0]
    assert (e["offset"], e["count"], e["reason"]) == (0, 7, "retention.bytes")
    part = rec.cluster.snapshot()["topics"]["t"]["partitions"][0]
    assert part["size_bytes"] == 30 and part["log_start_offset"] == 7
    rec.advance(3_000_000)
    assert len(rec.of_type("record.expired")) == 1  # nothing more is deletable: no more passes


def test_a_consumer_behind_the_log_start_resets_and_says_so():
    rec = Recorder(cluster_with_topic(name="t", partitions=1,
                                      config={"retention.ms": 1_000}))
    for i in range(5):
        rec.apply({"type": "produce", "topic": "t", "value": str(i)})
    rec.advance(300_000)  # all five expire before anyone reads them
    rec.apply({"type": "group.configure", "group": "g"})
    rec.apply({"type": "group.reset_offsets", "group": "g", "topic": "t", "to": "earliest"})
    rec.apply({"type": "produce", "topic": "t", "value": "fresh"})
    rec.apply({"type": "consumer.add", "group": "g", "id": "c1", "topics": ["t"]})
    rec.advance(5_000)
    assert [e["offset"] for e in rec.of_type("record.processed")] == [5]


def test_records_expire_only_below_the_high_watermark():
    # Followers that never fetch hold the HW at 0; retention passes run every second.
    cluster = Cluster(seed=1, brokers=3, config={"replica.fetch.interval.ms": 1_000_000,
                                                  "log.retention.check.interval.ms": 1_000})
    cluster.apply({"type": "topic.create", "name": "t", "replication_factor": 3,
                   "config": {"retention.bytes": 0}})
    cluster.apply({"type": "produce", "topic": "t", "value": "v"})
    cluster.apply({"type": "produce", "topic": "t", "value": "w"})
    events = cluster.advance(5_000)
    assert [e for e in events if e["type"] == "record.expired"] == []
    assert cluster.snapshot()["topics"]["t"]["partitions"][0]["log_start_offset"] == 0


def test_retention_ms_boundary_is_strict_as_in_kafka():
    # A record expires when now - timestamp > retention.ms, so exactly retention.ms old stays.
    cluster = Cluster(seed=1, brokers=1, config={"log.retention.check.interval.ms": 1_000})
    cluster.apply({"type": "topic.create", "name": "t", "config": {"retention.ms": 2_000}})
    cluster.advance(1_000)
    cluster.apply({"type": "produce", "topic": "t", "value": "v"})
    events = cluster.advance(2_000)  # now 3_000: exactly 2_000 ms old
    assert [e for e in events if e["type"] == "record.expired"] == []
    events = cluster.advance(1_000)
    assert [e["t_ms"] for e in events if e["type"] == "record.expired"] == [4_000]


def test_retention_bytes_boundary_keeps_exactly_the_limit():
    cluster = Cluster(seed=1, brokers=1, config={"log.retention.check.interval.ms": 1_000})
    cluster.apply({"type": "topic.create", "name": "t", "config": {"retention.bytes": 30}})
    for _ in range(5):
        cluster.apply({"type": "produce", "topic": "t", "value": "0123456789"})
    events = cluster.advance(1_000)
    expired = [e for e in events if e["type"] == "record.expired"]
    assert [(e["offset"], e["count"]) for e in expired] == [(0, 2)]
    assert cluster.snapshot()["topics"]["t"]["partitions"][0]["size_bytes"] == 30


def _log_with(epochs_and_values):
    log = Log()
    for epoch, value in epochs_and_values:
        log.append(None, value, None, 0, len(value), epoch)
    return log


def test_divergence_follows_leader_epochs_like_offsets_for_leader_epoch():
    leader = _log_with([(0, "a"), (0, "b"), (2, "x")])   # epoch 2 began at offset 2
    follower = _log_with([(0, "a"), (0, "b"), (0, "c"), (1, "d")])  # wrote c, d the leader lacks
    assert leader.end_offset_for_epoch(1) == (0, 2)  # epoch 1 is unknown: epoch 0 ended at 2
    assert follower.divergence(leader) == 2
    assert follower.truncate_to(2) == 2
    assert (follower.values, follower.epochs, follower.epoch) == (["a", "b"], [(0, 0)], 0)
    assert follower.size_bytes == 2
    # Same epoch, shorter follower: nothing to cut.
    assert _log_with([(0, "a")]).divergence(leader) == 1
    assert leader.epoch_at(1) == 0 and leader.epoch_at(2) == 2


def test_a_new_epoch_that_wrote_nothing_is_replaced_not_kept():
    log = _log_with([(0, "a")])
    log.start_epoch(1)
    log.start_epoch(2)
    assert log.epochs == [(0, 0), (2, 1)]


def test_followers_keep_one_epoch_entry_per_leader_epoch_however_often_they_fetch():
    leader = _log_with([(0, "a"), (1, "b"), (2, "c")])
    follower = Log()
    for end in (1, 2, 2, 3):
        follower.copy_from(leader, follower.end_offset, end)
    leader.append(None, "d", None, 0, 1, 2)
    for _ in range(5):
        follower.copy_from(leader, follower.end_offset, leader.end_offset)
    assert follower.epochs == leader.epochs == [(0, 0), (1, 1), (2, 2)]


def test_bytes_kept_as_base64_weigh_what_the_bytes_weigh():
    import base64

    from broker_core.log import BYTES_MARK, record_size

    for data in (b"", b"\xff", b"\xff\xfe", b"\xff\xfe\xfd", b"\x80" * 1000):
        text = BYTES_MARK + base64.b64encode(data).decode()
        assert record_size(None, text, {"h": text}) == len(data) * 2 + 1
    assert record_size("ключ", "é", None) == len("ключ".encode()) + 2
