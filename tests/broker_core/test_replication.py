"""Followers copy from the leader in virtual time; the high watermark follows the ISR."""

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


def test_consumers_read_only_below_the_high_watermark():
    rec = Recorder(cluster_with_topic(name="t", partitions=1, rf=2))
    rec.apply({"type": "consumer.add", "group": "g", "id": "c1", "topics": ["t"]})
    rec.advance(5_000)
    rec.apply({"type": "produce", "topic": "t", "value": "v"})
    rec.advance(100)
    assert rec.of_type("record.delivered") == []
    rec.advance(400)  # 5_500: the follower fetches, the HW moves, the consumer reads
    assert [e["t_ms"] for e in rec.of_type("record.delivered")] == [5_500]


def test_replicas_hold_the_same_records():
    rec = Recorder(cluster_with_topic(name="t", partitions=2, rf=3))
    for i in range(50):
        rec.apply({"type": "produce", "topic": "t", "value": f"v{i}", "key": f"k{i}"})
        rec.advance(37)
    rec.advance(1_000)
    for part in rec.cluster.topics["t"].partitions:
        logs = [part.logs[b] for b in part.replicas]
        assert len({log.end_offset for log in logs}) == 1
        assert len({tuple(log.values) for log in logs}) == 1
        assert part.high_watermark == logs[0].end_offset
