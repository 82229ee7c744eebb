"""The delivery policy (broker_core/delivery.py): attempts, timeouts, back-off, retry topics,
dead letters and their replay, and the consumers that exercise them.

Each test states the teaching point it proves; times are exact virtual milliseconds.
"""

import json

import pytest

from broker_core import Cluster, CommandError
from broker_core.checkers import DeliveryChecker, InvariantViolation, replay
from broker_core.partitioner import partition_for_key

from .helpers import Recorder, cluster_with_topic, of_type

DAY_MS = 86_400_000


class DeliveryRecorder(Recorder):
    """A Recorder whose checker allows blocking retries and can check invariant 4."""

    def __init__(self, cluster: Cluster):
        super().__init__(cluster)
        last = self.checker.last_seq
        self.checker = DeliveryChecker()
        self.checker.last_seq = last

    def unresolved(self):
        return self.checker.unresolved(self.cluster.snapshot())


def started(partitions=1, rf=1, brokers=3, group_config=None, seed=7, **consumer):
    """A topic `t`, group `g` (configured first) with one consumer `c1`, already Stable."""
    rec = DeliveryRecorder(cluster_with_topic(name="t", partitions=partitions, rf=rf,
                                              brokers=brokers, seed=seed))
    if group_config:
        rec.apply({"type": "group.configure", "group": "g", **group_config})
    rec.apply({"type": "consumer.add", "group": "g", "id": "c1", "topics": ["t"], **consumer})
    rec.advance(3_000)  # the initial rebalance delay
    assert rec.cluster.snapshot()["groups"]["g"]["state"] == "Stable"
    return rec


def produce(rec, key, value="v", partition=None):
    command = {"type": "produce", "topic": "t", "key": key, "value": value}
    if partition is not None:
        command["partition"] = partition
    return rec.apply(command)


def since(rec, mark, kind):
    return [e for e in rec.events[mark:] if e["type"] == kind]


# -- the processing timeout: the lecture's 24 hours ----------------------------------------------

def test_a_hanging_consumer_times_out_exactly_24_hours_after_delivery_and_keeps_its_membership():
    rec = started(hangs=True)
    produce(rec, "video-1")
    delivered = rec.of_type("record.delivered")[0]
    rec.advance(DAY_MS - 1)
    assert rec.of_type("record.timed_out") == []
    rec.advance(1)
    timed_out = rec.of_type("record.timed_out")[0]
    assert timed_out["t_ms"] - delivered["t_ms"] == 86_400_000
    assert (timed_out["kind"], timed_out["attempt"], timed_out["offset"]) == ("processing", 1, 0)
    failed = rec.of_type("record.failed")[0]
    assert (failed["t_ms"], failed["attempt"]) == (timed_out["t_ms"], 1)
    assert "timed out" in failed["error"]
    # It hangs on every attempt: 3 attempts of 24 h with back-offs of 1 s and 2 s between.
    rec.advance(3 * DAY_MS)
    deliveries = [(e["t_ms"] - delivered["t_ms"], e["attempt"])
                  for e in rec.of_type("record.delivered")]
    assert deliveries == [(0, 1), (DAY_MS + 1_000, 2), (2 * DAY_MS + 3_000, 3)]
    dead = rec.of_type("record.dead_lettered")
    assert [(e["t_ms"] - delivered["t_ms"], e["attempts"], e["reason"]) for e in dead] == [
        (3 * DAY_MS + 3_000, 3, "max_attempts")]
    # The hanging consumer was never thrown out of its group: processing runs beside polling.
    assert rec.of_type("group.member_expired") == [] and rec.of_type("group.member_left") == []
    assert rec.cluster.snapshot()["groups"]["g"]["state"] == "Stable"
    assert rec.unresolved() == []


def test_a_24_hour_idle_run_with_a_hanging_consumer_is_a_handful_of_clock_actions():
    # The timeout-24h scenario: one hanging consumer, one record, 24 virtual hours.
    rec = started(hangs=True)
    produce(rec, "video-1")
    before = rec.cluster.clock.actions_run
    rec.advance(DAY_MS)
    # The timeout is one clock action, never a tick per second or per heartbeat.
    assert rec.cluster.clock.actions_run - before == 1
    assert [e["kind"] for e in rec.of_type("record.timed_out")] == ["processing"]


def test_consumer_hang_stops_a_record_in_hand_and_its_timeout_counts_from_delivery():
    rec = started(processing_ms=5_000, group_config={"processing_timeout_ms": 60_000})
    produce(rec, "k")
    delivered = rec.of_type("record.delivered")[0]["t_ms"]
    rec.advance(1_000)
    events = rec.apply({"type": "consumer.hang", "group": "g", "id": "c1"})
    assert of_type(events, "consumer.hung")[0]["in_flight"]["offset"] == 0
    rec.advance(10_000)
    assert rec.of_type("record.processed") == []  # it would have finished at +5 s
    rec.advance(49_000)
    assert rec.of_type("record.timed_out")[0]["t_ms"] == delivered + 60_000
    rec.apply({"type": "consumer.hang", "group": "g", "id": "c1", "hangs": False})
    rec.advance(60_000)
    # Attempt 2 (delivered 1 s after the timeout) runs normally: 5 s.
    processed = rec.of_type("record.processed")
    assert [(e["attempt"], e["t_ms"]) for e in processed] == [(2, delivered + 66_000)]


# -- back-off and blocking retries ---------------------------------------------------------------

def test_back_off_is_exponential_and_capped_at_exact_times():
    rec = started(failure_rate=1, group_config={"max_attempts": 6, "retry_backoff_ms": 1_000,
                                                "retry_backoff_max_ms": 5_000})
    produce(rec, "k")
    t0 = rec.of_type("record.delivered")[0]["t_ms"]
    rec.advance(60_000)
    scheduled = rec.of_type("record.retry_scheduled")
    assert [e["delay_ms"] for e in scheduled] == [1_000, 2_000, 4_000, 5_000, 5_000]
    assert [e["attempt"] for e in scheduled] == [2, 3, 4, 5, 6]
    assert all(e["retry_topic"] is None for e in scheduled)
    times = [e["t_ms"] - t0 for e in rec.of_type("record.delivered")]
    assert times == [0, 1_000, 3_000, 7_000, 12_000, 17_000]
    assert [e["attempt"] for e in rec.of_type("record.failed")] == [1, 2, 3, 4, 5, 6]
    assert rec.of_type("record.dead_lettered")[0]["t_ms"] - t0 == 17_000


def test_a_poison_key_ends_in_the_dlt_same_partition_with_headers_after_max_attempts():
    rec = started(partitions=3, rf=2, brokers=3, processing_ms=10, fail_keys=["order-13"])
    p = partition_for_key("order-13", 3)
    produce(rec, "order-13", "broken order")
    rec.advance(20_000)
    failed = rec.of_type("record.failed")
    assert [e["attempt"] for e in failed] == [1, 2, 3]
    assert all(e["error"] == "poison record: key 'order-13' always fails" for e in failed)
    created = [e for e in rec.of_type("topic.created") if e["topic"] == "t-dlt"][0]
    # Same partition count as the source; replication factor min(source's, live brokers).
    assert (created["partitions"], created["replication_factor"]) == (3, 2)
    dead = rec.of_type("record.dead_lettered")[0]
    assert {k: dead[k] for k in ("topic", "partition", "offset", "group", "consumer",
                                 "attempts", "reason", "dead_letter_topic",
                                 "dead_letter_partition", "dead_letter_offset")} == {
        "topic": "t", "partition": p, "offset": 0, "group": "g", "consumer": "c1",
        "attempts": 3, "reason": "max_attempts", "dead_letter_topic": "t-dlt",
        "dead_letter_partition": p, "dead_letter_offset": 0}
    sent = [e for e in rec.of_type("record.produced") if e["topic"] == "t-dlt"][0]
    assert (sent["partition"], sent["key"], sent["value"]) == (p, "order-13", "broken order")
    produced_at = rec.of_type("record.produced")[0]["t_ms"]
    assert sent["headers"] == {
        "kafka_dlt-original-topic": "t", "kafka_dlt-original-partition": str(p),
        "kafka_dlt-original-offset": "0", "kafka_dlt-original-timestamp": str(produced_at),
        "kafka_dlt-original-consumer-group": "g",
        "kafka_dlt-exception-message": "poison record: key 'order-13' always fails",
        "retry_topic-attempts": "3"}
    assert sent["cause"] == {"topic": "t", "partition": p, "offset": 0, "group": "g"}
    # The group commits past the dead letter and moves on.
    commits = [e for e in rec.of_type("offset.committed") if e["partition"] == p]
    assert commits[-1]["offset"] == 1 and commits[-1]["t_ms"] == dead["t_ms"]
    assert rec.unresolved() == []


def test_blocking_retries_hold_up_the_partition_and_the_consumers_other_partitions():
    # Spring's DefaultErrorHandler: the consumer's thread waits out the back-off, so every
    # partition it owns waits behind the poison record (head-of-line blocking).
    rec = started(partitions=2, fail_keys=["poison"])
    produce(rec, "poison", partition=0)
    produce(rec, "fine", partition=0)
    produce(rec, "other", partition=1)
    rec.advance(30_000)
    dead_at = rec.of_type("record.dead_lettered")[0]["t_ms"]
    processed = [(e["partition"], e["offset"], e["t_ms"]) for e in rec.of_type("record.processed")]
    assert processed == [(0, 1, dead_at), (1, 0, dead_at)]
    assert dead_at - rec.of_type("record.produced")[0]["t_ms"] == 3_000  # back-offs 1 s + 2 s


def test_a_record_waiting_for_its_back_off_is_abandoned_when_its_partition_moves():
    rec = started(partitions=2, fail_keys=["poison"], group_config={"retry_backoff_ms": 10_000})
    produce(rec, "poison", partition=1)
    rec.advance(100)  # attempt 1 failed; attempt 2 is due in 10 s
    rec.apply({"type": "consumer.add", "group": "g", "id": "c2", "topics": ["t"]})
    rec.advance(10_000)
    abandoned = rec.of_type("record.abandoned")
    assert [(e["consumer"], e["partition"], e["offset"], e["phase"]) for e in abandoned] == [
        ("c1", 1, 0, "backoff")]
    # The next owner (healthy) starts from the committed offset, counting attempts from 1.
    redelivered = [e for e in rec.of_type("record.delivered") if e["consumer"] == "c2"]
    assert [(e["partition"], e["offset"], e["attempt"]) for e in redelivered] == [(1, 0, 1)]
    assert [e["consumer"] for e in rec.of_type("record.processed")] == ["c2"]
    assert rec.unresolved() == []


def test_a_crash_during_retries_restarts_the_attempts_at_the_next_owner():
    rec = started(partitions=1, failure_rate=1, group_config={"session_timeout_ms": 6_000})
    rec.apply({"type": "consumer.add", "group": "g", "id": "c2", "topics": ["t"],
               "failure_rate": 1})
    rec.advance(10_000)
    owner = rec.cluster.snapshot()["groups"]["g"]["members"]
    holder = [m for m, parts in owner.items() if parts][0]
    produce(rec, "k")
    rec.advance(1_500)  # attempt 2 delivered at +1 s, failed; attempt 3 due at +3 s
    rec.apply({"type": "consumer.crash", "group": "g", "id": holder})
    rec.advance(60_000)
    attempts = [(e["consumer"], e["attempt"]) for e in rec.of_type("record.delivered")]
    other = "c2" if holder == "c1" else "c1"
    assert attempts == [(holder, 1), (holder, 2), (other, 1), (other, 2), (other, 3)]
    assert rec.of_type("record.dead_lettered")[0]["consumer"] == other
    assert rec.unresolved() == []


@pytest.mark.parametrize("commit", ["after", "before", "auto"])
def test_commit_modes_with_a_dead_letter(commit):
    rec = started(fail_keys=["bad"], commit=commit, processing_ms=10)
    produce(rec, "bad")
    produce(rec, "good")
    rec.advance(20_000)
    commits = [(e["offset"], e["t_ms"]) for e in rec.of_type("offset.committed")]
    dead_at = rec.of_type("record.dead_lettered")[0]["t_ms"]
    first = rec.of_type("record.delivered")[0]["t_ms"]
    if commit == "after":
        assert commits == [(1, dead_at), (2, dead_at + 10)]
    elif commit == "before":  # at-most-once: committed before the first attempt only
        assert commits == [(1, first), (2, dead_at)]
    else:
        assert [o for o, _ in commits] == [2] and commits[0][1] % 5_000 == 0
    assert len(rec.of_type("record.failed")) == 3


# -- retry topics ---------------------------------------------------------------------------------

def test_retry_topics_are_named_like_springs_and_each_waits_its_delay():
    rec = started(partitions=2, fail_keys=["poison"],
                  group_config={"retry_mode": "topics", "retry_backoff_ms": 1_000})
    created = [e["topic"] for e in rec.of_type("topic.created")]
    assert created == ["t-retry-1", "t-retry-2"]  # max_attempts - 1, when the consumer joins
    consumers = rec.cluster.snapshot()["groups"]["g"]["consumers"]["c1"]
    assert consumers["topics"] == ["t", "t-retry-1", "t-retry-2"]
    assert consumers["declared_topics"] == ["t"]
    produce(rec, "poison", partition=1)
    produce(rec, "fine", partition=1)
    t0 = rec.of_type("record.produced")[0]["t_ms"]
    rec.advance(30_000)
    # Non-blocking: the record behind the poison is processed at once.
    assert [(e["offset"], e["t_ms"]) for e in rec.of_type("record.processed")] == [(1, t0)]
    scheduled = rec.of_type("record.retry_scheduled")
    assert [(e["topic"], e["retry_topic"], e["retry_partition"], e["attempt"], e["delay_ms"])
            for e in scheduled] == [("t", "t-retry-1", 1, 2, 1_000),
                                    ("t-retry-1", "t-retry-2", 1, 3, 2_000)]
    deliveries = [(e["topic"], e["attempt"], e["t_ms"] - t0)
                  for e in rec.of_type("record.delivered")]
    assert deliveries == [("t", 1, 0), ("t", 1, 0), ("t-retry-1", 2, 1_000),
                          ("t-retry-2", 3, 3_000)]
    dead = rec.of_type("record.dead_lettered")[0]
    assert (dead["topic"], dead["dead_letter_topic"], dead["dead_letter_partition"]) == (
        "t-retry-2", "t-dlt", 1)
    assert dead["original"] == {"topic": "t", "partition": 1, "offset": 0}
    sent = [e for e in rec.of_type("record.produced") if e["topic"] == "t-dlt"][0]
    assert sent["headers"]["kafka_dlt-original-topic"] == "t"
    assert sent["headers"]["kafka_dlt-original-offset"] == "0"
    assert rec.unresolved() == []


def test_switching_to_retry_topics_changes_the_subscription_and_rebalances():
    rec = started(partitions=1)
    mark = len(rec.events)
    rec.apply({"type": "group.configure", "group": "g", "retry_mode": "topics",
               "max_attempts": 2})
    rec.advance(10_000)
    assert [e["topic"] for e in since(rec, mark, "topic.created")] == ["t-retry-1"]
    assert since(rec, mark, "group.subscription_changed")[0]["subscriptions"] == {
        "c1": ["t", "t-retry-1"]}
    assert rec.cluster.snapshot()["groups"]["g"]["members"]["c1"] == [["t", 0],
                                                                      ["t-retry-1", 0]]


# -- the message timeout --------------------------------------------------------------------------

def test_message_timeout_gives_up_a_record_too_old_when_it_is_delivered():
    rec = started(processing_ms=4_000, group_config={"message_timeout_ms": 5_000})
    for i in range(3):
        produce(rec, f"k{i}")
    t0 = rec.of_type("record.produced")[0]["t_ms"]
    rec.advance(30_000)
    # Offsets 0 and 1 start at +0 s and +4 s; offset 2 would start at +8 s, 8 s old.
    assert [e["offset"] for e in rec.of_type("record.processed")] == [0, 1]
    timed_out = rec.of_type("record.timed_out")
    assert [(e["offset"], e["kind"], e["age_ms"], e["t_ms"] - t0) for e in timed_out] == [
        (2, "message", 8_000, 8_000)]
    dead = rec.of_type("record.dead_lettered")[0]
    assert (dead["offset"], dead["reason"], dead["attempts"]) == (2, "message_timeout", 0)
    assert rec.of_type("record.failed") == []  # it was never attempted
    assert rec.unresolved() == []


# -- replay ---------------------------------------------------------------------------------------

def test_dead_letter_replay_republishes_to_the_original_topic_and_partition():
    rec = started(partitions=3, fail_keys=["order-13"])
    produce(rec, "order-13", "broken order", partition=2)
    rec.advance(10_000)
    # The bug is fixed: a healthy consumer replaces the failing one.
    rec.apply({"type": "consumer.remove", "group": "g", "id": "c1"})
    rec.apply({"type": "consumer.add", "group": "g", "id": "fixed", "topics": ["t"]})
    rec.advance(5_000)
    mark = len(rec.events)
    events = rec.apply({"type": "dead_letter.replay", "topic": "t-dlt"})
    assert of_type(events, "dead_letter.replay_started")[0]["records"] == 1
    again = of_type(events, "record.produced")[0]
    assert (again["topic"], again["partition"], again["offset"], again["key"], again["value"]) \
        == ("t", 2, 1, "order-13", "broken order")
    assert again["cause"] == {"topic": "t-dlt", "partition": 2, "offset": 0, "group": None}
    assert "headers" not in again  # the dead-letter headers are not sent back
    assert of_type(events, "dead_letter.replayed")[0]["replayed"] == 1
    rec.advance(1_000)
    processed = since(rec, mark, "record.processed")
    assert [(e["consumer"], e["partition"], e["offset"]) for e in processed] == [("fixed", 2, 1)]
    assert rec.unresolved() == []


def test_dead_letter_replay_is_validated():
    rec = started(fail_keys=["bad"])
    produce(rec, "bad")
    rec.advance(10_000)
    for command, field in (
        ({"topic": "nope"}, "topic"),
        ({"topic": "t"}, "topic"),  # holds no dead letters
        ({"topic": "t-dlt", "partition": 5}, "partition"),
        ({"topic": "t-dlt", "from_offset": 3, "to_offset": 1}, "to_offset"),
        ({"topic": "t-dlt", "from_offset": -1}, "from_offset"),
        ({"topic": "t-dlt", "colour": "red"}, "colour"),
    ):
        seq = rec.cluster.seq
        with pytest.raises(CommandError) as info:
            rec.cluster.apply({"type": "dead_letter.replay", **command})
        assert info.value.field == field, command
        assert rec.cluster.seq == seq


# -- consumers: spreads, failure rates, validation ------------------------------------------------

def test_processing_spread_and_failure_rate_are_drawn_from_the_seed():
    def run(seed):
        rec = started(seed=seed, processing_ms={"min": 10, "max": 50}, failure_rate=0.3,
                      group_config={"max_attempts": 5, "retry_backoff_ms": 0})
        for i in range(40):
            produce(rec, f"k{i}")
        rec.advance(60_000)
        assert rec.unresolved() == []
        return rec.events

    first = run(3)
    durations = []
    for e in first:
        if e["type"] == "record.delivered":
            start = e["t_ms"]
        elif e["type"] in ("record.processed", "record.failed"):
            durations.append(e["t_ms"] - start)
    assert min(durations) >= 10 and max(durations) <= 50 and len(set(durations)) > 10
    failures = len(of_type(first, "record.failed"))
    assert 10 <= failures <= 30  # 0.3 of ~55 attempts
    assert json.dumps(run(3)) == json.dumps(first)
    assert json.dumps(run(4)) != json.dumps(first)


def test_the_zero_time_fast_path_matches_the_record_by_record_path():
    def run(processing_ms):
        rec = started(partitions=2, processing_ms=processing_ms, commit="after")
        for i in range(30):
            produce(rec, f"k{i}")
        rec.advance(1_000)
        return [{k: val for k, val in e.items() if k != "seq"} for e in rec.events]

    # {"min": 0, "max": 0} always takes 0 ms but goes one record at a time.
    assert run(0) == run({"min": 0, "max": 0})


@pytest.mark.parametrize("command,field", [
    ({"processing_ms": {"min": 5}}, "processing_ms.max"),
    ({"processing_ms": {"min": 9, "max": 5}}, "processing_ms.max"),
    ({"processing_ms": {"min": 1, "max": 5, "mode": "x"}}, "processing_ms.mode"),
    ({"processing_ms": -1}, "processing_ms"),
    ({"failure_rate": 1.5}, "failure_rate"),
    ({"failure_rate": "often"}, "failure_rate"),
    ({"fail_keys": "bad"}, "fail_keys"),
    ({"fail_keys": ["ok", 3]}, "fail_keys[1]"),
    ({"hangs": "yes"}, "hangs"),
    ({"emits": {"topic": "x"}}, "emits"),
    ({"emits": [{"fanout": 2}]}, "emits[0].topic"),
    ({"emits": [{"topic": "bad name"}]}, "emits[0].topic"),
    ({"emits": [{"topic": "x", "fanout": 0}]}, "emits[0].fanout"),
    ({"emits": [{"topic": "x", "fanout": 101}]}, "emits[0].fanout"),
    ({"emits": [{"topic": "x", "key": 5}]}, "emits[0].key"),
    ({"emits": [{"topic": "x", "value": None}]}, "emits[0].value"),
    ({"emits": [{"topic": "x", "colour": "red"}]}, "emits[0].colour"),
    ({"topics": ["x" * 245]}, "topics[0]"),
    ({"emits": [{"topic": "t"}], "processing_ms": 5}, "emits[0].topic"),
    ({"emits": [{"topic": "x"}]}, "processing_ms"),
    ({"emits": [{"topic": "x"}], "processing_ms": {"min": 0, "max": 9}}, "processing_ms"),
])
def test_consumer_behaviour_is_validated(command, field):
    cluster = cluster_with_topic(name="t")
    before = json.dumps(cluster.snapshot(), sort_keys=True)
    with pytest.raises(CommandError) as info:
        cluster.apply({"type": "consumer.add", "group": "g", "topics": ["t"], **command})
    assert info.value.field == field
    assert json.dumps(cluster.snapshot(), sort_keys=True) == before


@pytest.mark.parametrize("command,field", [
    ({"type": "group.configure", "group": "g", "retry_mode": "sometimes"}, "retry_mode"),
    ({"type": "group.configure", "group": "g", "retry_backoff_max_ms": -1},
     "retry_backoff_max_ms"),
    ({"type": "group.configure", "group": "g", "max_attempts": 21}, "max_attempts"),
    ({"type": "group.configure", "group": "g", "message_timeout_ms": 0}, "message_timeout_ms"),
    ({"type": "group.configure", "group": "g", "processing_timeout_ms": 0},
     "processing_timeout_ms"),
    ({"type": "group.configure", "group": "g", "dead_letter_topic": "t"}, "dead_letter_topic"),
    ({"type": "consumer.add", "group": "g", "topics": ["t", "t-dlt"]}, None),
    ({"type": "consumer.hang", "group": "g", "id": "c1", "hangs": "no"}, "hangs"),
    ({"type": "consumer.hang", "group": "g", "id": "nobody"}, "id"),
    ({"type": "consumer.hang", "group": "g", "id": "c1", "extra": 1}, "extra"),
])
def test_delivery_commands_are_validated(command, field):
    rec = started()
    if field is None:  # refused only once the group sends its dead letters to a topic it reads
        rec.apply({"type": "group.configure", "group": "g", "dead_letter_topic": "t-dlt"})
        field = "topics[1]"
    before = json.dumps(rec.cluster.snapshot(), sort_keys=True)
    with pytest.raises(CommandError) as info:
        rec.cluster.apply(command)
    assert info.value.field == field
    assert json.dumps(rec.cluster.snapshot(), sort_keys=True) == before


def test_group_config_shows_the_delivery_defaults():
    cluster = cluster_with_topic(name="t")
    cluster.apply({"type": "consumer.add", "group": "g", "topics": ["t"]})
    config = cluster.snapshot()["groups"]["g"]["config"]
    assert {k: config[k] for k in ("max_attempts", "retry_backoff_ms", "retry_backoff_max_ms",
                                   "retry_mode", "processing_timeout_ms", "message_timeout_ms",
                                   "dead_letter_topic")} == {
        "max_attempts": 3, "retry_backoff_ms": 1_000, "retry_backoff_max_ms": 30_000,
        "retry_mode": "blocking", "processing_timeout_ms": 86_400_000,
        "message_timeout_ms": None, "dead_letter_topic": None}


def test_a_named_dead_letter_topic_takes_every_topics_dead_letters():
    rec = started(partitions=2, fail_keys=["bad"],
                  group_config={"dead_letter_topic": "all-failures", "max_attempts": 1})
    produce(rec, "bad", partition=1)
    rec.advance(1_000)
    dead = rec.of_type("record.dead_lettered")[0]
    assert (dead["dead_letter_topic"], dead["dead_letter_partition"], dead["attempts"]) == (
        "all-failures", 1, 1)
    assert rec.of_type("record.retry_scheduled") == []


# -- the invariant-4 checker fires ----------------------------------------------------------------

def test_the_checker_reports_a_record_nobody_finished():
    rec = started(hangs=True)
    produce(rec, "k")
    rec.advance(1_000)
    assert rec.unresolved() == ["g: t/0 offset 0 was never processed, dead-lettered or "
                                "announced expired"]


def test_the_checker_refuses_a_retry_of_a_record_not_in_hand():
    checker = DeliveryChecker()
    base = {"group": "g", "consumer": "c1", "topic": "t", "partition": 0}
    checker.feed([
        {"seq": 1, "t_ms": 0, "type": "record.produced", "topic": "t", "partition": 0,
         "offset": 0, "high_watermark": 1},
        {"seq": 2, "t_ms": 0, "type": "partition.assigned", "group": "g", "consumer": "c1",
         "partitions": [["t", 0]]},
        {"seq": 3, "t_ms": 0, "type": "record.delivered", **base, "offset": 0, "attempt": 1},
        {"seq": 4, "t_ms": 0, "type": "record.processed", **base, "offset": 0, "attempt": 1},
    ])
    with pytest.raises(InvariantViolation, match="does not hold"):
        checker.check({"seq": 5, "t_ms": 1, "type": "record.delivered", **base, "offset": 0,
                       "attempt": 2})


def test_a_delivery_run_replays_byte_for_byte():
    rec = started(partitions=2, processing_ms={"min": 0, "max": 30}, failure_rate=0.2,
                  fail_keys=["k3"], group_config={"retry_mode": "topics"})
    rec.apply({"type": "producer.add", "id": "p", "topic": "t", "rate_per_s": 50,
               "keys": {"kind": "uniform", "prefix": "k", "count": 8}})
    rec.advance(5_000)
    rec.apply({"type": "consumer.add", "group": "g", "id": "c2", "topics": ["t"],
               "hangs": True})
    rec.advance(20_000)
    cluster = rec.cluster
    _, replayed = replay(7, 3, cluster.command_log, until_ms=cluster.now_ms)
    mine = [e for e in rec.events]
    assert json.dumps(replayed[-len(mine):]) == json.dumps(mine)


def test_a_dead_letter_waits_while_its_partition_is_offline_and_is_published_once():
    rec = DeliveryRecorder(cluster_with_topic(name="t", partitions=1, rf=3, brokers=3))
    rec.apply({"type": "topic.create", "name": "t-dlt", "partitions": 1,
               "replication_factor": 1})
    leader = rec.cluster.snapshot()["topics"]["t-dlt"]["partitions"][0]["leader"]
    rec.apply({"type": "group.configure", "group": "g", "max_attempts": 1,
               "retry_backoff_max_ms": 2_000})
    rec.apply({"type": "consumer.add", "group": "g", "id": "c1", "topics": ["t"],
               "fail_keys": ["bad"]})
    rec.advance(3_000)
    rec.apply({"type": "broker.stop", "broker": leader, "mode": "clean"})
    rec.advance(1_000)
    produce(rec, "bad")
    produce(rec, "good")
    rec.advance(10_000)
    failed_sends = [e for e in rec.of_type("produce.failed") if e["topic"] == "t-dlt"]
    assert len(failed_sends) >= 2 and all(not e["will_retry"] for e in failed_sends)
    assert all(e["cause"]["topic"] == "t" for e in failed_sends)
    assert rec.of_type("record.dead_lettered") == []
    assert rec.of_type("record.processed") == []  # the consumer holds the poison record
    consumer = rec.cluster.snapshot()["groups"]["g"]["consumers"]["c1"]
    assert consumer["in_flight"]["phase"] == "publish"
    rec.apply({"type": "broker.start", "broker": leader})
    rec.advance(30_000)
    assert [e["dead_letter_offset"] for e in rec.of_type("record.dead_lettered")] == [0]
    assert [e["offset"] for e in rec.of_type("record.processed")] == [1]
    assert rec.unresolved() == []


# -- dead letters never loop ----------------------------------------------------------------------

class _Hang(Exception):
    pass


def _bounded(seconds, run):
    """Run `run()`, failing instead of hanging if it spins at one virtual instant."""
    import signal

    def on_alarm(*_):
        raise _Hang(f"still running after {seconds} s of wall time")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        return run()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_record_read_from_a_dlt_is_dead_lettered_after_its_own_topic_not_its_headers():
    # The group reads t and t-dlt: t's dead letter lands in t-dlt, fails there too, and goes
    # to t-dlt-dlt (named after the topic it was consumed from), not back into t-dlt.
    rec = DeliveryRecorder(cluster_with_topic(name="t", partitions=1, brokers=1))
    rec.apply({"type": "consumer.add", "group": "g", "topics": ["t", "t-dlt"],
               "failure_rate": 1})
    rec.apply({"type": "group.configure", "group": "g", "max_attempts": 1})
    rec.advance(5_000)
    produce(rec, "k")
    _bounded(10, lambda: rec.advance(1_000))
    dead = [(e["topic"], e["dead_letter_topic"]) for e in rec.of_type("record.dead_lettered")]
    assert dead == [("t", "t-dlt"), ("t-dlt", "t-dlt-dlt")]
    assert rec.unresolved() == []


def test_a_user_record_with_dlt_headers_is_dead_lettered_after_the_topic_it_was_read_from():
    rec = started(group_config={"max_attempts": 1}, failure_rate=1)
    rec.apply({"type": "produce", "topic": "t", "value": "v",
               "headers": {"kafka_dlt-original-topic": "elsewhere",
                           "kafka_dlt-original-partition": "0",
                           "kafka_dlt-original-offset": "5",
                           "kafka_dlt-original-timestamp": "0"}})
    rec.advance(1_000)
    (dead,) = rec.of_type("record.dead_lettered")
    assert dead["dead_letter_topic"] == "t-dlt" and "original" not in dead
    assert "elsewhere" not in rec.cluster.topics


def test_a_dead_letter_topic_that_is_one_of_the_groups_retry_topics_is_refused():
    c = cluster_with_topic(name="t", partitions=1, brokers=1)
    c.apply({"type": "group.configure", "group": "g", "retry_mode": "topics", "max_attempts": 2,
             "retry_backoff_ms": 0, "dead_letter_topic": "t-retry-1"})
    with pytest.raises(CommandError) as refused:
        c.apply({"type": "consumer.add", "group": "g", "topics": ["t"], "failure_rate": 1})
    assert refused.value.field == "topics[0]" and "t-retry-1" in str(refused.value)
    c.apply({"type": "group.configure", "group": "g", "dead_letter_topic": None})
    c.apply({"type": "consumer.add", "group": "g", "topics": ["t"], "failure_rate": 1})
    with pytest.raises(CommandError) as refused:
        c.apply({"type": "group.configure", "group": "g", "dead_letter_topic": "t-retry-1"})
    assert refused.value.field == "dead_letter_topic"
    assert c.groups["g"].config["dead_letter_topic"] is None


def test_dead_letter_topics_that_close_a_cycle_across_groups_are_refused():
    c = cluster_with_topic(name="t", partitions=1, brokers=1)
    c.apply({"type": "topic.create", "name": "u"})
    c.apply({"type": "group.configure", "group": "a", "max_attempts": 1,
             "dead_letter_topic": "u"})
    c.apply({"type": "consumer.add", "group": "a", "topics": ["t"], "failure_rate": 1})
    c.apply({"type": "group.configure", "group": "b", "max_attempts": 1,
             "dead_letter_topic": "t"})
    with pytest.raises(CommandError) as refused:
        c.apply({"type": "consumer.add", "group": "b", "topics": ["u"], "failure_rate": 1})
    assert refused.value.field == "topics" and "'t' -> 'u' -> 't'" in str(refused.value)
    assert "b" not in {g for g, grp in c.groups.items() if grp.members}


@pytest.mark.parametrize("route", ["default name", "named", "retry topic", "two groups"])
def test_a_group_consuming_its_own_dead_letters_by_any_route_is_refused_or_terminates(route):
    c = cluster_with_topic(name="t", partitions=1, brokers=1)
    c.apply({"type": "topic.create", "name": "u"})
    fast = {"max_attempts": 2, "retry_backoff_ms": 0}
    commands = {
        "default name": [{"type": "group.configure", "group": "g", **fast},
                         {"type": "consumer.add", "group": "g", "topics": ["t", "t-dlt"],
                          "failure_rate": 1}],
        "named": [{"type": "consumer.add", "group": "g", "topics": ["t"], "failure_rate": 1},
                  {"type": "group.configure", "group": "g", **fast, "dead_letter_topic": "t"}],
        "retry topic": [{"type": "consumer.add", "group": "g", "topics": ["t"],
                         "failure_rate": 1},
                        {"type": "group.configure", "group": "g", **fast,
                         "retry_mode": "topics", "dead_letter_topic": "t-retry-1"}],
        "two groups": [{"type": "group.configure", "group": "g", **fast,
                        "dead_letter_topic": "u"},
                       {"type": "consumer.add", "group": "g", "topics": ["t"],
                        "failure_rate": 1},
                       {"type": "consumer.add", "group": "h", "topics": ["u"],
                        "failure_rate": 1},
                       {"type": "group.configure", "group": "h", **fast,
                        "dead_letter_topic": "t"}],
    }[route]
    refused = False
    for command in commands:
        try:
            c.apply(command)
        except CommandError:
            refused = True
    c.advance(5_000)
    events = _bounded(10, lambda: c.apply({"type": "produce", "topic": "t", "value": "v"})
                      + c.advance(60_000))
    assert refused or route == "default name"
    assert len(of_type(events, "record.dead_lettered")) <= 4


# -- headers anyone can write are never trusted -------------------------------------------------

BAD_DLT_HEADERS = [
    {"kafka_dlt-original-topic": "t"},
    {"kafka_dlt-original-topic": "t", "kafka_dlt-original-partition": "x",
     "kafka_dlt-original-offset": "0", "kafka_dlt-original-timestamp": "0"},
    {"kafka_dlt-original-topic": "t", "kafka_dlt-original-partition": "-1",
     "kafka_dlt-original-offset": "1e3", "kafka_dlt-original-timestamp": None,
     "retry_topic-attempts": "zero", "retry_topic-backoff-timestamp": "9" * 5000},
]


@pytest.mark.parametrize("headers", BAD_DLT_HEADERS)
@pytest.mark.parametrize("into", ["t", "t-retry-1"])
def test_malformed_delivery_headers_never_crash_the_model(headers, into):
    rec = started(group_config={"retry_mode": "topics", "max_attempts": 2,
                                "retry_backoff_ms": 10, "message_timeout_ms": 60_000},
                  failure_rate=1)
    rec.apply({"type": "produce", "topic": into, "value": "v", "headers": headers})
    rec.advance(10_000)
    (dead,) = rec.of_type("record.dead_lettered")
    # Read from its own retry topic or not, a record whose headers the model did not write
    # stands for itself; the retry topic alone says which attempt it is and where it goes.
    assert dead["dead_letter_topic"] == "t-dlt"
    assert [e["attempt"] for e in rec.of_type("record.delivered")] == (
        [1, 2] if into == "t" else [2])
    assert rec.unresolved() == []


def test_a_retry_record_whose_due_header_is_far_off_waits_at_most_the_longest_back_off():
    rec = started(group_config={"retry_mode": "topics", "max_attempts": 2})
    rec.apply({"type": "produce", "topic": "t-retry-1", "value": "v",
               "headers": {"retry_topic-backoff-timestamp": str(10**17)}})
    rec.advance(DAY_MS + 1_000)
    assert [e["topic"] for e in rec.of_type("record.processed")] == ["t-retry-1"]


def test_dead_letter_replay_skips_records_with_foreign_headers_and_says_why():
    c = cluster_with_topic(name="t", partitions=2, brokers=1)
    c.apply({"type": "topic.create", "name": "d"})
    for p in ("x", "-1", "1"):
        c.apply({"type": "produce", "topic": "d", "value": f"v{p}",
                 "headers": {"kafka_dlt-original-topic": "t",
                             "kafka_dlt-original-partition": p}})
    c.apply({"type": "produce", "topic": "d", "value": "v",
             "headers": {"kafka_dlt-original-topic": "no/such",
                         "kafka_dlt-original-partition": "0"}})
    c.advance(1)
    events = c.apply({"type": "dead_letter.replay", "topic": "d"})
    written = [(e["topic"], e["partition"], e["value"]) for e in of_type(events,
                                                                        "record.produced")]
    assert written == [("t", 1, "v1")]
    (done,) = of_type(events, "dead_letter.replayed")
    assert (done["replayed"], done["skipped"]) == (1, 3)
    assert done["skipped_reasons"] == {
        "kafka_dlt-original-partition is missing or not a partition number": 2,
        "kafka_dlt-original-topic is not a topic name": 1}


def test_the_cli_runs_a_scenario_with_malformed_dlt_headers_without_a_traceback(tmp_path):
    import subprocess
    import sys
    scenario = {"brokers": 1, "timeline": [
        {"at_ms": 0, "command": {"type": "topic.create", "name": "d"}},
        {"at_ms": 0, "command": {"type": "produce", "topic": "d", "value": "v",
                                 "headers": {"kafka_dlt-original-topic": "d",
                                             "kafka_dlt-original-partition": "zero"}}},
        {"at_ms": 10, "command": {"type": "dead_letter.replay", "topic": "d"}}]}
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))
    run = subprocess.run([sys.executable, "-m", "broker_core", "run", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert "Traceback" not in run.stderr
    assert run.returncode in (0, 2)


# -- records waiting in retry topics are never stranded -----------------------------------------

@pytest.mark.parametrize("change", [{"retry_mode": "blocking"}, {"max_attempts": 1}])
def test_leaving_retry_topics_that_still_hold_records_is_refused_until_they_drain(change):
    rec = started(group_config={"retry_mode": "topics", "retry_backoff_ms": 60_000},
                  fail_keys=["bad"])
    produce(rec, "bad")
    rec.advance(1_000)  # forwarded to t-retry-1, due in 60 s
    before = dict(rec.cluster.groups["g"].config)
    with pytest.raises(CommandError) as refused:
        rec.apply({"type": "group.configure", "group": "g", **change})
    assert refused.value.field == next(iter(change)) and "'t-retry-1' (1)" in str(refused.value)
    assert rec.cluster.groups["g"].config == before
    rec.advance(DAY_MS)  # the record goes on: t-retry-1, t-retry-2, then the DLT
    assert [e["topic"] for e in rec.of_type("record.dead_lettered")] == ["t-retry-2"]
    rec.apply({"type": "group.configure", "group": "g", **change})
    assert rec.cluster.groups["g"].members["c1"].topics == ["t"]
    assert rec.unresolved() == []


def test_the_checker_follows_a_record_into_its_retry_topic():
    # A retry copy that nobody reads (its retry topic dropped from the subscription behind the
    # model's back) leaves the original unfinished, whatever the source partition committed.
    rec = started(group_config={"retry_mode": "topics", "retry_backoff_ms": 60_000},
                  fail_keys=["bad"])
    produce(rec, "bad")
    rec.advance(1_000)
    group = rec.cluster.groups["g"]
    group.config["retry_mode"] = "blocking"
    group.resubscribe()
    rec.advance(DAY_MS)
    assert rec.unresolved() == ["g: t/0 offset 0 was forwarded to t-retry-1/0 offset 0, which "
                                "was never processed, dead-lettered or announced expired"]


# -- a dead-letter topic that cannot be created fails visibly -------------------------------------

def test_a_dead_letter_topic_whose_name_would_collide_is_refused_when_the_consumer_joins():
    c = Cluster(seed=1, brokers=1)
    c.apply({"type": "topic.create", "name": "a.b"})
    c.apply({"type": "topic.create", "name": "a_b-dlt"})
    with pytest.raises(CommandError) as refused:
        c.apply({"type": "consumer.add", "group": "g", "topics": ["a.b"]})
    assert refused.value.field == "topics[0]" and "'a_b-dlt'" in str(refused.value)
    c.apply({"type": "group.configure", "group": "g", "dead_letter_topic": "errors"})
    c.apply({"type": "consumer.add", "group": "g", "topics": ["a.b"]})
    with pytest.raises(CommandError) as refused:
        c.apply({"type": "group.configure", "group": "g", "dead_letter_topic": None})
    assert refused.value.field == "dead_letter_topic"
    c.apply({"type": "topic.create", "name": "a_b-retry-1"})
    with pytest.raises(CommandError) as refused:
        c.apply({"type": "group.configure", "group": "g", "retry_mode": "topics"})
    assert refused.value.field == "retry_mode"


def test_a_dead_letter_topic_that_became_impossible_drops_the_record_visibly_and_moves_on():
    rec = DeliveryRecorder(Cluster(seed=1, brokers=1))
    rec.apply({"type": "topic.create", "name": "a.b"})
    rec.apply({"type": "consumer.add", "group": "g", "topics": ["a.b"], "fail_keys": ["bad"]})
    rec.apply({"type": "group.configure", "group": "g", "max_attempts": 1})
    rec.advance(5_000)
    rec.apply({"type": "topic.create", "name": "a_b-dlt"})  # after the consumer joined
    rec.apply({"type": "produce", "topic": "a.b", "key": "bad", "value": "v"})
    rec.apply({"type": "produce", "topic": "a.b", "key": "good", "value": "v2"})
    rec.advance(1_000)
    (failed,) = [e for e in rec.of_type("produce.failed") if e["topic"] == "a.b-dlt"]
    assert (failed["error"], failed["retriable"]) == ("INVALID_TOPIC_EXCEPTION", False)
    assert "a_b-dlt" in failed["message"] and failed["cause"]["offset"] == 0
    (dropped,) = rec.of_type("record.dropped")
    assert (dropped["offset"], dropped["dead_letter_topic"]) == (0, "a.b-dlt")
    assert [e["offset"] for e in rec.of_type("record.processed")] == [1]
    assert rec.cluster.snapshot()["groups"]["g"]["lag"][0]["lag"] == 0
    before = rec.cluster.clock.actions_run
    rec.advance(DAY_MS)
    assert rec.cluster.clock.actions_run - before <= 5
    assert rec.unresolved() == []


def test_a_dead_letter_held_for_an_offline_dlt_costs_a_few_clock_actions_a_day():
    rec = DeliveryRecorder(cluster_with_topic(name="t", partitions=1, rf=1, brokers=2))
    rec.apply({"type": "topic.create", "name": "t-dlt", "partitions": 1,
               "replication_factor": 1})
    leader = rec.cluster.snapshot()["topics"]["t-dlt"]["partitions"][0]["leader"]
    other = 3 - leader
    rec.apply({"type": "group.configure", "group": "g", "max_attempts": 1})
    rec.apply({"type": "consumer.add", "group": "g", "id": "c1", "topics": ["t"],
               "fail_keys": ["bad"]})
    rec.advance(3_000)
    rec.apply({"type": "broker.stop", "broker": leader, "mode": "clean"})
    rec.advance(60_000)
    baseline = Cluster(seed=7, brokers=2)  # the same outage with nobody holding a record
    baseline.apply({"type": "broker.stop", "broker": other, "mode": "clean"})
    baseline.advance(60_000)
    held_before, idle_before = rec.cluster.clock.actions_run, baseline.clock.actions_run
    rec.apply({"type": "produce", "topic": "t", "key": "bad", "value": "v", "partition": 0})
    rec.advance(DAY_MS)
    baseline.advance(DAY_MS)
    extra = ((rec.cluster.clock.actions_run - held_before)
             - (baseline.clock.actions_run - idle_before))
    tries = [e for e in rec.of_type("produce.failed") if e["topic"] == "t-dlt"]
    assert extra <= 40 and len(tries) <= 40
    rec.apply({"type": "broker.start", "broker": leader})
    rec.advance(3_600_000)  # the next try comes within the longest wait, an hour
    assert [e["dead_letter_offset"] for e in rec.of_type("record.dead_lettered")] == [0]


# -- what the page is told about delivery topics --------------------------------------------------

def test_the_snapshot_names_dead_letter_and_retry_topics_by_the_groups_policy_not_their_names():
    rec = started(partitions=2, fail_keys=["bad"],
                  group_config={"retry_mode": "topics", "dead_letter_topic": "all-failures"})
    produce(rec, "bad", partition=1)
    rec.advance(60_000)
    assert rec.of_type("record.dead_lettered")
    assert rec.cluster.snapshot()["delivery_topics"] == {
        "all-failures": {"kind": "dead_letter", "source": "t", "groups": ["g"]},
        "t-retry-1": {"kind": "retry", "source": "t", "groups": ["g"]},
        "t-retry-2": {"kind": "retry", "source": "t", "groups": ["g"]},
    }


def test_a_topic_named_like_a_dead_letter_topic_is_not_one_unless_a_group_writes_there():
    rec = started()
    rec.apply({"type": "topic.create", "name": "orders-dlt", "partitions": 1,
               "replication_factor": 1})
    assert rec.cluster.snapshot()["delivery_topics"] == {}
