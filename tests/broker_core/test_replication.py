"""Followers copy from the leader in virtual time; the high watermark follows the ISR."""

from broker_core import Cluster

from .helpers import Recorder, cluster_with_topic


def test_followers_fetch_on_their_interval_and_move_the_high_watermark():
    rec = Recorder(cluster_with_topic(name="t", partitions=1, rf=3))
    events = rec.apply({"type": "produce", "topic": "t", "value": "v", "key": "k"})
    produced = events[0]
    assert produced["high_watermark"] == 0
    assert [e["type"] for e in events] == ["record.produced"]  # acks=all waits
    rec.advance(499)
    assert rec.of_type("record.replicated") == []
    rec.advance(1)
    replicated = rec.of_type("record.replicated")
    followers = sorted(e["broker"] for e in replicated)
    assert followers == sorted(b for b in (1, 2, 3) if b != produced["leader"])
    assert all(e["t_ms"] == 500 and e["count"] == 1 for e in replicated)
    hw = rec.of_type("partition.high_watermark")
    assert [(e["t_ms"], e["high_watermark"]) for e in hw] == [(500, 1)]
    acked = rec.of_type("record.acked")
    assert [(e["t_ms"], e["offset"]) for e in acked] == [(500, 0)]
    assert acked[0]["seq"] > hw[0]["seq"]


def test_acks_1_is_acknowledged_at_append_before_replication():
    rec = Recorder(cluster_with_topic(name="t", partitions=1, rf=3))
    events = rec.apply({"type": "produce", "topic": "t", "value": "v", "acks": "1"})
    assert [e["type"] for e in events] == ["record.produced", "record.acked"]


def test_consumers_read_only_below_the_high_watermark_even_when_woken():
    rec = Recorder(Cluster(seed=1, brokers=3))
    rec.apply({"type": "topic.create", "name": "slow", "replication_factor": 3})
    rec.apply({"type": "topic.create", "name": "fast", "replication_factor": 1})
    rec.apply({"type": "consumer.add", "group": "g", "id": "c", "topics": ["slow", "fast"]})
    rec.advance(5_000)
    rec.apply({"type": "produce", "topic": "slow", "value": "a"})
    rec.apply({"type": "produce", "topic": "fast", "value": "b"})  # wakes the consumer
    assert [(e["topic"], e["t_ms"]) for e in rec.of_type("record.delivered")] == [
        ("fast", 5_000)]
    rec.advance(500)  # the followers of `slow` fetch at 5_500: now it is readable
    assert [(e["topic"], e["t_ms"]) for e in rec.of_type("record.delivered")] == [
        ("fast", 5_000), ("slow", 5_500)]


def test_the_high_watermark_is_the_lowest_log_end_across_the_isr():
    cluster = Cluster(seed=1, brokers=3)
    cluster.apply({"type": "topic.create", "name": "t", "replication_factor": 3})
    cluster.apply({"type": "produce", "topic": "t", "value": "v"})
    part = cluster.topics["t"].partitions[0]
    ahead, behind = part.follower_ids()
    part.logs[ahead].copy_from(part.leader_log, 0, 1)  # one follower caught up, one not
    assert part.isr_high_watermark() == 0
    part.logs[behind].copy_from(part.leader_log, 0, 1)
    assert part.isr_high_watermark() == 1


def test_replicas_hold_the_same_records_headers_and_sizes():
    rec = Recorder(cluster_with_topic(name="t", partitions=2, rf=3))
    for i in range(50):
        rec.apply({"type": "produce", "topic": "t", "value": f"v{i}", "key": f"k{i}",
                   "headers": {"trace": str(i)} if i % 3 == 0 else None})
        rec.advance(37)
    rec.advance(1_000)
    for part in rec.cluster.topics["t"].partitions:
        logs = [part.logs[b] for b in part.replicas]
        copies = {(log.end_offset, log.size_bytes, tuple(log.keys), tuple(log.values),
                   repr(sorted(log.headers.items()))) for log in logs}
        assert len(copies) == 1
        assert part.high_watermark == logs[0].end_offset


def test_a_follower_behind_the_leaders_log_start_starts_over_there():
    # Not reachable while every follower stays in the ISR; it is the moment a follower that
    # fell out of sync (part 2) comes back after retention moved the leader's log start.
    cluster = cluster_with_topic(name="t", partitions=1, rf=2)
    for i in range(3):
        cluster.apply({"type": "produce", "topic": "t", "value": f"v{i}"})
    part = cluster.topics["t"].partitions[0]
    follower = part.follower_ids()[0]
    part.leader_log.delete_before(2)  # before the follower's first fetch, due at 500 ms
    events = cluster.advance(500)
    log = part.logs[follower]
    assert (log.start_offset, log.end_offset, log.values) == (2, 3, ["v2"])
    assert [(e["offset"], e["count"]) for e in events if e["type"] == "record.replicated"] == [
        (2, 1)]
