"""When the model looks again at a partition's retention pass after appends.

An append never makes the oldest record of the leader's log older, so once a pass is due where
that record asks, later appends in the same leadership skip the look (it cost about 8 % of a
one-record produce command). These tests pin that the skip happens, and that it changes no
event: not where a pass held back by the high watermark comes again at the same instant, and
not across leader changes, config changes and deletes.
"""

import random

from broker_core import Cluster, CommandError, topics

from .helpers import cluster_with_topic


def _count_looks(monkeypatch) -> list:
    looks = []
    original = topics.schedule_retention

    def counted(cluster, part, not_before_ms=None):
        looks.append(part.index)
        original(cluster, part, not_before_ms)

    monkeypatch.setattr(topics, "schedule_retention", counted)
    return looks


def test_appends_look_at_retention_once_per_leadership(monkeypatch):
    looks = _count_looks(monkeypatch)
    cluster = cluster_with_topic(name="t", partitions=1, rf=2, brokers=2)
    for i in range(50):
        cluster.apply({"type": "produce", "topic": "t", "value": str(i), "acks": "1"})
    assert looks == [0]  # the first append schedules the pass; the others need no look
    leader = cluster.topics["t"].partitions[0].leader
    cluster.apply({"type": "broker.stop", "broker": leader, "mode": "clean"})
    del looks[:]
    for i in range(5):
        cluster.apply({"type": "produce", "topic": "t", "value": str(i), "acks": "1"})
    assert looks == [0]  # a new leader's log: one look, then none


def test_appends_look_every_time_under_retention_bytes(monkeypatch):
    looks = _count_looks(monkeypatch)
    cluster = cluster_with_topic(name="t", partitions=1, config={"retention.bytes": 1_000})
    for i in range(5):
        cluster.apply({"type": "produce", "topic": "t", "value": str(i)})
    assert looks == [0] * 5  # the log grew: the bytes may be over now


def test_a_pass_held_back_by_the_high_watermark_comes_again_at_an_append_in_its_instant():
    """The pass at 1,000 ms finds the expired record above the high watermark and waits for the
    next check (not_before); the follower's answer moves the high watermark at the same
    instant, and a record appended then brings the pass back to that instant."""
    cluster = Cluster(seed=1, brokers=2, config={"log.retention.check.interval.ms": 1_000,
                                                 "replica.fetch.delay.ms": 500})
    cluster.apply({"type": "topic.create", "name": "t", "partitions": 1,
                   "replication_factor": 2, "config": {"retention.ms": 100}})
    cluster.advance(100)
    cluster.apply({"type": "produce", "topic": "t", "key": "a", "value": "v", "acks": "1"})
    events = cluster.advance(900)
    assert [e["type"] for e in events if e["type"] == "record.expired"] == []
    assert [e["high_watermark"] for e in events
            if e["type"] == "partition.high_watermark"] == [1]
    events = cluster.apply({"type": "produce", "topic": "t", "key": "b", "value": "v",
                            "acks": "1"})
    expired = [e for e in events if e["type"] == "record.expired"]
    assert [(e["t_ms"], e["offset"], e["count"]) for e in expired] == [(1_000, 0, 1)]


def _busy_run(seed: int) -> list:
    """Leader changes, slow followers, retention changes and deletes around a steady producer,
    with retention short enough that passes often find records above the high watermark."""
    cluster = Cluster(seed=seed, brokers=3, config={"log.retention.check.interval.ms": 1_000,
                                                    "replica.lag.time.max.ms": 4_000,
                                                    "replica.fetch.delay.ms": 500})
    events = cluster.apply({"type": "topic.create", "name": "t", "partitions": 2,
                            "replication_factor": 3, "config": {"retention.ms": 100}})
    events += cluster.apply({"type": "consumer.add", "group": "g", "topics": ["t"]})
    events += cluster.apply({"type": "producer.add", "id": "p", "topic": "t", "rate_per_s": 10,
                             "keys": {"kind": "sequence", "prefix": "k"}})
    rng = random.Random(seed)
    commands = [
        lambda: {"type": "produce", "topic": "t", "key": "x", "value": "v",
                 "acks": rng.choice(["0", "1", "all"])},
        lambda: {"type": "broker.configure", "broker": rng.randint(1, 3),
                 "replica_fetch_delay_ms": rng.choice([0, 3_000])},
        lambda: {"type": "broker.stop", "broker": rng.randint(1, 3),
                 "mode": rng.choice(["clean", "crash"])},
        lambda: {"type": "broker.start", "broker": rng.randint(1, 3)},
        lambda: {"type": "topic.alter_config", "name": "t",
                 "config": {"retention.ms": rng.choice([100, 700, 1_500])}},
        lambda: {"type": "records.delete", "topic": "t", "partition": rng.randint(0, 1),
                 "offset": -1},
        lambda: {"type": "leader.elect_preferred"},
    ]
    for _ in range(60):
        events += cluster.advance(rng.choice([100, 250, 500, 1_000]))
        try:
            events += cluster.apply(rng.choice(commands)())
        except CommandError:
            pass  # refused: nothing changed
    return events + cluster.advance(20_000)


def test_skipping_the_look_changes_no_event(monkeypatch):
    runs = {seed: _busy_run(seed) for seed in range(8)}
    original = topics.schedule_retention

    def forget(cluster, part, not_before_ms=None):
        original(cluster, part, not_before_ms)
        part.retention_epoch = None  # so every append looks again, as before the skip

    monkeypatch.setattr(topics, "schedule_retention", forget)
    for seed, events in runs.items():
        assert _busy_run(seed) == events, f"seed {seed}"
